//! A `just` recipe as a terminal runs it: a child process in a process group of its own, started
//! with the recipe's port variables, watched until what it serves answers (or it stops first),
//! stopped as Ctrl-C stops it (SIGINT to the whole group), and checked to leave nothing behind.

use std::{
    collections::VecDeque,
    fmt::Debug,
    io::{BufRead, BufReader, Read},
    net::{SocketAddr, TcpStream},
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use tokio::sync::MutexGuard;

use crate::support::eventually;

/// How long a recipe may take to listen on a port. Mostly its builds: `just dev` compiles the
/// debug server and frontend, minutes on two cores with a cold cache; the release ones are up to
/// date after `just build`.
const START_DEADLINE: Duration = Duration::from_secs(600);

/// How long what a recipe started may take, once it listens, to answer as it should (a replica
/// behind Sentinel first asks the sentinels for the master).
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(20);

/// How long one look of a wait may take: a server that does not answer at all is a look that
/// failed, not a wait without end.
const PROBE_DEADLINE: Duration = Duration::from_secs(5);

/// How long a recipe may take to exit after SIGINT, everything it started included.
const STOP_DEADLINE: Duration = Duration::from_secs(20);

/// How long a process of the recipe may outlive `just` itself (one reparented while stopping).
const LEFTOVER_DEADLINE: Duration = Duration::from_secs(5);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// The last lines of the recipe's output kept for a failure message.
const LOG_LINES: usize = 200;

/// Held by each test while its recipe runs: every recipe rebuilds the release frontend into
/// `dist/` (and `just dev` its own), and two cores run one recipe's builds and servers at a time
/// well, not two.
static RECIPE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until no other test runs a recipe; the turn lasts as long as the guard.
pub async fn one_recipe_at_a_time() -> MutexGuard<'static, ()> {
    RECIPE_TURN.lock().await
}

/// The workspace's root, where the justfile is.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .canonicalize()
        .expect("the workspace's root exists")
}

/// A running `just RECIPE`. When dropped (a test that failed before stopping it), it gets Ctrl-C,
/// then SIGKILL, its whole group and whatever still names one of its ports, after
/// [`STOP_DEADLINE`].
pub struct Recipe {
    name: String,
    child: Child,
    /// Its process group: `just`'s pid, as `process_group(0)` makes it.
    group: Pid,
    /// The ports it serves on, which must be free again once it has stopped.
    ports: Vec<u16>,
    /// `just`'s exit, once reaped.
    exit: Option<ExitStatus>,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl Recipe {
    /// Runs `just ARGS`, which serves on `ports`, at the workspace's root in a process group of
    /// its own, with `env` set, no other `PINGSTREAM_*` variable of this shell (no developer's
    /// port or flag reaches it), and none of those Cargo set for this test
    /// ([`set_by_cargo_test`]).
    pub fn start(args: &[&str], env: &[(&str, String)], ports: &[u16]) -> Self {
        let mut command = Command::new("just");
        command
            .args(args)
            .current_dir(workspace_root())
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            let text = name.to_string_lossy();
            if text.starts_with("PINGSTREAM_") || set_by_cargo_test(&text) {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().map(|(name, value)| (name, value)));
        let mut child = command.spawn().unwrap_or_else(|err| {
            panic!("cannot run just (`just setup`, or cargo install just): {err}")
        });
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        keep_reading(stdout, Arc::clone(&log));
        keep_reading(stderr, Arc::clone(&log));
        let group = Pid::from_child(&child);
        Self {
            name: args.join(" "),
            child,
            group,
            ports: ports.to_vec(),
            exit: None,
            log,
        }
    }

    /// The last lines the recipe printed (stdout and stderr), for a failure message.
    pub fn log(&self) -> String {
        let log = self.log.lock().unwrap_or_else(|err| err.into_inner());
        Vec::from(log.clone()).join("\n")
    }

    /// `just`'s exit status once it has exited (reaped by this call).
    fn exited(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("just can be waited for");
        }
        self.exit
    }

    /// Polls `probe` (each look cut off after [`PROBE_DEADLINE`]) until it gives `Ok`, and
    /// returns that. Panics, with the recipe's output, if the recipe exits first (as `just dev`
    /// did when `cargo run` could not choose a binary) or once `deadline` has passed.
    pub async fn wait_for<T, E: Debug>(
        &mut self,
        what: &str,
        deadline: Duration,
        mut probe: impl AsyncFnMut() -> Result<T, E>,
    ) -> T {
        let started = Instant::now();
        loop {
            let last = match tokio::time::timeout(PROBE_DEADLINE, probe()).await {
                Ok(Ok(value)) => return value,
                Ok(Err(last)) => format!("{last:?}"),
                Err(_) => format!("no answer within {PROBE_DEADLINE:?}"),
            };
            if let Some(status) = self.exited() {
                panic!(
                    "`just {}` exited ({status}) before {what}; last: {last}\n{}",
                    self.name,
                    self.log()
                );
            }
            assert!(
                started.elapsed() < deadline,
                "no {what} after {deadline:?} of `just {}`; last: {last}\n{}",
                self.name,
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// What `step` gives, if within `deadline`; else a panic, with the recipe's output. For the
    /// steps that have no deadline of their own (a request, a page load).
    pub async fn within<T>(
        &self,
        what: &str,
        deadline: Duration,
        step: impl Future<Output = T>,
    ) -> T {
        match tokio::time::timeout(deadline, step).await {
            Ok(value) => value,
            Err(_) => panic!(
                "no {what} within {deadline:?} of `just {}`\n{}",
                self.name,
                self.log()
            ),
        }
    }

    /// Waits until something accepts connections on `127.0.0.1:port`, for [`START_DEADLINE`]:
    /// the recipe's builds come first.
    pub async fn wait_listening(&mut self, port: u16) {
        let what = format!("anything listening on port {port}");
        self.wait_for(&what, START_DEADLINE, async || {
            if is_listening(port) {
                Ok(())
            } else {
                Err("connection refused")
            }
        })
        .await;
    }

    /// Waits until `just` has exited, for at most `deadline`, running `meanwhile` (a check that
    /// panics) between looks; `None` if it still runs then.
    async fn exit_within(
        &mut self,
        deadline: Duration,
        meanwhile: impl Fn(&Self),
    ) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if started.elapsed() >= deadline {
                return None;
            }
            meanwhile(self);
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until the recipe exits by itself (one that must refuse to start), for
    /// [`START_DEADLINE`]: its builds come first. Panics, with its output, as soon as anything
    /// listens on one of `must_not_serve` (it started what it should not have), or if it still
    /// runs at the deadline.
    pub async fn wait_exited(&mut self, must_not_serve: &[u16]) -> ExitStatus {
        let serving = |recipe: &Self| {
            if let Some(port) = must_not_serve.iter().find(|port| is_listening(**port)) {
                panic!(
                    "`just {}` serves on :{port} where it should have stopped\n{}",
                    recipe.name,
                    recipe.log()
                );
            }
        };
        match self.exit_within(START_DEADLINE, serving).await {
            Some(status) => status,
            None => panic!(
                "`just {}` still runs after {START_DEADLINE:?}\n{}",
                self.name,
                self.log()
            ),
        }
    }

    /// Ctrl-C, as a terminal sends it: SIGINT to every process of the recipe's group at once.
    fn interrupt(&self) {
        // ESRCH: the group is gone already, which is what this is for.
        let _ = kill_process_group(self.group, Signal::INT);
    }

    /// Stops the recipe with Ctrl-C and checks that it exits within [`STOP_DEADLINE`] and leaves
    /// nothing behind: nothing listening on its ports, and no process of its group or naming one
    /// of its ports on its command line still running (after [`LEFTOVER_DEADLINE`] for one
    /// reparented on the way out).
    pub async fn stop_and_check(mut self) {
        self.interrupt();
        let Some(status) = self.exit_within(STOP_DEADLINE, |_| {}).await else {
            panic!(
                "`just {}` still runs {STOP_DEADLINE:?} after Ctrl-C; its processes: {:#?}\n{}",
                self.name,
                self.leftovers(),
                self.log()
            );
        };
        let left = eventually(LEFTOVER_DEADLINE, async || {
            let listening: Vec<u16> = self
                .ports
                .iter()
                .copied()
                .filter(|port| is_listening(*port))
                .collect();
            let running = self.leftovers();
            if listening.is_empty() && running.is_empty() {
                Ok(())
            } else {
                Err((listening, running))
            }
        })
        .await;
        if let Err((listening, running)) = left {
            panic!(
                "`just {}` exited ({status}) after Ctrl-C, yet {LEFTOVER_DEADLINE:?} later ports \
                 {listening:?} still listen and these still run: {running:#?}\n{}",
                self.name,
                self.log()
            );
        }
    }

    /// The processes (zombies aside) in the recipe's process group, or whose command line names
    /// one of its ports (`--port P`, `--addr 127.0.0.1:P`, Redis's retitled
    /// `redis-server 127.0.0.1:P`), as (pid, command line).
    fn leftovers(&self) -> Vec<(u32, String)> {
        let me = std::process::id();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| {
                let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let process = Process::read(pid)?;
                let ours = process.group == self.group.as_raw_nonzero().get()
                    || self.ports.iter().any(|port| process.names_port(*port));
                (pid != me && !process.zombie && ours).then(|| (pid, process.words.join(" ")))
            })
            .collect()
    }
}

impl Drop for Recipe {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.interrupt();
            let started = Instant::now();
            while self.exited().is_none() && started.elapsed() < STOP_DEADLINE {
                std::thread::sleep(POLL);
            }
        }
        let leftovers = self.leftovers();
        // By the group's id only while `just`, its leader, is not reaped, or members are left:
        // the id cannot name another group then.
        if self.exit.is_none() || !leftovers.is_empty() {
            let _ = kill_process_group(self.group, Signal::KILL);
        }
        // What left the group (a daemon, `setsid`) yet still names one of the recipe's ports.
        for (pid, _) in leftovers {
            if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
                let _ = kill_process(pid, Signal::KILL);
            }
        }
        let _ = self.child.wait();
    }
}

/// Whether `name` is one of the variables Cargo sets for the test binary it runs (the package's
/// name, version and folder, ...), which a developer's shell does not have. They must not reach
/// the recipe's own `cargo build`: ring's build script asks to rerun when `CARGO_MANIFEST_DIR` or
/// `CARGO_PKG_NAME` changes, so a build with them would rebuild ring and everything above it, and
/// the next build without them all of it again.
pub fn set_by_cargo_test(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || [
            "CARGO",
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .contains(&name)
}

/// Whether something accepts connections on `127.0.0.1:port`.
pub fn is_listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// Reads `from` line by line into `log` (its last [`LOG_LINES`]) until it ends, on a thread of its
/// own, so the recipe never blocks on a full pipe.
fn keep_reading(from: impl Read + Send + 'static, log: Arc<Mutex<VecDeque<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let mut log = log.lock().unwrap_or_else(|err| err.into_inner());
            if log.len() == LOG_LINES {
                log.pop_front();
            }
            log.push_back(line);
        }
    });
}

/// What `/proc/<pid>` says of one process.
struct Process {
    /// Its process group.
    group: i32,
    /// Exited, not yet reaped: holds no port and runs nothing.
    zombie: bool,
    /// Its command line split at NULs and spaces (a retitled process writes one line).
    words: Vec<String>,
}

impl Process {
    /// `None` if it is gone, or its entries cannot be read.
    fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses.
        let (_, fields) = stat.rsplit_once(')')?;
        let mut fields = fields.split_whitespace();
        let zombie = fields.next()? == "Z";
        let group = fields.nth(1)?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let words = String::from_utf8_lossy(&cmdline)
            .split(|c: char| c == '\0' || c.is_whitespace())
            .filter(|word| !word.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Self {
            group,
            zombie,
            words,
        })
    }

    /// Whether its command line names `port`: as a word of its own, after a `:`, or in a URL.
    fn names_port(&self, port: u16) -> bool {
        let port = port.to_string();
        let after_colon = format!(":{port}");
        let in_url = format!(":{port}/");
        self.words
            .iter()
            .any(|word| *word == port || word.ends_with(&after_colon) || word.contains(&in_url))
    }
}
