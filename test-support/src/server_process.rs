//! The `server` binary as a child process: started with chosen flags, observed through `/proc`,
//! signalled (SIGTERM, SIGKILL, SIGSTOP, ...), and talked to through a [`TestApp`]. For the tests
//! that need a real process: the fault suite, the Redis replicas, the browser tests.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        mpsc::{self, RecvTimeoutError},
    },
    time::{Duration, Instant},
};

use rustix::process::{Pid, Signal, kill_process};

use super::{TestApp, wait::eventually};

/// How long a server may take to log that it is listening (a loaded machine, a debug build).
const START_DEADLINE: Duration = Duration::from_secs(20);

/// Log lines kept for a failure message.
const LOG_LINES: usize = 200;

/// The `server` binary Cargo built for the running test binary: in the test binary's target
/// folder (`target/<profile>/deps/<test>` → `target/<profile>/server`), where Cargo puts a
/// package's binaries before it runs that package's integration tests (as assert_cmd finds them).
pub fn server_binary() -> std::path::PathBuf {
    let test = std::env::current_exe().expect("the test binary knows its path");
    let folder = test
        .parent()
        .and_then(Path::parent)
        .expect("a test binary lives in target/<profile>/deps");
    let server = folder.join(format!("server{}", std::env::consts::EXE_SUFFIX));
    assert!(
        server.is_file(),
        "no server binary at {}: run the server's integration tests (cargo test -p server)",
        server.display()
    );
    server
}

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
    /// The port it listens on.
    pub port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// The command that runs the server on `127.0.0.1:port` with `static_dir` and `args`, and
    /// nothing else: no `PINGSTREAM_*` variable of this shell reaches it. Its stderr (the log) is
    /// piped, its stdout discarded.
    pub fn command(static_dir: &Path, port: u16, args: &[&str]) -> Command {
        let mut command = Command::new(server_binary());
        command
            .arg("--addr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--static-dir")
            .arg(static_dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn,server::startup=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PINGSTREAM_") {
                command.env_remove(name);
            }
        }
        command
    }

    /// Starts the server on `127.0.0.1:port` (0: any free port) with `args` and no frontend, and
    /// returns once it logs that it is listening.
    pub fn start(port: u16, args: &[&str]) -> Self {
        Self::serving(Path::new("/nonexistent-pingstream-dist"), port, args)
    }

    /// [`ServerProcess::start`], serving the frontend in `static_dir`.
    pub fn serving(static_dir: &Path, port: u16, args: &[&str]) -> Self {
        Self::spawn(Self::command(static_dir, port, args), port)
    }

    /// Runs `command` (one of [`ServerProcess::command`], changed by the caller) and returns
    /// once the server logs that it is listening (on `port`, or the one it logs).
    pub fn spawn(mut command: Command, port: u16) -> Self {
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

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Its HTTP API: one method per endpoint, and waits on what they report.
    pub fn app(&self) -> TestApp {
        TestApp::at(self.port)
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
        eventually(deadline, async || match self.fds() {
            fds if fds == expected => Ok(started.elapsed()),
            fds => Err(fds),
        })
        .await
    }

    /// Sends `signal` to the server (e.g. SIGSTOP to freeze it, as a long pause would); SIGTERM
    /// and SIGKILL have their own methods, which also reap it.
    pub fn signal(&self, signal: Signal) {
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

    /// Stops the server with SIGSTOP: it runs no more, yet its kernel still completes the TCP
    /// handshakes of new connections (they wait in the listen backlog) and keeps the open ones.
    pub fn stop(&self) {
        self.signal(Signal::STOP);
    }

    /// Lets a server stopped with [`ServerProcess::stop`] run again (SIGCONT).
    pub fn resume(&self) {
        self.signal(Signal::CONT);
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
