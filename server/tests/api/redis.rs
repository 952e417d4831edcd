//! Scale-out through Redis: replicas are real `server` processes sharing a real `redis-server`
//! that each test starts on a free port. Without `redis-server` installed these tests fail with
//! a message saying so (CI installs it through `scripts/setup.sh`); they are never skipped.

use std::{
    io::{Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::Utc;
use rustix::process::Signal;
use tempfile::TempDir;

use crate::{
    helpers::{Received, TestApp, assert_consecutive},
    support::{ServerProcess, eventually, free_port},
};

/// Tick period of the test clusters.
const INTERVAL: Duration = Duration::from_millis(100);
/// Lease of the test clusters: short, so failover tests are quick.
const LEASE: Duration = Duration::from_millis(1000);

/// A `redis-server` on a free loopback port, persisting every write to its own folder (so a
/// restart keeps the stream, as a production Redis with AOF would). Killed when dropped.
pub(crate) struct RedisServer {
    pub(crate) port: u16,
    dir: TempDir,
    /// Arguments beyond the address and persistence.
    extra: Vec<String>,
    process: Option<Child>,
}

impl RedisServer {
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// [`RedisServer::start`] with `extra` arguments (e.g. `--replicaof HOST PORT`), which
    /// every restart keeps.
    pub(crate) fn start_with(extra: &[&str]) -> Self {
        let mut redis = Self {
            port: free_port(),
            dir: tempfile::tempdir().expect("temporary folder"),
            extra: extra.iter().map(|arg| (*arg).to_owned()).collect(),
            process: None,
        };
        redis.restart();
        redis
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and folder, and waits until it answers `PING`.
    fn restart(&mut self) {
        assert!(self.process.is_none(), "redis-server is running already");
        let process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start redis-server ({err}): the Redis tests need it installed; \
                     `scripts/setup.sh` installs it (apt-get install redis-server)"
                )
            });
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers_ping() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it and starts it again without its data, as a Redis without persistence would.
    fn restart_empty(&mut self) {
        self.kill();
        self.dir = tempfile::tempdir().expect("temporary folder");
        self.restart();
    }

    /// Sends `signal` to it: SIGSTOP freezes it (connections stay open, nothing is answered,
    /// as a Redis stuck on a slow disk), SIGCONT thaws it.
    pub(crate) fn signal(&self, signal: Signal) {
        let process = self.process.as_ref().expect("redis-server is running");
        let pid = rustix::process::Pid::from_raw(i32::try_from(process.id()).expect("a pid"))
            .expect("a pid is positive");
        rustix::process::kill_process(pid, signal).expect("the signal reaches redis-server");
    }

    /// Kills it outright (SIGKILL), as a crash or a lost machine would.
    pub(crate) fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
        let mut reply = [0; 7];
        // A Redis with a password answers -NOAUTH: it is up all the same.
        conn.write_all(b"PING\r\n").is_ok()
            && conn.read_exact(&mut reply).is_ok()
            && (&reply == b"+PONG\r\n" || &reply == b"-NOAUTH")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `server` process in cluster mode ([`ServerProcess`]: SIGTERM, SIGKILL and SIGSTOP go to
/// it), reached through the usual [`TestApp`] methods.
pub(crate) struct Replica {
    pub(crate) process: ServerProcess,
    pub(crate) app: TestApp,
}

impl Replica {
    fn start(redis: &RedisServer) -> Self {
        Self::start_with(redis, &[])
    }

    /// A replica of the cluster on `redis`, with `extra` flags.
    pub(crate) fn start_with(redis: &RedisServer, extra: &[&str]) -> Self {
        let url = redis.url();
        Self::start_on(&["--redis-url", &url], extra)
    }

    /// A replica that finds the master through `sentinels` (`host:port,...`) under `master`.
    pub(crate) fn start_sentinel(sentinels: &str, master: &str, extra: &[&str]) -> Self {
        Self::start_on(
            &["--redis-sentinel", sentinels, "--redis-master-name", master],
            extra,
        )
    }

    /// A replica of the test clusters' timing reaching Redis as `redis` says, with `extra` flags.
    fn start_on(redis: &[&str], extra: &[&str]) -> Self {
        let interval = INTERVAL.as_millis().to_string();
        let lease = LEASE.as_millis().to_string();
        let mut args = redis.to_vec();
        args.extend_from_slice(&[
            "--interval-ms",
            &interval,
            "--lease-ms",
            &lease,
            "--workers",
            "1",
        ]);
        args.extend_from_slice(extra);
        let process = ServerProcess::start(0, &args);
        Self {
            app: process.app(),
            process,
        }
    }

    /// Kills the process outright (SIGKILL): no lease given back, nothing cleaned up.
    fn crash(&self) {
        self.process.signal(Signal::KILL);
    }

    async fn is_lease_holder(&self) -> bool {
        self.app.metric("pingstream_lease_holder").await == 1
    }

    /// Polls `/healthz` until its status is `expected`, or panics after `deadline`.
    async fn wait_for_status(&self, expected: &str, deadline: Duration) {
        eventually(deadline, async || match self.app.health_status().await {
            status if status == expected => Ok(()),
            status => Err(status),
        })
        .await
        .unwrap_or_else(|status| {
            panic!(
                "status {status:?} after {deadline:?}, expected {expected:?}\n{}",
                self.log()
            )
        });
    }

    fn log(&self) -> String {
        self.process.log()
    }
}

/// Two replicas of one cluster, and which of them ticks once one does.
fn two_replicas(redis: &RedisServer) -> (Replica, Replica) {
    (Replica::start(redis), Replica::start(redis))
}

/// The replica that holds the lease, then the other, once one does.
async fn holder_and_other<'a>(a: &'a Replica, b: &'a Replica) -> (&'a Replica, &'a Replica) {
    eventually(LEASE * 3, async || {
        match (a.is_lease_holder().await, b.is_lease_holder().await) {
            (true, false) => Ok((a, b)),
            (false, true) => Ok((b, a)),
            (true, true) => panic!("two lease holders"),
            (false, false) => Err(()),
        }
    })
    .await
    .expect("somebody takes the lease")
}

#[tokio::test]
async fn a_client_that_moves_to_another_replica_gets_exactly_the_missed_events() {
    let redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let mut on_a = a.app.open_stream(None).await;
    let seen = on_a.take_pings(5).await;
    drop(on_a);
    // Pings go by while the client is away.
    tokio::time::sleep(INTERVAL * 8).await;
    let last = &seen[4];
    let mut on_b = b.app.open_stream(Some(&last.id.to_string())).await;
    let resumed = on_b.take_pings(12).await;
    assert_eq!(resumed[0].id.epoch, last.id.epoch);
    assert_eq!(resumed[0].id.seq, last.id.seq + 1, "gap or repeat");
    let all: Vec<Received> = seen.into_iter().chain(resumed).collect();
    assert_consecutive(&all);
    assert!(b.app.metric("pingstream_events_replayed_total").await >= 7);
}

#[tokio::test]
async fn moving_the_instant_a_ping_arrives_neither_gaps_nor_repeats() {
    // The other replica may not have read the newest entry yet when the client arrives with
    // its id: it must wait for it, not take the id for one from the future.
    let redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let mut replicas = [&a, &b];
    let mut stream = a.app.open_stream(None).await;
    let mut all = vec![stream.next_ping().await];
    for _ in 0..20 {
        all.push(stream.next_ping().await);
        replicas.reverse();
        let last = all.last().expect("a ping").id.to_string();
        stream = replicas[0].app.open_stream(Some(&last)).await;
    }
    all.extend(stream.take_pings(3).await);
    assert_consecutive(&all);
}

#[tokio::test]
async fn both_replicas_deliver_identical_id_sequences() {
    let redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let start = a
        .app
        .open_stream(None)
        .await
        .next_ping()
        .await
        .id
        .to_string();
    let mut on_a = a.app.open_stream(Some(&start)).await;
    let mut on_b = b.app.open_stream(Some(&start)).await;
    let from_a = on_a.take_pings(20).await;
    let from_b = on_b.take_pings(20).await;
    assert_consecutive(&from_a);
    for (x, y) in from_a.iter().zip(&from_b) {
        assert_eq!((x.id, x.ping), (y.id, y.ping));
    }
}

#[tokio::test]
async fn killing_the_lease_holder_hands_the_ticker_over_within_two_leases() {
    let redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let (holder, other) = holder_and_other(&a, &b).await;
    let mut on_other = other.app.open_stream(None).await;
    let mut all = on_other.take_pings(3).await;
    let killed_at = Utc::now();
    holder.crash();
    // Pings published before the crash may still be on their way; the first published after it
    // comes from the new holder.
    let first_after = loop {
        let ping = on_other
            .next_ping_within(LEASE * 3)
            .await
            .unwrap_or_else(|| panic!("no ticker after the holder died\n{}", other.log()));
        all.push(ping.clone());
        if ping.ping.time > killed_at {
            break ping;
        }
    };
    let failover = (first_after.ping.time - killed_at)
        .to_std()
        .expect("after the crash");
    println!("failover with a {LEASE:?} lease: {failover:?} from SIGKILL to the next ping");
    assert!(failover < LEASE * 2, "took {failover:?}\n{}", other.log());
    all.extend(on_other.take_pings(5).await);
    assert_consecutive(&all);
    assert!(other.is_lease_holder().await);
}

#[tokio::test]
async fn while_redis_is_down_healthz_says_degraded_and_clients_stay_connected() {
    let mut redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let mut on_a = a.app.open_stream(None).await;
    on_a.take_pings(2).await;
    assert_eq!(a.app.health_status().await, "ok");
    redis.kill();
    a.wait_for_status("degraded", LEASE * 3).await;
    b.wait_for_status("degraded", LEASE * 3).await;
    // Streams stay open (next_ping_within panics if one ends); a newcomer is let in too.
    let mut newcomer = b.app.open_stream(None).await;
    tokio::time::sleep(LEASE * 2).await;
    while on_a.next_ping_within(Duration::ZERO).await.is_some() {}
    assert!(on_a.next_ping_within(INTERVAL * 3).await.is_none());
    newcomer.next_ping_within(INTERVAL).await;
    assert_eq!(a.app.connected_clients().await, 1);
    assert_eq!(b.app.connected_clients().await, 1);
    assert!(a.log().contains("Redis trouble"), "{}", a.log());
}

#[tokio::test]
async fn after_a_redis_restart_replicas_recover_and_the_stream_goes_on() {
    let mut redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let mut on_a = a.app.open_stream(None).await;
    let mut all = on_a.take_pings(3).await;
    redis.kill();
    a.wait_for_status("degraded", LEASE * 3).await;
    tokio::time::sleep(LEASE).await;
    redis.restart();
    a.wait_for_status("ok", LEASE * 5).await;
    b.wait_for_status("ok", LEASE * 5).await;
    // Every ping Redis stored reaches the client that stayed connected, in order, and new ones
    // follow: the count lives in Redis and went on from where it was.
    all.extend(on_a.take_pings(10).await);
    assert_consecutive(&all);
    let last = all.last().expect("pings").id.to_string();
    let mut on_b = b.app.open_stream(Some(&last)).await;
    let next = on_b.next_ping().await;
    assert_eq!(next.id.seq, all.last().expect("pings").id.seq + 1);
}

#[tokio::test]
async fn the_count_goes_on_when_every_replica_is_replaced() {
    let redis = RedisServer::start();
    let first = Replica::start(&redis);
    let mut stream = first.app.open_stream(None).await;
    let seen = stream.take_pings(3).await;
    drop(stream);
    let (_, status) = first.process.terminate().await;
    assert!(status.success(), "the first replica exited with {status}");
    // The stopped replica gave its lease back: the next one ticks at once.
    let second = Replica::start(&redis);
    let last = seen[2].id.to_string();
    let mut stream = second.app.open_stream(Some(&last)).await;
    let resumed = stream.take_pings(5).await;
    let all: Vec<Received> = seen.into_iter().chain(resumed).collect();
    assert_consecutive(&all);
}

#[tokio::test]
async fn when_redis_comes_back_without_its_data_the_replicas_start_a_new_run() {
    let mut redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let mut on_a = a.app.open_stream(None).await;
    let before = on_a.take_pings(3).await;
    redis.restart_empty();
    // The client stays connected and is sent the new run from its first ping: a new epoch,
    // counts from 1, as after a restart of a lone server.
    let first = loop {
        let ping = on_a.next_ping_within(LEASE * 5).await.expect("pings again");
        if ping.id.epoch != before[0].id.epoch {
            break ping;
        }
    };
    assert_eq!(first.id.seq, 1);
    let mut run = vec![first];
    run.extend(on_a.take_pings(5).await);
    assert_consecutive(&run);
    let mut on_b = b.app.open_stream(Some(&run[2].id.to_string())).await;
    assert_eq!(on_b.next_ping().await.id, run[3].id);
}

#[tokio::test]
async fn a_replica_started_while_redis_is_down_streams_once_redis_is_up() {
    let mut redis = RedisServer::start();
    redis.kill();
    let replica = Replica::start(&redis);
    replica.wait_for_status("degraded", LEASE * 3).await;
    let mut stream = replica.app.open_stream(None).await;
    tokio::time::sleep(LEASE).await;
    redis.restart();
    replica.wait_for_status("ok", LEASE * 5).await;
    let pings = stream.take_pings(5).await;
    assert_eq!(pings[0].id.seq, 1);
    assert_consecutive(&pings);
}

#[tokio::test]
async fn a_lease_holder_paused_past_its_lease_never_publishes_beside_its_successor() {
    let redis = RedisServer::start();
    let (a, b) = two_replicas(&redis);
    let (holder, other) = holder_and_other(&a, &b).await;
    let mut on_other = other.app.open_stream(None).await;
    let mut all = on_other.take_pings(3).await;
    // Frozen (as by a long GC pause or a stalled VM) until its lease is long gone; when it
    // wakes, its timers fire at once, but the lease is the other replica's now.
    holder.process.stop();
    tokio::time::sleep(LEASE * 2 + LEASE / 2).await;
    holder.process.resume();
    all.extend(on_other.take_pings(15).await);
    assert_consecutive(&all);
    eventually(LEASE, async || {
        if holder.is_lease_holder().await {
            Err(())
        } else {
            Ok(())
        }
    })
    .await
    .expect("the woken replica gives up its claim on the lease");
    assert!(other.is_lease_holder().await);
    assert!(
        holder
            .log()
            .contains("the ticker lease went to another replica")
            || holder
                .log()
                .contains("could not renew the ticker lease in time"),
        "{}",
        holder.log()
    );
}
