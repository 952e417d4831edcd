//! What Redis may relay to browsers: whoever can write to the shared stream bypasses the
//! publish API, so the reader relays only what the API could have published. Entries written
//! straight into Redis with `XADD` never reach a client unless they are that.

use std::time::Duration;

use super::redis::{RedisServer, Replica};
use crate::support::app::metric_value;

/// Appends an entry with `fields` straight into the shared stream, under the next seq.
fn xadd(redis: &RedisServer, fields: &[(&str, &[u8])]) {
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    // A plain blocking connection: no reply timeout for a 50 MB argument.
    let mut conn = client.get_connection().expect("Redis answers");
    // INCR and XADD in one script, as the server's own publish does, so a tick cannot come
    // between them.
    let mut append = redis::cmd("EVAL");
    append
        .arg(
            "local seq = redis.call('INCR', KEYS[1]) \
             local epoch = redis.call('GET', KEYS[2]) \
             redis.call('XADD', KEYS[3], seq .. '-0', 'epoch', epoch, unpack(ARGV)) \
             return seq",
        )
        .arg(3)
        .arg("{pingstream}:seq")
        .arg("{pingstream}:epoch")
        .arg("{pingstream}:stream");
    for (key, value) in fields {
        append.arg(*key).arg(*value);
    }
    let _: u64 = append.query(&mut conn).expect("XADD");
}

#[tokio::test]
async fn entries_written_straight_into_redis_reach_no_client_unless_the_api_could_have_published_them()
 {
    let redis = RedisServer::start();
    let replica = Replica::start_with(&redis, &[]);
    let mut stream = replica.app.open_stream(None).await;
    stream.next_ping().await;
    let rss_before = replica.process.rss_kib();
    let long_notice = format!(
        r#"{{"text":"{}","level":"info","time":"2026-11-25T09:00:00.000Z"}}"#,
        "x".repeat(10_000)
    );
    let huge = vec![b'7'; 50 * 1024 * 1024];
    let topic: &[u8] = b"news";
    let entries: Vec<Vec<(&str, &[u8])>> = vec![
        vec![
            ("event", b"notice"),
            ("data", long_notice.as_bytes()),
            ("topic", topic),
            ("tseq", b"1"),
        ],
        vec![
            ("event", b"notice"),
            ("data", &huge),
            ("topic", topic),
            ("tseq", b"2"),
        ],
        vec![
            ("event", b"a\"b\n"),
            ("data", b"{}"),
            ("topic", topic),
            ("tseq", b"3"),
        ],
        vec![
            ("event", b"a\"b"),
            ("data", b"{}"),
            ("topic", topic),
            ("tseq", b"4"),
        ],
        vec![
            ("event", b"notice"),
            ("data", b"not json"),
            ("topic", topic),
            ("tseq", b"5"),
        ],
        vec![
            ("event", b"ping"),
            ("data", b"{\"count\":\"x\"}"),
            ("topic", topic),
            ("tseq", b"6"),
        ],
    ];
    for fields in &entries {
        xadd(&redis, fields);
    }
    // Only pings follow, whatever was written.
    for _ in 0..10 {
        let event = stream.next_event().await;
        assert!(
            matches!(event.event, shared::AppEvent::Ping(_)),
            "{event:?} reached a client"
        );
    }
    let metrics = replica.app.metrics().await;
    for (reason, count) in [("too_large", 1), ("unknown_event", 2), ("invalid_event", 3)] {
        let line = format!("pingstream_redis_entries_skipped_total{{reason=\"{reason}\"}}");
        assert_eq!(
            metric_value(&metrics, &line),
            Some(count),
            "{reason}: {metrics}"
        );
    }
    assert!(
        !metrics.contains("a\"b"),
        "no name read from Redis is a label"
    );
    assert!(metrics.ends_with("# EOF\n"), "still parses");
    // The 50 MB entry was read and dropped, not kept.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = replica.process.rss_kib();
    assert!(
        rss_after < rss_before + 120 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}
