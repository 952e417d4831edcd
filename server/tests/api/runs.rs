//! Runs of the server binary: each draws its own epoch, so that an id from one run is never taken
//! for an id of another.

use std::time::Duration;

use shared::Epoch;

use crate::support::{ServerProcess, eventually};

/// The epoch of the first ping of a server process, by `/healthz`.
async fn epoch_of(server: &ServerProcess) -> Epoch {
    let app = server.app();
    eventually(Duration::from_secs(10), async || {
        app.last_id().await.ok_or(())
    })
    .await
    .expect("a first ping")
    .epoch
}

#[tokio::test]
async fn two_runs_of_the_server_draw_different_epochs() {
    let first = ServerProcess::start(0, &[]);
    let first_epoch = epoch_of(&first).await;
    first.kill();
    let second = ServerProcess::start(0, &[]);
    let second_epoch = epoch_of(&second).await;
    assert_ne!(first_epoch, second_epoch, "a restart drew the same epoch");
}
