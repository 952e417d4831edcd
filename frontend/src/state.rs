//! The page's state as a pure reducer over the streams' typed feeds: the list of recent pings with
//! their latencies and the marks between them, the notices, the counters; the topics typed into
//! the topics box with the notices on them, from a stream of those topics alone; and who the page
//! is signed in as ([`Session`]), with "your notices": those on the topics its token grants, which
//! the page's own stream carries for a signed-in page.

use std::{collections::VecDeque, rc::Rc};

use shared::{AppEvent, EventStamp, Level, Notice, Ping, Selection, Topic};
use yew::Reducible;

use crate::{latency::Latencies, session::Session, stream::Feed};

/// How many list entries (pings and marks together) the page keeps. Older ones are dropped, so
/// memory and DOM stay bounded however long the page is open.
pub const MAX_ENTRIES: usize = 100;

/// How many notices the page keeps: the newest.
pub const MAX_NOTICES: usize = 5;

/// One row of the ping list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Unique for the page's lifetime: the row's Yew list key.
    pub key: u64,
    /// What the row shows.
    pub kind: EntryKind,
}

/// What a row of the ping list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A ping that arrived.
    Ping {
        /// The ping.
        ping: Ping,
        /// How late it arrived, in microseconds, as [`Latencies::record`] figured it; `None` for
        /// a ping the server replayed from history when the stream opened.
        latency_us: Option<u64>,
    },
    /// This many events of the stream between the neighbouring rows never arrived.
    Gap {
        /// How many.
        missed: u64,
    },
    /// The server restarted (the ids' epoch changed): counting starts over.
    Reset,
}

/// Which of the page's lists a notice is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeList {
    /// The page's own: from its stream of every topic.
    Page,
    /// The followed topics': from the topics box's stream.
    Followed,
    /// "Your notices": from the page's own stream, on a topic the page's token grants.
    Yours,
}

/// A notice the page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownNotice {
    /// Unique for the page's lifetime: its Yew list key, and what dismisses it.
    pub key: u64,
    /// The notice.
    pub notice: Notice,
    /// Its topic; `None` if its id named none.
    pub topic: Option<Topic>,
    /// The list it is shown in.
    pub list: NoticeList,
}

/// Everything that changes the page.
#[derive(Debug, Clone, PartialEq)]
pub enum PageAction {
    /// The stream's next item.
    Feed(Feed<AppEvent>),
    /// The person dismissed the notice with this key.
    Dismiss(u64),
    /// The person typed this into the topics box.
    Follow(String),
    /// The next item of the stream of the followed topics.
    TopicFeed(Feed<AppEvent>),
    /// The server said who the page is (at start-up, after signing in or out here or in
    /// another tab, or when a stream stopped); `None`: it did not answer, which changes nothing,
    /// but at start-up, when the page goes on anonymous (its stream, if refused, asks again).
    Session(Option<Session>),
}

/// The state behind the page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageState {
    /// Newest first, at most [`MAX_ENTRIES`].
    pub entries: VecDeque<Entry>,
    /// Newest first, at most [`MAX_NOTICES`] in each [`NoticeList`]; dismissed ones are gone, the
    /// followed topics' go when others are followed, and "your notices" when who the page is
    /// changes.
    pub notices: VecDeque<ShownNotice>,
    /// The newest critical notice that arrived, dismissed or not: what screen readers were told.
    pub alert: Option<ShownNotice>,
    /// Pings received since the page loaded (repeats are never fed, so never counted).
    pub received: u64,
    /// The newest pings' latencies.
    pub latencies: Latencies,
    /// The topics typed into the topics box ([`typed_selection`]): none at first; `None` when
    /// what was typed is not a selection.
    pub followed: Option<Selection>,
    /// Who the page is; `None` until the server said (the page follows no stream until then:
    /// it would not know under which name its tabs share it).
    pub session: Option<Rc<Session>>,
    next_key: u64,
}

impl Default for PageState {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
            notices: VecDeque::new(),
            alert: None,
            received: 0,
            latencies: Latencies::default(),
            followed: Some(Selection::all()),
            session: None,
            next_key: 0,
        }
    }
}

/// The selection typed into the topics box: its selectors, separated by spaces; `None` when one
/// is not a valid selector (or there are too many).
pub fn typed_selection(text: &str) -> Option<Selection> {
    Selection::parse(text.split(' ').filter(|part| !part.is_empty())).ok()
}

impl PageState {
    fn key(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    /// Shows `notice`, stamped `stamp`, in `list`; keeps the newest [`MAX_NOTICES`] there.
    fn show(&mut self, notice: Notice, stamp: Option<EventStamp>, list: NoticeList) {
        let key = self.key();
        self.notices.push_front(ShownNotice {
            key,
            notice,
            topic: stamp.map(|stamp| stamp.topic),
            list,
        });
        let mut kept = 0;
        self.notices.retain(|other| {
            kept += usize::from(other.list == list);
            other.list != list || kept <= MAX_NOTICES
        });
    }

    fn push(&mut self, kind: EntryKind) {
        let key = self.key();
        self.entries.push_front(Entry { key, kind });
        self.entries.truncate(MAX_ENTRIES);
    }

    fn feed(&mut self, item: Feed<AppEvent>) {
        match item {
            Feed::Event {
                event: AppEvent::Ping(ping),
                arrived,
                ..
            } => {
                // Streams re-opened under another identity (signing in or out) start again with
                // the newest ping, from history: the one already shown is not shown twice. Counts
                // are unique within a run, and a new run is marked (a reset) before its first.
                if let Some(Entry {
                    kind: EntryKind::Ping { ping: newest, .. },
                    ..
                }) = self.entries.front()
                    && newest.count == ping.count
                {
                    return;
                }
                let latency_us = arrived.map(|arrived| {
                    self.latencies
                        .record(ping.time.timestamp_micros(), arrived.as_micros())
                });
                self.push(EntryKind::Ping { ping, latency_us });
                self.received += 1;
            }
            Feed::Event {
                event: AppEvent::Notice(notice),
                stamp,
                ..
            } => {
                let critical = notice.level == Level::Critical;
                let yours = self.session.as_ref().is_some_and(|session| {
                    let topic = stamp.as_ref().map(|stamp| &stamp.topic);
                    topic.is_some_and(|topic| session.owns(topic))
                });
                let list = if yours {
                    NoticeList::Yours
                } else {
                    NoticeList::Page
                };
                self.show(notice, stamp, list);
                if critical {
                    self.alert = self.notices.front().cloned();
                }
            }
            Feed::Gap { missed } => self.push(EntryKind::Gap { missed }),
            Feed::Reset => self.push(EntryKind::Reset),
        }
    }
}

impl Reducible for PageState {
    type Action = PageAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            PageAction::Feed(item) => next.feed(item),
            PageAction::Follow(text) => {
                next.followed = typed_selection(&text);
                next.notices
                    .retain(|shown| shown.list != NoticeList::Followed);
            }
            PageAction::TopicFeed(Feed::Event {
                event: AppEvent::Notice(notice),
                stamp,
                ..
            }) => {
                next.show(notice, stamp, NoticeList::Followed);
            }
            // Pings are the main list's; the marks of the topics' stream are not shown.
            PageAction::TopicFeed(_) => return self,
            PageAction::Session(session) => {
                let was = next.session.as_deref();
                let Some(mut session) = session.or_else(|| was.is_none().then(Session::default))
                else {
                    return self;
                };
                if was.map(|was| &was.identity) != Some(&session.identity) {
                    next.notices.retain(|shown| shown.list != NoticeList::Yours);
                }
                // Said until the page is signed in again (the tabs ask again once it is said).
                session.ended |= session.sub.is_none() && was.is_some_and(|was| was.ended);
                next.session = Some(Rc::new(session));
            }
            PageAction::Dismiss(key) => {
                next.notices.retain(|shown| shown.key != key);
                if next.notices.len() == self.notices.len() {
                    // The same `Rc` tells Yew there is nothing to re-render.
                    return self;
                }
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::stream::Moment;

    const SENT_MS: i64 = 1_795_424_400_000;

    /// Ping `count`, arrived `delay_us` after it was sent, or replayed from history (`None`).
    fn ping(count: u64, delay_us: Option<i64>) -> PageAction {
        let time = DateTime::<Utc>::from_timestamp_millis(SENT_MS).expect("a valid time");
        let arrived = delay_us.map(|us| Moment::from_ms(SENT_MS as f64 + us as f64 / 1000.0));
        PageAction::Feed(Feed::Event {
            event: AppEvent::Ping(Ping { count, time }),
            stamp: None,
            arrived,
        })
    }

    fn notice(text: &str, level: Level) -> PageAction {
        let notice = Notice {
            text: text.to_owned(),
            level,
            time: DateTime::<Utc>::UNIX_EPOCH,
        };
        PageAction::Feed(Feed::Event {
            event: AppEvent::Notice(notice),
            stamp: None,
            arrived: Some(Moment::from_ms(0.0)),
        })
    }

    fn run(actions: impl IntoIterator<Item = PageAction>) -> Rc<PageState> {
        actions
            .into_iter()
            .fold(Rc::new(PageState::default()), PageState::reduce)
    }

    /// The list, oldest first, in a form that reads well in assertions.
    fn rows(state: &PageState) -> Vec<String> {
        let row = |entry: &Entry| match entry.kind {
            EntryKind::Ping { ping, latency_us } => match latency_us {
                Some(us) => format!("#{} {us} us", ping.count),
                None => format!("#{} replayed", ping.count),
            },
            EntryKind::Gap { missed } => format!("missed {missed}"),
            EntryKind::Reset => "reset".to_owned(),
        };
        state.entries.iter().rev().map(row).collect()
    }

    fn texts(state: &PageState) -> Vec<&str> {
        state
            .notices
            .iter()
            .map(|shown| shown.notice.text.as_str())
            .collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn pings_are_listed_newest_first_with_their_latency_and_the_marks_fed_between_them() {
        let state = run([
            ping(1, None),
            ping(2, Some(400)),
            PageAction::Feed(Feed::Gap { missed: 2 }),
            ping(5, Some(12_000)),
            PageAction::Feed(Feed::Reset),
            ping(1, Some(3_000)),
        ]);
        assert_eq!(
            rows(&state),
            [
                "#1 replayed",
                "#2 400 us",
                "missed 2",
                "#5 12000 us",
                "reset",
                "#1 3000 us"
            ]
        );
        assert_eq!(state.received, 4);
        assert_eq!(
            state.latencies.figures(),
            [400, 12_000, 3_000],
            "a ping replayed from history has no latency"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_newest_ping_again_from_a_reopened_stream_is_not_shown_twice() {
        let state = run([ping(7, Some(900)), ping(7, None), ping(8, Some(800))]);
        assert_eq!(rows(&state), ["#7 900 us", "#8 800 us"]);
        assert_eq!(state.received, 2);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn notices_are_kept_newest_first_five_at_most_and_not_listed_as_pings() {
        let state = run((1..=7).map(|n| notice(&format!("n{n}"), Level::Info)));
        assert_eq!(texts(&state), ["n7", "n6", "n5", "n4", "n3"]);
        assert!(state.entries.is_empty());
        assert_eq!(state.received, 0);
        assert_eq!(state.alert, None, "nothing critical");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_dismissed_notice_goes_and_the_alert_stays_the_newest_critical_one() {
        let state = run([
            notice("a", Level::Critical),
            notice("b", Level::Warning),
            notice("c", Level::Critical),
            notice("d", Level::Info),
        ]);
        let alert = state.alert.clone().expect("a critical notice");
        assert_eq!(alert.notice.text, "c");
        let state = PageState::reduce(state, PageAction::Dismiss(alert.key));
        assert_eq!(texts(&state), ["d", "b", "a"]);
        assert_eq!(
            state.alert,
            Some(alert),
            "dismissing does not announce another"
        );
        let unchanged = PageState::reduce(Rc::clone(&state), PageAction::Dismiss(999));
        assert!(Rc::ptr_eq(&state, &unchanged), "nothing to re-render");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn notices_keep_their_topic() {
        let PageAction::Feed(Feed::Event { event, arrived, .. }) = notice("paid", Level::Info)
        else {
            unreachable!("a notice")
        };
        let stamp = "00000000000000aa-1:orders/42:1".parse().ok();
        let state = run([PageAction::Feed(Feed::Event {
            event,
            stamp,
            arrived,
        })]);
        let topic = state.notices[0].topic.as_ref().map(Topic::as_str);
        assert_eq!(topic, Some("orders/42"));
    }

    fn notice_on(text: &str, topic: &str) -> PageAction {
        let PageAction::Feed(Feed::Event { event, arrived, .. }) = notice(text, Level::Info) else {
            unreachable!("a notice")
        };
        let stamp = format!("00000000000000aa-1:{topic}:1").parse().ok();
        PageAction::Feed(Feed::Event {
            event,
            stamp,
            arrived,
        })
    }

    fn signed_in(sub: &str) -> PageAction {
        let grants = format!(r#"["users/{sub}/**"]"#);
        PageAction::Session(Some(Session::new(Some(sub.to_owned()), &grants, true)))
    }

    fn listed(state: &PageState, list: NoticeList) -> Vec<&str> {
        let shown = state.notices.iter().filter(|shown| shown.list == list);
        shown.map(|shown| shown.notice.text.as_str()).collect()
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn notices_on_the_topics_the_token_grants_are_yours_and_go_when_who_the_page_is_changes() {
        let state = run([
            notice_on("for anyone", "users/alice/inbox"),
            signed_in("alice"),
            notice_on("for alice", "users/alice/inbox"),
            notice_on("public", "notices"),
            notice_on("alice's too", "users/alice/orders/7"),
        ]);
        assert_eq!(
            listed(&state, NoticeList::Yours),
            ["alice's too", "for alice"]
        );
        assert_eq!(listed(&state, NoticeList::Page), ["public", "for anyone"]);
        let same = PageState::reduce(Rc::clone(&state), signed_in("alice"));
        assert_eq!(listed(&same, NoticeList::Yours).len(), 2, "the same person");
        let bob = PageState::reduce(state, signed_in("bob"));
        assert_eq!(listed(&bob, NoticeList::Yours), [] as [&str; 0]);
        let bob = PageState::reduce(bob, notice_on("for alice", "users/alice/inbox"));
        assert_eq!(listed(&bob, NoticeList::Yours), [] as [&str; 0]);
        let ended = Session {
            ended: true,
            ..Session::default()
        };
        let anonymous = PageState::reduce(bob, PageAction::Session(Some(ended)));
        let unanswered = PageState::reduce(Rc::clone(&anonymous), PageAction::Session(None));
        assert!(
            Rc::ptr_eq(&anonymous, &unanswered),
            "no answer changes nothing"
        );
        let anonymous = PageState::reduce(anonymous, PageAction::Session(Some(Session::default())));
        let still = anonymous
            .session
            .as_ref()
            .is_some_and(|session| session.ended);
        assert!(
            still,
            "a session that ended says so until the page signs in again"
        );
        let anonymous = PageState::reduce(anonymous, notice_on("x", "users/alice/inbox"));
        assert_eq!(listed(&anonymous, NoticeList::Yours), [] as [&str; 0]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn what_is_typed_into_the_topics_box_is_followed_if_it_is_a_selection() {
        let follow = |text: &str| run([PageAction::Follow(text.to_owned())]).followed.clone();
        assert_eq!(PageState::default().followed, Some(Selection::all()));
        assert_eq!(follow(""), Some(Selection::all()));
        assert_eq!(follow("  "), Some(Selection::all()));
        let both = Selection::parse(["orders/*", "users/7"]).ok();
        assert_eq!(follow("orders/* users/7"), both);
        assert_eq!(follow(" orders/*  users/7 "), both);
        assert_eq!(follow("orders//*"), None);
        assert_eq!(follow("orders/*,users/7"), None, "a comma is no separator");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_list_stays_bounded_however_many_pings_arrive() {
        let state = run((1..=100_000).flat_map(|count| {
            [
                ping(count, Some(1)),
                PageAction::Feed(Feed::Gap { missed: 1 }),
            ]
        }));
        assert_eq!(state.entries.len(), MAX_ENTRIES);
        assert_eq!(state.received, 100_000);
        assert_eq!(state.entries[0].kind, EntryKind::Gap { missed: 1 });
        let keys: Vec<u64> = state.entries.iter().map(|entry| entry.key).collect();
        assert!(
            keys.windows(2).all(|pair| pair[0] > pair[1]),
            "keys are unique, newest first"
        );
    }
}
