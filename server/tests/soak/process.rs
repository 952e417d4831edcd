//! The `server` binary as a child process: started with chosen flags, observed through `/proc`,
//! stopped with SIGTERM or SIGKILL.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{self, RecvTimeoutError},
    },
    time::{Duration, Instant},
};

use rustix::process::{Pid, Signal, kill_process};

/// How long a server may take to log that it is listening (a loaded machine, a debug build).
const START_DEADLINE: Duration = Duration::from_secs(20);

/// Log lines kept for a failure message.
const LOG_LINES: usize = 200;

/// A port that was free a moment ago, for a server that must come back on the same port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A running `server`; SIGKILLed when dropped.
pub struct ServerProcess {
    /// `None` once `terminate` has taken it to wait for it.
    child: Option<Child>,
    pid: u32,
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts the server on `127.0.0.1:port` (0: any free port) with `args`, and returns once it
    /// logs that it is listening.
    pub fn start(port: u16, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .args(["--static-dir", "/nonexistent-pingstream-dist"])
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,server::startup=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        // Only the flags above configure it, whatever this shell exports.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PINGSTREAM_") {
                command.env_remove(name);
            }
        }
        let mut child = command.spawn().expect("the server binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let thread_log = Arc::clone(&log);
        // Keeps reading so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let port = line
                        .split_whitespace()
                        .find_map(|word| word.strip_prefix("port=")?.parse::<u16>().ok());
                    let _ = port_tx.send(port);
                }
                let mut log = thread_log.lock().unwrap_or_else(|err| err.into_inner());
                if log.len() < LOG_LINES {
                    log.push(line);
                }
            }
        });
        let mut server = Self {
            pid: child.id(),
            child: Some(child),
            port,
            log,
        };
        match port_rx.recv_timeout(START_DEADLINE) {
            Ok(Some(bound)) => server.port = bound,
            Ok(None) => panic!("no port in the listening line:\n{}", server.log()),
            Err(RecvTimeoutError::Timeout) => {
                panic!("not listening after {START_DEADLINE:?}:\n{}", server.log())
            }
            Err(RecvTimeoutError::Disconnected) => panic!(
                "the server stopped before listening ({:?}):\n{}",
                server.child.as_mut().map(Child::try_wait),
                server.log()
            ),
        }
        server
    }

    /// What the server logged so far (the first lines).
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(|err| err.into_inner())
            .join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Resident memory in KiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line")
    }

    /// Open file descriptors (entries of `/proc/<pid>/fd`).
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .expect("the server's /proc fd folder")
            .count()
    }

    /// Polls until the server has `expected` descriptors; returns how long that took, or the count
    /// it still had at the deadline.
    pub async fn wait_for_fds(
        &self,
        expected: usize,
        deadline: Duration,
    ) -> Result<Duration, usize> {
        let started = Instant::now();
        loop {
            let fds = self.fds();
            if fds == expected {
                return Ok(started.elapsed());
            }
            if started.elapsed() > deadline {
                return Err(fds);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.pid()).expect("a pid fits i32"))
            .expect("a child's pid is positive");
        kill_process(pid, signal).expect("the signal reaches the server");
    }

    /// Sends SIGTERM and returns how long the process took to exit (waited for on a thread that
    /// does nothing else, so the figure is the server's, not this test's scheduling), and its
    /// exit status.
    pub async fn terminate(mut self) -> (Duration, std::process::ExitStatus) {
        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
        let mut child = self.child.take().expect("the server runs");
        let waiter = std::thread::spawn(move || {
            let status = child.wait();
            let _ = exit_tx.send((Instant::now(), status));
        });
        let sent = Instant::now();
        self.signal(Signal::TERM);
        let (exited, status) = exit_rx.await.expect("the waiter reports");
        let _ = waiter.join();
        (
            exited.duration_since(sent),
            status.expect("the server is reaped"),
        )
    }

    /// Kills the server with SIGKILL (no shutdown, no goodbye to its streams) and reaps it.
    pub fn kill(mut self) {
        self.signal(Signal::KILL);
        if let Some(child) = self.child.as_mut() {
            child.wait().expect("the killed server is reaped");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Already gone after `kill`; these then fail harmlessly.
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

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
