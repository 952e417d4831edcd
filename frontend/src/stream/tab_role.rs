//! This tab's part in the stream, as a pure state machine: it follows the stream another tab
//! holds, or holds the stream itself. Everything that happens arrives as a method call with the
//! time; everything it does leaves through [`Io`]. So the rules (what a leader relays, how a
//! follower catches up, when a silent stream is given up, where a new `EventSource` resumes) are
//! tested without a browser, and the hook is left with the plumbing.

use shared::Heartbeat;

use crate::{
    backoff::Backoff,
    catch_up::CatchUp,
    recent_pings::RecentPings,
    stall::{self, StallWatch, Verdict},
    state::Action,
    tab_message::{Link, RawPing, Snapshot, TabMessage},
};

/// The longest piece of a malformed event's data written to the console.
const LOGGED_DATA_CHARS: usize = 200;

/// What a [`TabRole`] does to the world.
pub trait Io {
    /// Shows `action` on this tab's page.
    fn dispatch(&mut self, action: Action);
    /// Tells the other tabs sharing the stream, if any.
    fn post(&mut self, message: &TabMessage);
    /// Opens an `EventSource` on `url` in place of the current one, if any.
    fn open(&mut self, url: &str);
    /// Closes the current `EventSource`.
    fn close(&mut self);
    /// A random number in `0.0..1.0`.
    fn random(&mut self) -> f64;
    /// Writes `text` to the console as a warning.
    fn warn(&mut self, text: &str);
}

/// What this tab's `EventSource` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A ping event.
    Ping(RawPing),
    /// A heartbeat event; its raw `data`.
    Heartbeat(String),
    /// The stream opened.
    Open,
    /// The browser lost the stream and retries by itself.
    Reconnecting,
    /// The browser gave up on the stream for good (an error status, the wrong content type).
    Closed,
}

/// Following or holding.
#[derive(Debug)]
enum Part {
    /// Another tab holds the stream; this one shows what it relays.
    Following { catch_up: CatchUp },
    /// This tab holds the stream.
    Holding {
        backoff: Backoff,
        /// Attempts in a row that never opened and were given up on.
        timed_out: u32,
        attempt: Attempt,
    },
}

/// Where a holder's stream stands.
#[derive(Debug, Clone, Copy)]
enum Attempt {
    /// An `EventSource` is open or opening.
    Running {
        /// Whether it has opened.
        opened: bool,
    },
    /// The browser gave up on the last one; the next opens at `until`.
    Waiting { until: f64 },
}

/// One tab's part in the stream. See the [module](self) documentation.
#[derive(Debug)]
pub struct TabRole {
    /// The stream's URL without a resume id.
    url: String,
    recent: RecentPings,
    /// The raw data of the newest valid heartbeat.
    heartbeat: Option<String>,
    /// The silence that counts as a stall, from the newest heartbeat.
    budget_ms: f64,
    /// What the badge was last told about the stream.
    link: Link,
    /// Watches the stream this tab holds, or what the leader relays.
    watch: StallWatch,
    part: Part,
}

impl TabRole {
    fn new(url: &str, part: Part, restored: Option<Snapshot>, now: f64, io: &mut impl Io) -> Self {
        let mut role = Self {
            url: url.to_owned(),
            recent: RecentPings::default(),
            heartbeat: None,
            budget_ms: stall::DEFAULT_BUDGET_MS,
            link: Link::Connecting,
            watch: StallWatch::new(now, stall::DEFAULT_BUDGET_MS),
            part,
        };
        if let Some(restored) = restored {
            if let Some(data) = restored.heartbeat {
                role.apply_heartbeat(data, io);
            }
            for ping in restored.pings {
                role.apply_ping(ping, io);
            }
        }
        role
    }

    fn holding() -> Part {
        Part::Holding {
            backoff: Backoff::default(),
            timed_out: 0,
            attempt: Attempt::Running { opened: false },
        }
    }

    /// Whether this tab holds the stream.
    pub fn is_holding(&self) -> bool {
        matches!(self.part, Part::Holding { .. })
    }

    /// What this tab shows, for a new tab that asks, or for a reload.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            link: self.link,
            heartbeat: self.heartbeat.clone(),
            pings: self.recent.to_vec(),
        }
    }

    fn catch_up(&mut self) -> Option<&mut CatchUp> {
        match &mut self.part {
            Part::Following { catch_up, .. } => Some(catch_up),
            Part::Holding { .. } => None,
        }
    }

    /// Shows `link` on this tab's badge and, if this tab holds the stream and it changed, on the
    /// other tabs' too.
    fn show(&mut self, link: Link, io: &mut impl Io) {
        if let Some(action) = link.action() {
            io.dispatch(action);
        }
        let changed = self.link != link;
        self.link = link;
        if changed && self.is_holding() {
            io.post(&TabMessage::Link(link));
        }
    }

    /// Shows a ping unless it repeats one already shown; anything that is not a ping is logged
    /// and counted.
    fn apply_ping(&mut self, raw: RawPing, io: &mut impl Io) {
        match raw.decode() {
            Ok((ping, id)) => {
                // The page shows what is kept, by the reducer's own rule.
                if self.recent.record(raw, &ping, id) {
                    io.dispatch(Action::Received { ping, id });
                }
            }
            Err(err) => {
                let shown: String = raw.data.chars().take(LOGGED_DATA_CHARS).collect();
                io.warn(&format!(
                    "ignored malformed {} event ({err}): \"{shown}\"",
                    shared::EVENT_NAME
                ));
                io.dispatch(Action::Malformed);
            }
        }
    }

    /// Learns the stream's timing from a heartbeat's `data`; a malformed one is logged.
    fn apply_heartbeat(&mut self, data: String, io: &mut impl Io) {
        match serde_json::from_str::<Heartbeat>(&data) {
            Ok(timing) => {
                self.budget_ms = stall::budget_ms(&timing);
                self.watch.set_budget(self.budget_ms);
                self.heartbeat = Some(data);
            }
            Err(err) => io.warn(&format!(
                "ignored malformed {} event ({err})",
                shared::HEARTBEAT_EVENT
            )),
        }
    }

    /// Shows the whole seconds left before the next attempt.
    fn count_down(&mut self, now: f64, io: &mut impl Io) {
        if let Part::Holding {
            attempt: Attempt::Waiting { until },
            ..
        } = self.part
        {
            let secs = ((until - now) / 1000.0).ceil().max(0.0);
            self.show(Link::RetryIn(secs as u32), io);
        }
    }

    /// Opens a new `EventSource`, resuming after the newest id seen. One that has not opened is
    /// given [`stall::connect_budget_ms`]; no other wait.
    fn connect(&mut self, now: f64, io: &mut impl Io) {
        let Part::Holding {
            attempt, timed_out, ..
        } = &mut self.part
        else {
            return;
        };
        *attempt = Attempt::Running { opened: false };
        self.watch = StallWatch::new(now, stall::connect_budget_ms(self.budget_ms, *timed_out));
        // Only a page's very first attempt is "connecting"; anything later resumes a stream.
        if self.link != Link::Connecting {
            self.show(Link::Reconnecting, io);
        }
        io.open(&shared::resume_url(&self.url, self.recent.newest_id()));
    }

    /// A holder looks at its stream's silence, and replaces a stalled one at once.
    fn look(&mut self, now: f64, io: &mut impl Io) {
        let Part::Holding {
            attempt: Attempt::Running { opened },
            timed_out,
            ..
        } = &mut self.part
        else {
            return;
        };
        if let Verdict::Stalled { silent_ms } = self.watch.check(now) {
            *timed_out = if *opened {
                0
            } else {
                timed_out.saturating_add(1)
            };
            io.warn(&format!(
                "nothing from the stream for {} ms: opening a fresh connection",
                silent_ms as u64
            ));
            io.close();
            self.connect(now, io);
        }
    }

    /// A tab that follows the stream another tab holds: shows what a reload kept (`restored`),
    /// then asks the leader for its recent pings.
    pub fn follow(url: &str, restored: Option<Snapshot>, now: f64, io: &mut impl Io) -> Self {
        let nonce = (io.random() * f64::from(u32::MAX)) as u32;
        let part = Part::Following {
            catch_up: CatchUp::new(nonce, now),
        };
        let mut role = Self::new(url, part, restored, now, io);
        io.post(&TabMessage::Hello(nonce));
        role.watch = StallWatch::new(now, role.budget_ms);
        role
    }

    /// A tab that holds the stream itself from the start (sharing is off or impossible): shows
    /// what a reload kept (`restored`) and opens the stream, resuming after it.
    pub fn hold(url: &str, restored: Option<Snapshot>, now: f64, io: &mut impl Io) -> Self {
        let mut role = Self::new(url, Self::holding(), restored, now, io);
        role.connect(now, io);
        role
    }

    /// This tab was granted the lock (or the browser refused it the lock, and it goes on alone):
    /// it holds the stream from now on, resuming after the newest id it has seen.
    pub fn granted(&mut self, now: f64, io: &mut impl Io) {
        let Part::Following { catch_up, .. } = &mut self.part else {
            return;
        };
        let held = catch_up.give_up();
        self.part = Self::holding();
        for ping in held {
            self.apply_ping(ping, io);
        }
        self.connect(now, io);
    }

    /// Something happened to the `EventSource` this tab holds.
    pub fn stream(&mut self, event: StreamEvent, now: f64, io: &mut impl Io) {
        let Part::Holding {
            backoff,
            timed_out,
            attempt,
        } = &mut self.part
        else {
            return;
        };
        match event {
            StreamEvent::Ping(ping) => {
                self.watch.heard(now);
                io.post(&TabMessage::Ping(ping.clone()));
                self.apply_ping(ping, io);
            }
            StreamEvent::Heartbeat(data) => {
                self.watch.heard(now);
                io.post(&TabMessage::Heartbeat(data.clone()));
                self.apply_heartbeat(data, io);
            }
            StreamEvent::Open => {
                *attempt = Attempt::Running { opened: true };
                backoff.reset();
                self.watch.heard(now);
                self.watch.set_budget(self.budget_ms);
                self.show(Link::Open, io);
            }
            StreamEvent::Reconnecting => self.show(Link::Reconnecting, io),
            StreamEvent::Closed => {
                io.close();
                let delay = backoff.next_delay(io.random());
                *attempt = Attempt::Waiting {
                    until: now + delay.as_millis() as f64,
                };
                *timed_out = 0;
                self.count_down(now, io);
            }
        }
    }

    /// Another tab said something.
    pub fn tab_message(&mut self, message: TabMessage, now: f64, io: &mut impl Io) {
        if self.is_holding() {
            match message {
                TabMessage::Hello(nonce) => io.post(&TabMessage::Snapshot {
                    nonce,
                    snapshot: self.snapshot(),
                }),
                TabMessage::Silent => self.look(now, io),
                // What a leader says; while this tab holds the lock, no other tab leads.
                TabMessage::Ping(_)
                | TabMessage::Heartbeat(_)
                | TabMessage::Link(_)
                | TabMessage::Snapshot { .. } => {}
            }
            return;
        }
        match message {
            TabMessage::Ping(ping) => {
                self.watch.heard(now);
                self.show(Link::Open, io);
                if let Some(ping) = self.catch_up().and_then(|catch_up| catch_up.live(ping)) {
                    self.apply_ping(ping, io);
                }
            }
            TabMessage::Heartbeat(data) => {
                self.watch.heard(now);
                self.show(Link::Open, io);
                self.apply_heartbeat(data, io);
            }
            TabMessage::Link(link) => self.show(link, io),
            TabMessage::Snapshot { nonce, snapshot } => {
                let answer = self
                    .catch_up()
                    .and_then(|catch_up| catch_up.answer(nonce, snapshot.pings));
                let Some(pings) = answer else {
                    return;
                };
                if let Some(data) = snapshot.heartbeat {
                    self.apply_heartbeat(data, io);
                }
                for ping in pings {
                    self.apply_ping(ping, io);
                }
                self.watch.heard(now);
                self.show(snapshot.link, io);
            }
            // For the leader.
            TabMessage::Hello(_) | TabMessage::Silent => {}
        }
    }

    /// The browser came back online: a holder waiting out a backoff tries at once.
    pub fn online(&mut self, now: f64, io: &mut impl Io) {
        if let Part::Holding {
            attempt: Attempt::Waiting { .. },
            ..
        } = self.part
        {
            self.connect(now, io);
        }
    }

    /// Milliseconds from `now` until [`TabRole::tick`] has something to do.
    pub fn wake_in(&self, now: f64) -> f64 {
        match &self.part {
            Part::Following { catch_up } => {
                let watch = self.watch.wait(now);
                catch_up.wait(now).map_or(watch, |answer| watch.min(answer))
            }
            Part::Holding {
                attempt: Attempt::Running { .. },
                ..
            } => self.watch.wait(now),
            // Wake when the whole seconds shown change, or it is time.
            Part::Holding {
                attempt: Attempt::Waiting { until },
                ..
            } => {
                let left = until - now;
                if left <= 0.0 {
                    0.0
                } else {
                    left - ((left / 1000.0).ceil() - 1.0) * 1000.0
                }
            }
        }
    }

    /// Time passed (a timer set from [`TabRole::wake_in`] fired, maybe much later than asked).
    pub fn tick(&mut self, now: f64, io: &mut impl Io) {
        match self.part {
            Part::Following { ref mut catch_up } => {
                let held = catch_up.expire(now);
                for ping in held {
                    self.apply_ping(ping, io);
                }
                if let Verdict::Stalled { .. } = self.watch.check(now) {
                    // Show it, and tell the leader, whose timers may be throttled.
                    self.show(Link::Reconnecting, io);
                    io.post(&TabMessage::Silent);
                    self.watch = StallWatch::new(now, self.budget_ms);
                }
            }
            Part::Holding {
                attempt: Attempt::Running { .. },
                ..
            } => self.look(now, io),
            Part::Holding {
                attempt: Attempt::Waiting { until },
                ..
            } => {
                if now >= until {
                    self.connect(now, io);
                } else {
                    self.count_down(now, io);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::{Epoch, EventId};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::catch_up::SNAPSHOT_WAIT_MS;

    const URL: &str = "/sse";
    const EPOCH: &str = "00000000000000aa";
    /// The data of a heartbeat for a ping a second and a heartbeat after 2 s of silence (the
    /// server's defaults): a 3 s budget.
    fn defaults() -> String {
        let timing = Heartbeat {
            interval_ms: 1000,
            heartbeat_ms: Some(2000),
        };
        serde_json::to_string(&timing).expect("a heartbeat serializes")
    }

    /// Records what the role does.
    #[derive(Debug, Default)]
    struct FakeIo {
        actions: Vec<Action>,
        posts: Vec<TabMessage>,
        opened: Vec<String>,
        closes: usize,
        warnings: Vec<String>,
    }

    impl Io for FakeIo {
        fn dispatch(&mut self, action: Action) {
            self.actions.push(action);
        }
        fn post(&mut self, message: &TabMessage) {
            self.posts.push(message.clone());
        }
        fn open(&mut self, url: &str) {
            self.opened.push(url.to_owned());
        }
        fn close(&mut self) {
            self.closes += 1;
        }
        fn random(&mut self) -> f64 {
            0.0
        }
        fn warn(&mut self, text: &str) {
            self.warnings.push(text.to_owned());
        }
    }

    impl FakeIo {
        /// The counts of the pings dispatched, in order, and forgets everything seen so far.
        fn take_counts(&mut self) -> Vec<u64> {
            let counts = self
                .actions
                .iter()
                .filter_map(|action| match action {
                    Action::Received { ping, .. } => Some(ping.count),
                    _ => None,
                })
                .collect();
            *self = Self::default();
            counts
        }

        /// The badge changes dispatched, in order.
        fn badge(&self) -> Vec<&Action> {
            self.actions
                .iter()
                .filter(|action| !matches!(action, Action::Received { .. }))
                .collect()
        }
    }

    fn raw(count: u64) -> RawPing {
        RawPing::example(EPOCH, count)
    }

    fn resume_after(count: u64) -> String {
        let id = EventId {
            epoch: Epoch(0xaa),
            count,
        };
        shared::resume_url(URL, Some(id))
    }

    /// A holder whose stream opened at 0 ms with the default timing and carried pings `counts`,
    /// one a second from 1 s.
    fn live_holder(counts: impl IntoIterator<Item = u64>) -> (TabRole, FakeIo) {
        let mut io = FakeIo::default();
        let mut role = TabRole::hold(URL, None, 0.0, &mut io);
        role.stream(StreamEvent::Open, 0.0, &mut io);
        role.stream(StreamEvent::Heartbeat(defaults()), 0.0, &mut io);
        for (second, count) in counts.into_iter().enumerate() {
            role.stream(
                StreamEvent::Ping(raw(count)),
                1_000.0 * (second + 1) as f64,
                &mut io,
            );
        }
        (role, io)
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_holder_opens_the_stream_and_relays_everything_it_receives() {
        let mut io = FakeIo::default();
        let mut role = TabRole::hold(URL, None, 0.0, &mut io);
        assert_eq!(io.opened, [URL], "a first visit resumes nothing");
        assert!(io.actions.is_empty(), "a first attempt stays `connecting`");
        role.stream(StreamEvent::Open, 10.0, &mut io);
        role.stream(StreamEvent::Heartbeat(defaults()), 10.0, &mut io);
        role.stream(StreamEvent::Ping(raw(1)), 20.0, &mut io);
        assert_eq!(
            io.posts,
            [
                TabMessage::Link(Link::Open),
                TabMessage::Heartbeat(defaults()),
                TabMessage::Ping(raw(1)),
            ]
        );
        assert_eq!(io.badge(), [&Action::Opened]);
        assert_eq!(io.take_counts(), [1]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_holder_answers_a_hello_with_what_it_shows_and_ignores_other_leaders() {
        let (mut role, mut io) = live_holder(1..=3);
        io.take_counts();
        role.tab_message(TabMessage::Hello(9), 3_500.0, &mut io);
        role.tab_message(TabMessage::Ping(raw(50)), 3_500.0, &mut io);
        role.tab_message(TabMessage::Link(Link::Reconnecting), 3_500.0, &mut io);
        assert_eq!(
            io.posts,
            [TabMessage::Snapshot {
                nonce: 9,
                snapshot: Snapshot {
                    link: Link::Open,
                    heartbeat: Some(defaults()),
                    pings: (1..=3).map(raw).collect(),
                },
            }]
        );
        assert!(io.actions.is_empty(), "nothing from another tab is shown");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_asks_for_the_recent_pings_and_shows_them_before_live_ones_that_came_first() {
        let mut io = FakeIo::default();
        let mut role = TabRole::follow(URL, None, 0.0, &mut io);
        assert_eq!(io.posts, [TabMessage::Hello(0)], "random() is 0 here");
        assert!(io.opened.is_empty(), "a follower opens no stream");
        io.posts.clear();
        // The leader's live pings beat its answer.
        role.tab_message(TabMessage::Ping(raw(4)), 10.0, &mut io);
        role.tab_message(TabMessage::Ping(raw(5)), 20.0, &mut io);
        let snapshot = Snapshot {
            link: Link::Open,
            heartbeat: Some(defaults()),
            pings: (1..=4).map(raw).collect(),
        };
        // Another tab's answer is not ours.
        role.tab_message(
            TabMessage::Snapshot {
                nonce: 1,
                snapshot: snapshot.clone(),
            },
            25.0,
            &mut io,
        );
        assert_eq!(io.take_counts(), [] as [u64; 0]);
        role.tab_message(TabMessage::Snapshot { nonce: 0, snapshot }, 30.0, &mut io);
        assert_eq!(io.take_counts(), [1, 2, 3, 4, 5], "the repeat is not shown");
        role.tab_message(TabMessage::Ping(raw(6)), 1_000.0, &mut io);
        assert_eq!(io.take_counts(), [6]);
        assert!(io.posts.is_empty(), "a follower relays nothing");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_without_an_answer_shows_live_pings_after_a_moment() {
        let mut io = FakeIo::default();
        let mut role = TabRole::follow(URL, None, 0.0, &mut io);
        role.tab_message(TabMessage::Ping(raw(7)), 10.0, &mut io);
        assert_eq!(role.wake_in(10.0), SNAPSHOT_WAIT_MS - 10.0);
        role.tick(SNAPSHOT_WAIT_MS, &mut io);
        assert_eq!(io.take_counts(), [7]);
        role.tab_message(TabMessage::Ping(raw(8)), 600.0, &mut io);
        assert_eq!(io.take_counts(), [8]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_shows_the_leaders_connection_on_its_own_badge() {
        let mut io = FakeIo::default();
        let mut role = TabRole::follow(URL, None, 0.0, &mut io);
        for link in [Link::Open, Link::Reconnecting, Link::RetryIn(2), Link::Open] {
            role.tab_message(TabMessage::Link(link), 10.0, &mut io);
        }
        assert_eq!(
            io.badge(),
            [
                &Action::Opened,
                &Action::Reconnecting,
                &Action::RetryIn(2),
                &Action::Opened
            ]
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_granted_the_lock_resumes_after_the_newest_id_it_saw() {
        let mut io = FakeIo::default();
        let mut role = TabRole::follow(URL, None, 0.0, &mut io);
        role.tab_message(TabMessage::Heartbeat(defaults()), 5.0, &mut io);
        for count in 1..=4 {
            role.tab_message(TabMessage::Ping(raw(count)), 10.0, &mut io);
        }
        role.tick(SNAPSHOT_WAIT_MS, &mut io);
        io.take_counts();
        role.granted(2_000.0, &mut io);
        assert!(role.is_holding());
        assert_eq!(io.opened, [resume_after(4)]);
        assert_eq!(
            io.badge(),
            [&Action::Reconnecting],
            "it was live: a hand-over"
        );
        assert_eq!(io.posts, [TabMessage::Link(Link::Reconnecting)]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_silent_stream_is_replaced_at_once_resuming_after_the_newest_id() {
        let (mut role, mut io) = live_holder(1..=3);
        io.take_counts();
        // The last ping came at 3 s; the budget is 3 s.
        role.tick(3_000.0, &mut io);
        assert_eq!(role.wake_in(3_000.0), 3_000.0);
        role.tick(5_999.0, &mut io);
        assert!(io.opened.is_empty());
        role.tick(6_000.0, &mut io);
        assert_eq!(io.closes, 1);
        assert_eq!(io.opened, [resume_after(3)]);
        assert_eq!(io.badge(), [&Action::Reconnecting]);
        assert_eq!(io.posts, [TabMessage::Link(Link::Reconnecting)]);
        assert!(io.warnings[0].contains("3000 ms"), "{:?}", io.warnings);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn attempts_that_never_open_are_given_twice_as_long_each_time() {
        let (mut role, mut io) = live_holder(1..=3);
        role.tick(3_000.0, &mut io);
        let mut now = 6_000.0;
        role.tick(now, &mut io);
        let mut waits = Vec::new();
        for _ in 0..5 {
            let wait = role.wake_in(now);
            waits.push(wait);
            now += wait;
            role.tick(now, &mut io);
        }
        assert_eq!(waits, [3_000.0, 6_000.0, 12_000.0, 24_000.0, 30_000.0]);
        // The first one, then the stalled one's replacement and five more.
        assert_eq!(io.opened.len(), 7);
        assert!(io.opened[1..].iter().all(|url| *url == resume_after(3)));
        // The server answers the pending one: the next stall is a short one again.
        role.stream(StreamEvent::Open, now, &mut io);
        assert_eq!(role.wake_in(now), 3_000.0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_stream_the_browser_gave_up_on_is_reopened_after_a_countdown() {
        let (mut role, mut io) = live_holder(1..=2);
        io.take_counts();
        role.stream(StreamEvent::Closed, 2_500.0, &mut io);
        assert_eq!(io.closes, 1);
        // random() is 0: the first backoff is its full 500 ms.
        assert_eq!(io.badge(), [&Action::RetryIn(1)]);
        assert_eq!(role.wake_in(2_500.0), 500.0);
        role.tick(3_000.0, &mut io);
        assert_eq!(io.opened, [resume_after(2)]);
        assert_eq!(io.badge(), [&Action::RetryIn(1), &Action::Reconnecting]);
        // A second failure waits longer; coming back online cuts it short.
        role.stream(StreamEvent::Closed, 3_100.0, &mut io);
        assert_eq!(role.wake_in(3_100.0), 1_000.0);
        role.online(3_200.0, &mut io);
        assert_eq!(io.opened.len(), 2);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_that_hears_nothing_says_so_and_the_leader_looks_at_once() {
        let mut follower_io = FakeIo::default();
        let mut follower = TabRole::follow(URL, None, 0.0, &mut follower_io);
        follower.tab_message(TabMessage::Heartbeat(defaults()), 0.0, &mut follower_io);
        follower.tab_message(TabMessage::Ping(raw(1)), 1_000.0, &mut follower_io);
        follower_io = FakeIo::default();
        follower.tick(3_999.0, &mut follower_io);
        assert!(follower_io.posts.is_empty());
        follower.tick(4_000.0, &mut follower_io);
        assert_eq!(follower_io.posts, [TabMessage::Silent]);
        assert_eq!(follower_io.badge(), [&Action::Reconnecting]);

        // The leader's own timer is throttled (a background tab); the follower's word is enough.
        let (mut leader, mut leader_io) = live_holder([1]);
        leader_io.take_counts();
        leader.tab_message(TabMessage::Silent, 2_000.0, &mut leader_io);
        assert!(
            leader_io.opened.is_empty(),
            "not silent for long enough yet"
        );
        leader.tab_message(TabMessage::Silent, 4_000.0, &mut leader_io);
        assert_eq!(leader_io.opened, [resume_after(1)]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_reload_shows_what_it_kept_and_resumes_after_it() {
        let kept = Snapshot {
            link: Link::Open,
            heartbeat: Some(defaults()),
            pings: (10..=12).map(raw).collect(),
        };
        let mut io = FakeIo::default();
        let role = TabRole::hold(URL, Some(kept.clone()), 0.0, &mut io);
        assert_eq!(io.opened, [resume_after(12)]);
        assert_eq!(role.wake_in(0.0), 3_000.0, "the kept heartbeat's timing");
        assert_eq!(io.take_counts(), [10, 11, 12]);
        assert_eq!(role.snapshot().pings, kept.pings);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn malformed_events_are_counted_and_logged_not_relayed_as_pings() {
        let (mut role, _) = live_holder([]);
        let mut io = FakeIo::default();
        let junk = RawPing {
            data: "not json".to_owned(),
            id: format!("{EPOCH}-1"),
        };
        role.stream(StreamEvent::Ping(junk.clone()), 100.0, &mut io);
        role.stream(StreamEvent::Heartbeat("{}".to_owned()), 100.0, &mut io);
        assert_eq!(io.actions, [Action::Malformed]);
        assert_eq!(io.warnings.len(), 2);
        assert!(role.snapshot().pings.is_empty());
        // Still the 3 s budget: silent since 100 ms, so the check at 3 s finds 100 ms to go.
        role.tick(3_000.0, &mut io);
        assert_eq!(role.wake_in(3_000.0), 100.0, "the timing stays");
        // Relayed as received: every tab counts it.
        assert_eq!(io.posts[0], TabMessage::Ping(junk));
    }
}
