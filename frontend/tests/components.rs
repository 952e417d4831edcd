//! The pure components rendered into a real DOM in headless Chromium.

mod support;

use std::rc::Rc;

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use frontend::{
    components::{latency_chart, notice_list, ping_list, status_badge, stream_stats},
    latency::Latencies,
    state::{MAX_ENTRIES, PageAction, PageState},
    stream::{Connection, Feed, Moment, StreamStatus},
};
use shared::{AppEvent, Level, Notice, Ping};
use support::{View, ViewProps, all, attr, eventually, root, rows, text};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::{Callback, Reducible, Renderer};

wasm_bindgen_test_configure!(run_in_browser);

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 test time")
        .with_timezone(&Utc)
}

/// A ping with `count`, sent at `sent`, that arrived `delay_ms` later.
fn received_after(count: u64, sent: &str, delay_ms: i64) -> PageAction {
    let time = time(sent);
    PageAction::Feed(Feed::Event {
        event: AppEvent::Ping(Ping { count, time }),
        stamp: None,
        arrived: Some(Moment::from_ms((time.timestamp_millis() + delay_ms) as f64)),
    })
}

fn received(count: u64, sent: &str) -> PageAction {
    received_after(count, sent, 5)
}

fn mark(item: Feed<AppEvent>) -> PageAction {
    PageAction::Feed(item)
}

fn notice(text: &str, level: Level) -> PageAction {
    PageAction::Feed(Feed::Event {
        event: AppEvent::Notice(Notice {
            text: text.to_owned(),
            level,
            time: time("2026-11-25T09:08:07.000Z"),
        }),
        stamp: None,
        arrived: Some(Moment::from_ms(0.0)),
    })
}

fn state_after(actions: impl IntoIterator<Item = PageAction>) -> Rc<PageState> {
    actions
        .into_iter()
        .fold(Rc::new(PageState::default()), PageState::reduce)
}

fn list_props(state: &PageState) -> ViewProps {
    ViewProps {
        html: ping_list(&state.entries),
    }
}

#[wasm_bindgen_test]
async fn status_badge_shows_each_state_and_keeps_the_countdown_out_of_the_live_region() {
    let root = root();
    let props = |connection, online, retry_in_secs| ViewProps {
        html: status_badge(&StreamStatus {
            connection,
            online,
            retry_in_secs,
            malformed: 0,
        }),
    };
    let mut badge = Renderer::<View>::with_root_and_props(
        root.clone(),
        props(Connection::Connecting, true, None),
    )
    .render();
    let status_is = |name: &'static str| {
        let root = root.clone();
        move || attr(&root, "#status", "data-status").filter(|status| status == name)
    };
    eventually(&root, "the connecting badge", status_is("connecting")).await;
    assert_eq!(
        attr(&root, "#status [role=status]", "aria-live").as_deref(),
        Some("polite")
    );
    assert_eq!(
        text(&root, "[aria-live=polite]").as_deref(),
        Some("connecting")
    );

    let waiting = Connection::Reconnecting {
        next_try: Some(Moment::from_ms(1.0)),
    };
    badge.update(props(waiting, true, Some(7)));
    eventually(&root, "the countdown", || {
        attr(&root, "[data-retry-in]", "data-retry-in")
    })
    .await;
    assert_eq!(
        attr(&root, "#status", "data-status").as_deref(),
        Some("reconnecting")
    );
    assert_eq!(
        attr(&root, "[data-retry-in]", "data-retry-in").as_deref(),
        Some("7")
    );
    assert!(text(&root, "#status").is_some_and(|badge| badge.contains("7 s")));
    assert_eq!(
        text(&root, "[aria-live=polite]").as_deref(),
        Some("reconnecting")
    );

    badge.update(props(waiting, false, Some(7)));
    eventually(&root, "the offline badge", status_is("offline")).await;
    assert!(
        all(&root, "[data-retry-in]").is_empty(),
        "no countdown once offline"
    );
    assert_eq!(
        text(&root, "[aria-live=polite]").as_deref(),
        Some("offline")
    );

    badge.update(props(Connection::Live, false, None));
    eventually(&root, "live, though offline", status_is("live")).await;
    for (connection, name) in [
        (Connection::Stalled, "stalled"),
        (Connection::Closed, "closed"),
        (Connection::Live, "live"),
    ] {
        badge.update(props(connection, true, None));
        eventually(&root, name, status_is(name)).await;
        assert_eq!(text(&root, "[aria-live=polite]").as_deref(), Some(name));
    }
    badge.destroy();
}

#[wasm_bindgen_test]
async fn ping_list_shows_pings_newest_first_with_gap_and_reset_marks() {
    let root = root();
    let state = state_after([
        received(1, "2026-11-25T09:00:01.000Z"),
        mark(Feed::Gap { missed: 3 }),
        received(5, "2026-11-25T09:00:05.000Z"),
        received(6, "2026-11-25T09:00:06.000Z"),
        mark(Feed::Reset),
        received(2, "2026-11-25T09:00:08.000Z"),
    ]);
    let list = Renderer::<View>::with_root_and_props(root.clone(), list_props(&state)).render();
    let shown = eventually(&root, "six rows", || {
        Some(rows(&root)).filter(|rows| rows.len() == 6)
    })
    .await;
    assert_eq!(shown, ["#2", "reset", "#6", "#5", "gap 3", "#1"]);
    assert_eq!(text(&root, "[data-gap]").as_deref(), Some("missed 3"));
    assert!(text(&root, "[data-reset]").is_some_and(|mark| mark.contains("restarted")));
    assert!(text(&root, "[data-count='6']").is_some_and(|row| row.starts_with("#6")));
    assert_eq!(
        text(&root, "[data-count='6'] .ping__latency").as_deref(),
        Some("5.00 ms")
    );
    list.destroy();
}

#[wasm_bindgen_test]
async fn a_ping_replayed_from_history_says_so_instead_of_a_latency() {
    let root = root();
    let time = time("2026-11-25T09:00:01.000Z");
    let replayed = PageAction::Feed(Feed::Event {
        event: AppEvent::Ping(Ping { count: 1, time }),
        stamp: None,
        arrived: None,
    });
    let state = state_after([replayed, received_after(2, "2026-11-25T09:00:02.000Z", 1)]);
    let list = Renderer::<View>::with_root_and_props(root.clone(), list_props(&state)).render();
    eventually(&root, "two rows", || {
        Some(rows(&root)).filter(|rows| rows.len() == 2)
    })
    .await;
    assert_eq!(
        text(&root, "[data-count='1'] .ping__latency").as_deref(),
        Some("from history")
    );
    assert_eq!(
        attr(&root, "[data-count='2'] .ping__latency", "data-latency-us").as_deref(),
        Some("1000")
    );
    assert_eq!(
        state.latencies.figures(),
        [1_000],
        "only the live ping is counted"
    );
    list.destroy();
}

#[wasm_bindgen_test]
async fn ping_item_shows_the_local_time_as_hours_minutes_seconds() {
    let root = root();
    let sent = "2026-11-25T09:08:07.123Z";
    let state = state_after([received(42, sent)]);
    let list = Renderer::<View>::with_root_and_props(root.clone(), list_props(&state)).render();
    let clock = eventually(&root, "the ping's time", || {
        text(&root, "[data-count='42'] time")
    })
    .await;
    let js = js_sys::Date::new(&sent.into());
    let expected = format!(
        "{:02}:{:02}:{:02}",
        js.get_hours(),
        js.get_minutes(),
        js.get_seconds()
    );
    assert_eq!(clock, expected, "the browser's local time zone");
    assert_eq!(
        attr(&root, "[data-count='42'] time", "datetime").as_deref(),
        Some(sent)
    );
    list.destroy();
}

#[wasm_bindgen_test]
async fn ping_list_waits_for_the_first_ping_then_stays_bounded() {
    let root = root();
    let empty = PageState::default();
    let mut list = Renderer::<View>::with_root_and_props(root.clone(), list_props(&empty)).render();
    eventually(&root, "the placeholder", || {
        text(&root, "#pings").filter(|t| t.contains("Waiting"))
    })
    .await;

    // Every third count is skipped, so the list mixes pings and gap marks.
    let busy = state_after(
        (1..=30_000)
            .filter(|count| count % 3 != 0)
            .flat_map(|count| {
                if count % 3 == 1 && count > 1 {
                    vec![
                        mark(Feed::Gap { missed: 1 }),
                        received(count, "2026-11-25T09:00:00.000Z"),
                    ]
                } else {
                    vec![received(count, "2026-11-25T09:00:00.000Z")]
                }
            }),
    );
    list.update(list_props(&busy));
    let shown = eventually(&root, "a full list", || {
        Some(rows(&root)).filter(|r| r.len() > 1)
    })
    .await;
    assert_eq!(shown.len(), MAX_ENTRIES);
    assert_eq!(shown[..4], ["#29999", "#29998", "gap 1", "#29996"]);
    list.destroy();
}

#[wasm_bindgen_test]
async fn stream_stats_count_pings_and_show_malformed_events_only_when_there_are_some() {
    let root = root();
    let props = |received, malformed| ViewProps {
        html: stream_stats(received, malformed),
    };
    let mut stats = Renderer::<View>::with_root_and_props(root.clone(), props(12, 0)).render();
    eventually(&root, "the count", || {
        attr(&root, "#received", "data-received")
    })
    .await;
    assert_eq!(
        attr(&root, "#received", "data-received").as_deref(),
        Some("12")
    );
    assert_eq!(
        text(&root, "#received").as_deref(),
        Some("12 pings received")
    );
    assert!(all(&root, "#malformed").is_empty());

    stats.update(props(13, 2));
    eventually(&root, "the malformed count", || {
        attr(&root, "#malformed", "data-malformed")
    })
    .await;
    assert_eq!(
        attr(&root, "#malformed", "data-malformed").as_deref(),
        Some("2")
    );
    assert_eq!(
        attr(&root, "#received", "data-received").as_deref(),
        Some("13")
    );
    stats.destroy();
}

#[wasm_bindgen_test]
async fn notices_are_styled_by_level_dismissible_and_critical_ones_are_announced() {
    let root = root();
    let state = state_after([
        notice("all good", Level::Info),
        notice("disk at 90 %", Level::Warning),
        notice("database down", Level::Critical),
    ]);
    let dismissed = Rc::new(RefCell::new(Vec::new()));
    let on_dismiss = Callback::from({
        let dismissed = Rc::clone(&dismissed);
        move |key| dismissed.borrow_mut().push(key)
    });
    let props = |state: &PageState| ViewProps {
        html: notice_list(&state.notices, state.alert.as_ref(), &on_dismiss),
    };
    let mut list = Renderer::<View>::with_root_and_props(root.clone(), props(&state)).render();
    let shown = eventually(&root, "three notices", || {
        Some(all(&root, "#notices .notice")).filter(|notices| notices.len() == 3)
    })
    .await;
    let levels: Vec<_> = shown
        .iter()
        .map(|notice| notice.get_attribute("data-level"))
        .collect();
    assert_eq!(
        levels,
        [
            Some("critical".into()),
            Some("warning".into()),
            Some("info".into())
        ],
        "newest first, each styled by its level (the style sheet's [data-level] rules)"
    );
    assert_eq!(
        attr(&root, "#alert", "aria-live").as_deref(),
        Some("assertive")
    );
    assert_eq!(text(&root, "#alert").as_deref(), Some("database down"));

    // The dismiss button of the warning says which notice it dismisses.
    let button = root
        .query_selector("[data-level=warning] button")
        .expect("a valid selector")
        .expect("a dismiss button");
    assert_eq!(
        button.get_attribute("aria-label").as_deref(),
        Some("Dismiss")
    );
    button
        .dyn_into::<web_sys::HtmlElement>()
        .expect("a button")
        .click();
    let key = state.notices[1].key;
    assert_eq!(*dismissed.borrow(), [key]);

    let state = PageState::reduce(state, PageAction::Dismiss(key));
    list.update(props(&state));
    eventually(&root, "two notices", || {
        Some(all(&root, "#notices .notice")).filter(|notices| notices.len() == 2)
    })
    .await;
    assert_eq!(text(&root, "#alert").as_deref(), Some("database down"));
    list.destroy();
}

#[wasm_bindgen_test]
async fn the_chart_has_a_point_per_ping_its_p50_and_p99_as_lines_and_its_scale() {
    let root = root();
    let mut latencies = Latencies::default();
    for delay in 1..=100 {
        latencies.record(0, delay);
    }
    let mut chart = Renderer::<View>::with_root_and_props(
        root.clone(),
        ViewProps {
            html: latency_chart(&latencies),
        },
    )
    .render();
    let points = eventually(&root, "the chart", || {
        attr(&root, "#latency polyline", "points")
    })
    .await;
    assert_eq!(points.split_whitespace().count(), 100);
    assert!(points.starts_with("0,39 "), "{points}");
    assert!(points.ends_with(" 198,1 "), "{points}");
    assert_eq!(
        attr(&root, "#latency", "data-points").as_deref(),
        Some("100")
    );
    assert_eq!(
        attr(&root, "#latency", "data-p50-us").as_deref(),
        Some("50")
    );
    assert_eq!(
        attr(&root, "#latency", "data-p99-us").as_deref(),
        Some("99")
    );
    assert_eq!(
        attr(&root, "#latency", "data-top-us").as_deref(),
        Some("100")
    );
    // The scale beside the chart, and a line each for p50 and p99 across it.
    assert_eq!(text(&root, ".latency__axis").as_deref(), Some("0.10 ms0"));
    assert_eq!(attr(&root, ".latency__p50", "y1").as_deref(), Some("20"));
    assert_eq!(attr(&root, ".latency__p99", "y1").as_deref(), Some("2"));
    assert!(
        text(&root, "#latency figcaption").is_some_and(
            |caption| caption.contains("p50 0.05 ms") && caption.contains("p99 0.09 ms")
        ),
        "the figures in milliseconds"
    );
    assert!(
        text(&root, "#latency figcaption").is_some_and(|caption| !caption.contains("behind")),
        "no correction to speak of"
    );

    // The browser's clock turns out 2 s behind the server's.
    latencies.record(2_000, 0);
    chart.update(ViewProps {
        html: latency_chart(&latencies),
    });
    eventually(&root, "the corrected figures", || {
        text(&root, "#latency figcaption")
            .filter(|caption| caption.contains("corrected by 2.00 ms"))
    })
    .await;
    assert_eq!(
        attr(&root, "#latency", "data-points").as_deref(),
        Some("100")
    );
    chart.destroy();
}

#[wasm_bindgen_test]
async fn the_chart_waits_for_the_first_live_ping() {
    let root = root();
    let chart = Renderer::<View>::with_root_and_props(
        root.clone(),
        ViewProps {
            html: latency_chart(&Latencies::default()),
        },
    )
    .render();
    gloo_timers::future::TimeoutFuture::new(50).await;
    assert!(all(&root, "#latency").is_empty());
    chart.destroy();
}
