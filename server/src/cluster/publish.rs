//! The one way into the shared stream: an atomic script that gives an event the cluster's next
//! seq and appends it, whichever replica calls it and however many call it at once.
//!
//! Redis runs a script without interleaving any other command, so `INCR` of the seq, `HINCRBY`
//! of the event's topic's number and the `XADD` of the entry `<seq>-0` happen as one step: two
//! replicas publishing at once get two consecutive seqs (and, on one topic, two consecutive
//! topic numbers), never the same one and never a hole. The entry carries the event's name,
//! topic and JSON as they are; the readers relay them without decoding.

use std::time::Duration;

use shared::{Epoch, EventId, EventStamp};
use tokio::time::Instant;

use super::{keys, link::MasterLink};
use crate::{
    metrics::Metrics,
    stream::{Payload, epoch},
};

/// Appends one event: the next seq of the cluster's epoch and the next number of its topic
/// (ARGV[7]), as entry `<seq>-0` with fields `epoch`, `event` (the name), `data` (the JSON),
/// `ms` (when the publishing replica sent it, in Unix milliseconds: what the readers measure
/// their lag by), `topic` and `tseq` (the topic's number), trimmed to about the history. The
/// first publish, or the first after Redis lost its data, draws the epoch (ARGV[1]) and starts
/// the seq, the topics' numbers and the stream afresh. Replies `{epoch, seq, tseq}`.
///
/// With ARGV[6] = `1` (behind sentinels) the script also fences failovers: Redis replicates
/// asynchronously, so a promoted replica may lack the newest entries the old master took, and
/// its next seq would name a second event under an id that clients have already seen for
/// another. The script keeps the replication id of the master that last wrote (KEYS[4]); a
/// master gets a new one when it is promoted (or restarted), so when the ids differ the script
/// starts a new epoch before it writes (the seq goes on, so entry ids keep increasing). Clients
/// see a new run (a reset mark), never one id naming two events. The cost: a failover shows
/// clients a reset even when nothing was lost.
const PUBLISH: &str = r"
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[5])
end
if ARGV[6] == '1' then
  local replid = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
  local writer = redis.call('GET', KEYS[4])
  if writer ~= replid then
    if writer then
      epoch = ARGV[1]
      redis.call('SET', KEYS[1], epoch)
      redis.call('DEL', KEYS[5])
    end
    redis.call('SET', KEYS[4], replid)
  end
end
local seq = redis.call('INCR', KEYS[2])
local tseq = redis.call('HINCRBY', KEYS[5], ARGV[7], 1)
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], seq .. '-0', 'epoch', epoch, 'event', ARGV[2], 'data', ARGV[3], 'ms', ARGV[5], 'topic', ARGV[7], 'tseq', tseq)
return {epoch, seq, tseq}";

/// Why an event did not get into the shared stream.
#[derive(Debug, thiserror::Error)]
pub enum ClusterPublishError {
    /// Redis did not answer (down, unreachable, or slower than the publish timeout).
    #[error("Redis did not take the event: {0}")]
    Unreachable(String),
}

/// Runs [`PUBLISH`] for `payload` on the master of `link`, keeping `history` entries; fenced
/// when the link follows failovers.
pub(super) async fn append(
    link: &MasterLink,
    payload: &Payload,
    history: u64,
) -> redis::RedisResult<EventStamp> {
    append_fenced(link, payload, history, link.follows_failovers()).await
}

/// [`append`], fenced against failovers or not.
async fn append_fenced(
    link: &MasterLink,
    payload: &Payload,
    history: u64,
    fenced: bool,
) -> redis::RedisResult<EventStamp> {
    let fence = if fenced { "1" } else { "0" };
    let publish = redis::cmd("EVAL")
        .arg(PUBLISH)
        .arg(5)
        .arg(keys::EPOCH)
        .arg(keys::SEQ)
        .arg(keys::STREAM)
        .arg(keys::WRITER)
        .arg(keys::TOPICS)
        .arg(epoch::draw().to_string())
        .arg(payload.name.as_ref())
        .arg(&payload.data)
        .arg(history)
        .arg(chrono::Utc::now().timestamp_millis())
        .arg(fence)
        .arg(payload.topic.as_str())
        .clone();
    let (epoch, seq, topic_seq): (String, u64, u64) = link.query(&publish).await?;
    let epoch: Epoch = epoch.parse().map_err(|_| {
        redis::RedisError::from((
            redis::ErrorKind::Parse,
            "the cluster's epoch is not 16 hex digits",
            epoch,
        ))
    })?;
    Ok(EventStamp {
        id: EventId { epoch, seq },
        topic: payload.topic.clone(),
        topic_seq,
    })
}

/// Publishes events from any replica into the shared stream (the publish route's way in, in a
/// cluster). Its own connection, so that a publisher waiting on Redis never holds up the
/// reader or the lease, and a bounded wait: a slow Redis fails a publish, it does not hang it.
#[derive(Clone)]
pub struct ClusterPublisher {
    pub(super) link: MasterLink,
    pub(super) history: u64,
    pub(super) timeout: Duration,
    pub(super) metrics: Metrics,
}

impl ClusterPublisher {
    /// `PING`s the master (through the sentinels, behind them), within the publish timeout: a
    /// start-up check that the credentials are right.
    ///
    /// # Errors
    /// Whatever Redis or the sentinels answered, or a timeout.
    pub async fn ping(&self) -> redis::RedisResult<()> {
        let command = redis::cmd("PING");
        let ping = self.link.query::<String>(&command);
        match tokio::time::timeout(Duration::from_secs(1), ping).await {
            Ok(answer) => answer.map(|_| ()),
            Err(_) => Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "Redis did not answer PING in time",
            ))),
        }
    }

    /// Appends `payload` to the shared stream and returns its id once Redis has it. Every
    /// replica's reader then relays it to its clients.
    pub async fn publish(&self, payload: &Payload) -> Result<EventStamp, ClusterPublishError> {
        let sent = Instant::now();
        let result =
            tokio::time::timeout(self.timeout, append(&self.link, payload, self.history)).await;
        self.metrics.observe_redis_round_trip(sent.elapsed());
        match result {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(err)) => Err(ClusterPublishError::Unreachable(err.to_string())),
            Err(_) => Err(ClusterPublishError::Unreachable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Child, Command, Stdio};

    use super::*;
    use crate::cluster::link::{MasterWatch, RedisSource};

    /// A throwaway `redis-server` on a free port, without persistence; killed when dropped.
    struct Redis {
        port: u16,
        process: Child,
    }

    impl Redis {
        async fn start(args: &[&str]) -> Self {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            let process = Command::new("redis-server")
                .args([
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                ])
                .args(args)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server runs (scripts/setup.sh installs it)");
            let redis = Self { port, process };
            for _ in 0..200 {
                if redis.query::<String>(&redis::cmd("PING")).await.is_ok() {
                    return redis;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            panic!("redis-server did not answer on {port}");
        }

        fn link(&self) -> MasterLink {
            let url = format!("redis://127.0.0.1:{}", self.port);
            MasterLink::new(
                RedisSource::Url(url.parse().expect("a URL")),
                None,
                Duration::from_secs(2),
                MasterWatch::new(Metrics::new()),
            )
        }

        async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
            self.link().query(cmd).await
        }
    }

    impl Drop for Redis {
        fn drop(&mut self) {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }

    async fn publish(redis: &Redis, n: u64, fenced: bool) -> EventId {
        append_fenced(&redis.link(), &Payload::for_tests(n), 100, fenced)
            .await
            .expect("Redis takes the event")
            .id
    }

    #[tokio::test]
    async fn each_topic_is_numbered_from_one_without_a_hole_beside_the_run_s_seq() {
        let redis = Redis::start(&[]).await;
        let link = redis.link();
        let mut stamps = Vec::new();
        for (n, topic) in ["a", "b", "a", "a/x", "b", "a"].into_iter().enumerate() {
            let payload = Payload::for_tests_on(n as u64, topic);
            stamps.push(append_fenced(&link, &payload, 100, false).await.unwrap());
        }
        let numbered: Vec<_> = stamps
            .iter()
            .map(|s| (s.id.seq, s.topic.as_str(), s.topic_seq))
            .collect();
        assert_eq!(
            numbered,
            [
                (1, "a", 1),
                (2, "b", 1),
                (3, "a", 2),
                (4, "a/x", 1),
                (5, "b", 2),
                (6, "a", 3)
            ]
        );
    }

    /// Waits until `replica` has the stream up to `seq`.
    async fn replicated(replica: &Redis, seq: u64) {
        for _ in 0..200 {
            let newest: Option<u64> = replica
                .query(redis::cmd("GET").arg(keys::SEQ))
                .await
                .ok()
                .flatten();
            if newest >= Some(seq) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the replica never caught up to seq {seq}");
    }

    /// A master, and a replica that is promoted after it replicated events 1-3 but before the
    /// master took 4 and 5: the tail an asynchronous replica loses when its master dies.
    async fn promoted_without_the_tail(fenced: bool) -> (Vec<EventId>, EventId) {
        // Without the default 5 s pause before a replica's first sync.
        let master = Redis::start(&["--repl-diskless-sync-delay", "0"]).await;
        let master_port = master.port.to_string();
        let replica = Redis::start(&["--replicaof", "127.0.0.1", &master_port]).await;
        let mut seen = Vec::new();
        for n in 1..=3 {
            seen.push(publish(&master, n, fenced).await);
        }
        replicated(&replica, 3).await;
        let promoted: String = replica
            .query(redis::cmd("REPLICAOF").arg("NO").arg("ONE"))
            .await
            .expect("the replica is promoted");
        assert_eq!(promoted, "OK");
        for n in 4..=5 {
            seen.push(publish(&master, n, fenced).await);
        }
        // Clients have seen 1-5; the promoted replica has 1-3.
        let next = publish(&replica, 6, fenced).await;
        (seen, next)
    }

    #[tokio::test]
    async fn after_a_failover_that_lost_the_tail_the_fence_starts_a_new_epoch() {
        let (seen, next) = promoted_without_the_tail(true).await;
        assert!(
            !seen.contains(&next),
            "{next} names a second event: clients saw {seen:?}"
        );
        assert_ne!(
            next.epoch, seen[0].epoch,
            "a new run: clients are shown a reset"
        );
        assert_eq!(
            next.seq, 4,
            "the seq goes on in the promoted replica's stream"
        );
    }

    #[tokio::test]
    async fn without_the_fence_the_lost_tail_s_ids_would_be_reused() {
        // What the fence is for: the same failover unfenced names event 6 as 4 was named.
        let (seen, next) = promoted_without_the_tail(false).await;
        assert_eq!(next, seen[3]);
    }

    #[tokio::test]
    async fn a_fenced_master_that_keeps_writing_keeps_its_epoch() {
        let master = Redis::start(&[]).await;
        let ids = [
            publish(&master, 1, true).await,
            publish(&master, 2, true).await,
            publish(&master, 3, true).await,
        ];
        assert!(ids.iter().all(|id| id.epoch == ids[0].epoch));
        assert_eq!(ids.map(|id| id.seq), [1, 2, 3]);
    }
}
