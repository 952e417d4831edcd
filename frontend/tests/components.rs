//! The pure components rendered into a real DOM in headless Chromium.

mod support;

use std::rc::Rc;

use chrono::{DateTime, Utc};
use frontend::{
    components::{
        PingList, PingListProps, StatusBadge, StatusBadgeProps, StreamStats, StreamStatsProps,
    },
    state::{Action, MAX_ENTRIES, Status, StreamState},
};
use shared::{EventId, Ping};
use support::{all, attr, eventually, root, rows, text};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use yew::{Reducible, Renderer};

wasm_bindgen_test_configure!(run_in_browser);

const EPOCH: u64 = 0xaa;

fn received(epoch: u64, count: u64, time: &str) -> Action {
    let time = DateTime::parse_from_rfc3339(time).expect("an RFC 3339 test time");
    let time = time.with_timezone(&Utc);
    Action::Received {
        ping: Ping { count, time },
        id: Some(EventId {
            epoch: shared::Epoch(epoch),
            count,
        }),
    }
}

fn state_after(actions: impl IntoIterator<Item = Action>) -> Rc<StreamState> {
    actions
        .into_iter()
        .fold(Rc::new(StreamState::default()), StreamState::reduce)
}

fn list_props(state: &StreamState) -> PingListProps {
    PingListProps {
        entries: state.entries().clone(),
    }
}

#[wasm_bindgen_test]
async fn status_badge_shows_each_state_and_keeps_the_countdown_out_of_the_live_region() {
    let root = root();
    let props = |status| StatusBadgeProps { status };
    let mut badge =
        Renderer::<StatusBadge>::with_root_and_props(root.clone(), props(Status::Connecting))
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

    badge.update(props(Status::Reconnecting {
        retry_in_secs: Some(7),
    }));
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

    badge.update(props(Status::Offline));
    eventually(&root, "the offline badge", status_is("offline")).await;
    assert!(
        all(&root, "[data-retry-in]").is_empty(),
        "no countdown once offline"
    );
    assert_eq!(
        text(&root, "[aria-live=polite]").as_deref(),
        Some("offline")
    );

    badge.update(props(Status::Live));
    eventually(&root, "the live badge", status_is("live")).await;
    assert_eq!(text(&root, "[aria-live=polite]").as_deref(), Some("live"));
    badge.destroy();
}

#[wasm_bindgen_test]
async fn ping_list_shows_pings_newest_first_with_gap_and_reset_marks() {
    let root = root();
    let state = state_after([
        received(EPOCH, 1, "2026-11-25T09:00:01.000Z"),
        received(EPOCH, 5, "2026-11-25T09:00:05.000Z"),
        received(EPOCH, 6, "2026-11-25T09:00:06.000Z"),
        received(EPOCH + 1, 2, "2026-11-25T09:00:08.000Z"),
    ]);
    let list = Renderer::<PingList>::with_root_and_props(root.clone(), list_props(&state)).render();
    let shown = eventually(&root, "six rows", || {
        Some(rows(&root)).filter(|rows| rows.len() == 6)
    })
    .await;
    assert_eq!(shown, ["#2", "reset", "#6", "#5", "gap 3", "#1"]);
    assert_eq!(text(&root, "[data-gap]").as_deref(), Some("missed 3"));
    assert!(text(&root, "[data-reset]").is_some_and(|mark| mark.contains("restarted")));
    assert!(text(&root, "[data-count='6']").is_some_and(|row| row.starts_with("#6")));
    list.destroy();
}

#[wasm_bindgen_test]
async fn ping_item_shows_the_local_time_as_hours_minutes_seconds() {
    let root = root();
    let sent = "2026-11-25T09:08:07.123Z";
    let state = state_after([received(EPOCH, 42, sent)]);
    let list = Renderer::<PingList>::with_root_and_props(root.clone(), list_props(&state)).render();
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
    let empty = StreamState::default();
    let mut list =
        Renderer::<PingList>::with_root_and_props(root.clone(), list_props(&empty)).render();
    eventually(&root, "the placeholder", || {
        text(&root, "#pings").filter(|t| t.contains("Waiting"))
    })
    .await;

    // Every third count is skipped, so the list mixes pings and gap marks.
    let busy = state_after(
        (1..=30_000)
            .filter(|count| count % 3 != 0)
            .map(|count| received(EPOCH, count, "2026-11-25T09:00:00.000Z")),
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
    let props = |received, malformed| StreamStatsProps {
        received,
        malformed,
    };
    let mut stats =
        Renderer::<StreamStats>::with_root_and_props(root.clone(), props(12, 0)).render();
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
