//! The release server as a child process: started on a chosen port, killed without warning.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc::{self, TryRecvError},
    time::{Duration, Instant},
};

/// How long a server may take to log that it is listening.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// A port that was free a moment ago: bound on port 0, then released, so that a server can be
/// started on it and, after being killed, started on it again.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The built frontend, checked to be there.
pub fn dist_dir() -> PathBuf {
    let dist = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist"));
    assert!(
        dist.join("index.html").is_file(),
        "no {}/index.html: run `just build` first (it runs `trunk build --release`)",
        dist.display()
    );
    dist
}

/// A running `target/release/server`; killed with SIGKILL when dropped.
pub struct ServerProcess {
    child: Child,
    port: u16,
}

impl ServerProcess {
    /// Starts the server on `port` serving `dist/`, with browser reconnects sped up by
    /// `--retry-ms 500` and `extra_args` added; returns once it logs that it is listening.
    pub async fn start(port: u16, extra_args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        command
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--static-dir")
            .arg(dist_dir())
            .args(["--retry-ms", "500", "--workers", "2"])
            .args(extra_args)
            .env("NO_COLOR", "1")
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
        let (listening_tx, listening_rx) = mpsc::channel();
        // Keeps reading so the server never blocks on a full pipe; the lines show up in the output
        // of a failed test.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[server :{port}] {line}");
                if line.contains("listening") {
                    let _ = listening_tx.send(());
                }
            }
        });
        let mut server = Self { child, port };
        let started = Instant::now();
        loop {
            match listening_rx.try_recv() {
                Ok(()) => return server,
                Err(TryRecvError::Disconnected) => panic!(
                    "the server on port {port} stopped before listening ({:?}); its log is above",
                    server.child.try_wait()
                ),
                Err(TryRecvError::Empty) => {}
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "the server on port {port} did not log `listening` within {START_DEADLINE:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Polls `/metrics` until the counter `name` reaches `at_least`; panics after
    /// [`START_DEADLINE`].
    pub async fn wait_for_metric(&self, name: &str, at_least: u64) {
        let started = Instant::now();
        loop {
            let metrics = reqwest::get(self.url("/metrics"))
                .await
                .expect("the server answers")
                .text()
                .await
                .expect("metrics are text");
            let value = metrics
                .lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or(0);
            if value >= at_least {
                return;
            }
            assert!(
                started.elapsed() < START_DEADLINE,
                "{name} is {value} after {START_DEADLINE:?}, expected at least {at_least}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the server with SIGKILL (no shutdown, no goodbye to its streams) and reaps it.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL reaches the server");
        self.child.wait().expect("the killed server is reaped");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // Already gone after `kill`; these then fail harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
