//! Talking to the `server` child process ([`ServerProcess`], shared with the browser tests) over
//! raw HTTP: `/healthz`, `/metrics`, and waits on them.

use std::time::{Duration, Instant};

pub use crate::server_process::{ServerProcess, free_port};

/// `GET path` on a fresh connection; the status and body, or an error after `wait`.
pub async fn get(port: u16, path: &str, wait: Duration) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|err| format!("connect: {err}"))?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|err| format!("write: {err}"))?;
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .map_err(|err| format!("read: {err}"))?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("no status in {text:?}"))?;
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    };
    tokio::time::timeout(wait, exchange)
        .await
        .map_err(|_| format!("no answer within {wait:?}"))?
}

/// `/healthz` as JSON.
pub async fn health(port: u16) -> serde_json::Value {
    let (status, body) = get(port, "/healthz", Duration::from_secs(10))
        .await
        .expect("healthz answers");
    assert_eq!(status, 200, "{body}");
    // The body may be chunked; the JSON object is the part between the outer braces.
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .map(|(start, end)| &body[start..=end])
        .unwrap_or(&body);
    serde_json::from_str(json).expect("healthz is JSON")
}

/// `clients` of `/healthz`.
pub async fn connected_clients(port: u16) -> u64 {
    health(port).await["clients"]
        .as_u64()
        .expect("clients is a number")
}

/// Polls `/healthz` until `clients` equals `expected`; how long that took, or the count at the
/// deadline.
pub async fn wait_for_clients(
    port: u16,
    expected: u64,
    deadline: Duration,
) -> Result<Duration, u64> {
    let started = Instant::now();
    loop {
        let clients = connected_clients(port).await;
        if clients == expected {
            return Ok(started.elapsed());
        }
        if started.elapsed() > deadline {
            return Err(clients);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The value of one metric line, e.g. `pingstream_slow_clients_dropped_total`.
pub async fn metric(port: u16, name: &str) -> u64 {
    let (_, text) = get(port, "/metrics", Duration::from_secs(10))
        .await
        .expect("metrics answer");
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Mebibytes from KiB, for figures.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
