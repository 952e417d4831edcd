//! Resuming: `Last-Event-ID` and `?lastEventId=` give exactly the missed events, whatever the id
//! and whenever the reconnect lands, with the same rules for both; the header wins over the query.

use std::time::Duration;

use shared::{Epoch, EventId};

use crate::helpers::{
    Received, ResumeFrom, TestApp, Transport, assert_consecutive, over_both_transports, spawn_app,
    spawn_app_over,
};
use crate::support;

/// Pings retained by the servers of the placement tests below.
const HISTORY: u64 = 10;

/// The two ways a client says where it was: a browser's own reconnect sends the header, a page's
/// new `EventSource` the query parameter.
#[derive(Debug, Clone, Copy)]
enum Via {
    Header,
    Query,
}

impl Via {
    fn from(self, id: &str) -> ResumeFrom<'_> {
        match self {
            Self::Header => ResumeFrom::Header(id),
            Self::Query => ResumeFrom::Query(id),
        }
    }
}

/// A server that ticks every 20 ms and keeps [`HISTORY`] pings, once it has published well over
/// twice that many: so "the newest", "the oldest retained" and "right after the client's id" are
/// different pings, and a test that checks which one came first can fail.
async fn app_with_a_full_history() -> (TestApp, Received) {
    let app = spawn_app(|config| {
        config.interval_ms = 20;
        config.history = HISTORY;
    })
    .await;
    let mut stream = app.open_stream(None).await;
    let mut newest = stream.next_ping().await;
    while newest.id.seq < 3 * HISTORY {
        newest = stream.next_ping().await;
    }
    (app, newest)
}

/// Opens a stream resuming from `from` and returns its first ping, with the newest count just
/// before and just after the request: whatever the server chose lies relative to those.
async fn first_ping_bracketed(app: &TestApp, from: ResumeFrom<'_>) -> (u64, Received, u64) {
    app.between_last_seqs(async {
        let mut stream = app.open_stream_from(from).await;
        stream.next_ping().await
    })
    .await
}

/// Asserts that `first` is the newest ping at the time of the request (a new client).
fn assert_newest(what: &str, (before, first, after): (u64, Received, u64)) {
    assert!(
        (before..=after).contains(&first.id.seq),
        "{what}: first ping {} is not the newest ({before}..={after})",
        first.id.seq
    );
}

/// Asserts that `first` is the oldest retained ping at the time of the request.
fn assert_oldest_retained(what: &str, (before, first, after): (u64, Received, u64)) {
    let oldest = (before - (HISTORY - 1))..=(after - (HISTORY - 1));
    assert!(
        oldest.contains(&first.id.seq),
        "{what}: first ping {} is not the oldest retained ({oldest:?})",
        first.id.seq
    );
}

over_both_transports! { reconnect_with_last_event_id_replays_only_missed_pings => replays_only_missed_pings }

/// A client that comes back with the id of the last ping it saw (header or query) gets exactly
/// the pings it missed, then live ones.
pub async fn replays_only_missed_pings(transport: Transport) {
    for via in [Via::Header, Via::Query] {
        let app = spawn_app_over(transport, |config| config.interval_ms = 10).await;
        let mut first = app.open_stream(None).await;
        let seen = first.take_pings(5).await;
        drop(first);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let last = seen[4].id.to_string();
        let mut second = app.open_stream_from(via.from(&last)).await;
        let replayed = second.take_pings(40).await;
        let all: Vec<Received> = seen.into_iter().chain(replayed).collect();
        assert_consecutive(&all);
        assert!(
            app.metric("pingstream_events_replayed_total").await >= 15,
            "{via:?}"
        );
    }
}

#[tokio::test]
async fn resume_under_a_fast_ticker_never_gaps_or_repeats() {
    // At a 1 ms tick, reconnects land while the ticker publishes: the history snapshot and the
    // live subscription must be taken together or an event is lost or doubled.
    let app = spawn_app(|config| config.interval_ms = 1).await;
    let mut all: Vec<Received> = Vec::new();
    let mut stream = app.open_stream(None).await;
    for round in 0..150 {
        all.extend(stream.take_pings(3).await);
        let last = all.last().expect("pings were read").id.to_string();
        let via = if round % 2 == 0 {
            Via::Header
        } else {
            Via::Query
        };
        stream = app.open_stream_from(via.from(&last)).await;
    }
    all.extend(stream.take_pings(3).await);
    assert_eq!(all.len(), 453);
    assert_consecutive(&all);
}

#[tokio::test]
async fn an_id_in_the_history_resumes_right_after_it() {
    let (app, newest) = app_with_a_full_history().await;
    for via in [Via::Header, Via::Query] {
        let id = EventId {
            seq: newest.id.seq - 3,
            ..newest.id
        };
        let (_, first, _) = first_ping_bracketed(&app, via.from(&id.to_string())).await;
        assert_eq!(first.id.seq, id.seq + 1, "{via:?}");
    }
}

#[tokio::test]
async fn an_id_older_than_the_history_starts_at_the_oldest_retained_ping() {
    let (app, newest) = app_with_a_full_history().await;
    for via in [Via::Header, Via::Query] {
        let stale = EventId {
            seq: 1,
            ..newest.id
        };
        let bracket = first_ping_bracketed(&app, via.from(&stale.to_string())).await;
        assert_oldest_retained(&format!("{via:?} stale id"), bracket);
    }
}

#[tokio::test]
async fn an_id_from_another_run_starts_at_the_oldest_retained_ping() {
    let (app, newest) = app_with_a_full_history().await;
    for via in [Via::Header, Via::Query] {
        let foreign = EventId {
            epoch: Epoch(newest.id.epoch.0 ^ 1),
            ..newest.id
        };
        let bracket = first_ping_bracketed(&app, via.from(&foreign.to_string())).await;
        assert_eq!(
            bracket.1.id.epoch, newest.id.epoch,
            "replayed from this run"
        );
        assert_oldest_retained(&format!("{via:?} foreign id"), bracket);
    }
}

#[tokio::test]
async fn an_id_from_the_future_is_treated_as_a_new_client() {
    let (app, newest) = app_with_a_full_history().await;
    for via in [Via::Header, Via::Query] {
        let future = EventId {
            seq: newest.id.seq + 1_000,
            ..newest.id
        };
        let bracket = first_ping_bracketed(&app, via.from(&future.to_string())).await;
        assert_newest(&format!("{via:?} future id"), bracket);
    }
}

#[tokio::test]
async fn unusable_ids_are_treated_as_a_new_client() {
    let (app, newest) = app_with_a_full_history().await;
    let this_run = newest.id.epoch;
    let huge = format!("{this_run}-{}", "1".repeat(20 * 1024));
    let cases = [
        "banana".to_owned(),
        "-1".to_owned(),
        "18446744073709551616".to_owned(),
        "ffffffffffffffff-".to_owned(),
        format!("{this_run}-18446744073709551616"),
        format!("{this_run}--1"),
        format!("{this_run}-01"),
        this_run.to_string().to_uppercase() + "-1",
        huge,
    ];
    for via in [Via::Header, Via::Query] {
        for id in &cases {
            let bracket = first_ping_bracketed(&app, via.from(id)).await;
            assert_newest(&format!("{via:?} {:?}", &id[..id.len().min(40)]), bracket);
        }
    }
    // The contract's table of texts that are not ids, through the query (percent-encoded: some
    // hold a space, a line break or a NUL, which a header cannot carry).
    for bad in support::MALFORMED_EVENT_IDS {
        let query: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let bracket = first_ping_bracketed(&app, ResumeFrom::Query(&query)).await;
        assert_newest(&format!("query {bad:?}"), bracket);
    }
    // URL-encoded garbage that only the query can carry: not UTF-8, NUL, a lone `%`, an id cut
    // by an encoded line break, an encoded id with something after it.
    for query in [
        "%FF%FE".to_owned(),
        "%00".to_owned(),
        "%".to_owned(),
        "%%%".to_owned(),
        format!("{this_run}-1%0D%0A"),
        format!("{this_run}%2D1%20"),
        format!("{this_run}-1%00"),
    ] {
        let bracket = first_ping_bracketed(&app, ResumeFrom::Query(&query)).await;
        assert_newest(&format!("query {query:?}"), bracket);
    }
    // Still streaming for everyone after all that.
    assert_eq!(app.health().await["status"], "ok");
}

#[tokio::test]
async fn a_percent_encoded_id_in_the_query_resumes_like_a_plain_one() {
    let (app, newest) = app_with_a_full_history().await;
    let id = EventId {
        seq: newest.id.seq - 2,
        ..newest.id
    };
    let encoded = id.to_string().replace('-', "%2D");
    let (_, first, _) = first_ping_bracketed(&app, ResumeFrom::Query(&encoded)).await;
    assert_eq!(first.id.seq, id.seq + 1);
}

#[tokio::test]
async fn the_header_wins_when_both_are_present() {
    let (app, newest) = app_with_a_full_history().await;
    let header = EventId {
        seq: newest.id.seq - 2,
        ..newest.id
    };
    let query = EventId {
        seq: newest.id.seq - 6,
        ..newest.id
    };
    let (_, first, _) = first_ping_bracketed(
        &app,
        ResumeFrom::Both {
            header: &header.to_string(),
            query: &query.to_string(),
        },
    )
    .await;
    assert_eq!(first.id.seq, header.seq + 1, "the header's id");
    // A malformed header still wins: it is what the browser's own reconnect sent.
    let bracket = first_ping_bracketed(
        &app,
        ResumeFrom::Both {
            header: "banana",
            query: &query.to_string(),
        },
    )
    .await;
    assert_newest("malformed header beside a good query", bracket);
}
