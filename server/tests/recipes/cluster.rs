//! `just cluster` (one `redis-server`) and `just cluster-ha` (Redis behind Sentinel): two replicas
//! that answer `/healthz` and carry one stream, and Ctrl-C stopping Redis and both replicas; and
//! `just cluster` refusing a Redis port another `redis-server` holds.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::{
    recipe::{ANSWER_DEADLINE, Recipe, is_listening, one_recipe_at_a_time},
    support::{Received, SseClient, TestApp, free_port},
};

/// Pings read from the two replicas, at most, looking for one both carried.
const PINGS_TO_MATCH: usize = 10;

#[tokio::test]
#[ignore = "runs `just cluster` for real: `just test-recipes`"]
async fn cluster_replicas_share_one_stream_through_redis_until_ctrl_c() {
    let _turn = one_recipe_at_a_time().await;
    let replicas = [free_port(), free_port()];
    let redis = free_port();
    let dir = tempfile::tempdir().expect("a folder for Redis's data");
    let mut cluster = start_cluster(
        replicas,
        redis,
        dir.path(),
        &[replicas[0], replicas[1], redis],
    );

    replicas_share_one_stream(&mut cluster, replicas).await;

    cluster.stop_and_check().await;
}

#[tokio::test]
#[ignore = "runs `just cluster-ha` for real: `just test-recipes`"]
async fn cluster_ha_replicas_share_one_stream_through_sentinel_until_ctrl_c() {
    let _turn = one_recipe_at_a_time().await;
    let replicas = [free_port(), free_port()];
    let redis = [free_port(), free_port()];
    let sentinels = [free_port(), free_port(), free_port()];
    let dir = tempfile::tempdir().expect("a folder for Redis's data");
    let mut cluster = Recipe::start(
        &["cluster-ha"],
        &[
            ("PINGSTREAM_CLUSTER_PORTS", words(&replicas)),
            ("PINGSTREAM_CLUSTER_REDIS_PORTS", words(&redis)),
            ("PINGSTREAM_CLUSTER_SENTINEL_PORTS", words(&sentinels)),
            ("PINGSTREAM_RECIPE_DIR", dir.path().display().to_string()),
        ],
        &[&replicas[..], &redis, &sentinels].concat(),
    );

    replicas_share_one_stream(&mut cluster, replicas).await;

    cluster.stop_and_check().await;
}

#[tokio::test]
#[ignore = "runs `just cluster` for real: `just test-recipes`"]
async fn cluster_stops_with_a_clear_error_when_another_redis_holds_its_port() {
    let _turn = one_recipe_at_a_time().await;
    let redis = free_port();
    let _other = OtherRedis::start(redis);
    let replicas = [free_port(), free_port()];
    let dir = tempfile::tempdir().expect("a folder for Redis's data");
    // Only the replicas' ports are the recipe's: the Redis on its port is this test's.
    let mut cluster = start_cluster(replicas, redis, dir.path(), &replicas);

    let status = cluster.wait_exited(&replicas).await;

    let log = cluster.log();
    assert!(!status.success(), "`just cluster` succeeded:\n{log}");
    assert!(
        log.contains(&format!(
            "redis-server on :{redis} stopped before it answered"
        )),
        "`just cluster` did not say why it stopped:\n{log}"
    );
    cluster.stop_and_check().await;
}

/// A `redis-server` that is not the recipe's, on a port the recipe is told to use; stopped when
/// dropped.
struct OtherRedis(Child);

impl OtherRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (`just setup redis`)");
        let other = Self(child);
        let started = Instant::now();
        while !is_listening(port) {
            assert!(
                started.elapsed() < ANSWER_DEADLINE,
                "redis-server did not listen on :{port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        other
    }
}

impl Drop for OtherRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `just cluster` with its replicas on `replicas`, its Redis on `redis` and its files in `dir`,
/// serving on `ports` (checked free once it has stopped).
fn start_cluster(replicas: [u16; 2], redis: u16, dir: &Path, ports: &[u16]) -> Recipe {
    Recipe::start(
        &["cluster"],
        &[
            ("PINGSTREAM_CLUSTER_PORTS", words(&replicas)),
            ("PINGSTREAM_CLUSTER_REDIS_PORTS", redis.to_string()),
            ("PINGSTREAM_RECIPE_DIR", dir.display().to_string()),
        ],
        ports,
    )
}

/// The ports as a recipe's port variable lists them.
fn words(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits until the replicas on `ports` both answer `/healthz` with `ok`, then reads a stream from
/// each until one ping (the same `id:`: epoch, seq, topic and the topic's number) shows up on
/// both.
async fn replicas_share_one_stream(recipe: &mut Recipe, ports: [u16; 2]) {
    let replicas = ports.map(TestApp::at);
    for replica in &replicas {
        recipe.wait_listening(replica.port).await;
        let what = format!("/healthz ok on :{}", replica.port);
        recipe
            .wait_for(&what, ANSWER_DEADLINE, async || {
                let response = replica
                    .request(reqwest::Method::GET, "/healthz")
                    .send()
                    .await
                    .map_err(|err| err.to_string())?;
                let health: serde_json::Value =
                    response.json().await.map_err(|err| err.to_string())?;
                match health["status"].as_str() {
                    Some("ok") if health["last_id"].is_string() => Ok(()),
                    _ => Err(health.to_string()),
                }
            })
            .await;
    }
    let [first, second] = &replicas;
    let (one, other) = recipe
        .within("one ping on both replicas", ANSWER_DEADLINE, async {
            let mut streams = [
                first.open_stream(None).await,
                second.open_stream(None).await,
            ];
            one_ping_on_both(&mut streams).await
        })
        .await;
    assert_eq!(
        one.stamp, other.stamp,
        "the replicas' pings of seq {} differ: not one stream",
        one.id.seq
    );
    assert_eq!(one.ping, other.ping, "one id, two pings");
}

/// Reads the two streams, always the one behind, until their pings have the same seq; the ping of
/// that seq from each. Panics after [`PINGS_TO_MATCH`] pings of either.
async fn one_ping_on_both(streams: &mut [SseClient; 2]) -> (Received, Received) {
    let mut newest = [streams[0].next_ping().await, streams[1].next_ping().await];
    for _ in 0..PINGS_TO_MATCH {
        let behind = match newest[0].id.seq.cmp(&newest[1].id.seq) {
            std::cmp::Ordering::Equal => {
                let [one, other] = newest;
                return (one, other);
            }
            std::cmp::Ordering::Less => 0,
            std::cmp::Ordering::Greater => 1,
        };
        newest[behind] = streams[behind].next_ping().await;
    }
    panic!("no seq on both replicas within {PINGS_TO_MATCH} pings: {newest:?}");
}
