//! Waiting with a deadline: tests poll for what they expect instead of sleeping a guessed time.

use std::time::{Duration, Instant};

/// How often [`eventually`] looks again.
pub const POLL: Duration = Duration::from_millis(10);

/// Runs `probe` every [`POLL`] until it gives `Ok`, and returns that; once `deadline` has passed,
/// returns the last `Err` it gave, which says how far things got.
///
/// ```ignore
/// let clients = eventually(Duration::from_secs(2), async || match app.connected_clients().await {
///     0 => Ok(()),
///     clients => Err(clients),
/// })
/// .await;
/// ```
pub async fn eventually<T, E>(
    deadline: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, E>,
) -> Result<T, E> {
    let started = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return Ok(value),
            Err(last) if started.elapsed() >= deadline => return Err(last),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}
