//! This tab's part in the stream, as a pure state machine: it follows the stream another tab
//! holds, or holds the stream itself. Everything that happens arrives as a method call with the
//! time; everything it does leaves through [`Io`]. So the rules (what a leader relays, how a
//! follower catches up, when a silent stream is given up, where a new `EventSource` resumes, what
//! the feed gets) are tested without a browser, and the hook is left with the plumbing.
//!
//! Generic over the event set `E`, which it only ever names to decode an event for the feed.

use std::marker::PhantomData;

use shared::{EventSet, Selection, Start, StreamEvent as _, Timing};

use crate::stream::{
    Connection, Feed, Moment,
    backoff::Backoff,
    catch_up::CatchUp,
    connection::Signal,
    feed::Verdict,
    raw_event::RawEvent,
    recent::RecentEvents,
    stall::{self, StallWatch, Verdict as Stall},
    status::StatusAction,
    tab_message::{Snapshot, TabMessage},
};

/// The longest piece of a malformed event's data written to the console.
const LOGGED_DATA_CHARS: usize = 200;

/// What a [`TabRole`] does to the world.
pub trait Io<E> {
    /// Hands the page the next item of the feed.
    fn feed(&mut self, item: Feed<E>);
    /// Changes what the page shows of the stream's state.
    fn status(&mut self, action: StatusAction);
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
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// An event of one of the set's names.
    Event(RawEvent),
    /// A heartbeat event; its raw `data`.
    Heartbeat(String),
    /// The stream opened.
    Open,
    /// The browser lost the stream and retries by itself.
    Dropped,
    /// The browser gave up on the stream (an error status, the wrong content type).
    GaveUp {
        /// Whether the server's answer was final ([`crate::stream::connection::is_final`]).
        final_answer: bool,
    },
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
        /// How many of the next events the server replays from its history (its opening
        /// heartbeat said so): they are relayed and fed without an arrival time.
        replaying: u64,
    },
}

/// Milliseconds from `now` until the whole seconds left before `at` change; `None` once `at` has
/// passed.
fn countdown_wait(at: Moment, now: Moment) -> Option<f64> {
    let left = at.since(now);
    (left > 0.0).then(|| left - ((left / 1000.0).ceil() - 1.0) * 1000.0)
}

/// One tab's part in the stream of the event set `E`. See the [module](self) documentation.
#[derive(Debug)]
pub struct TabRole<E> {
    /// The stream's URL without a query.
    url: String,
    /// The topics the stream carries.
    selection: Selection,
    recent: RecentEvents,
    /// The raw data of the newest valid heartbeat.
    heartbeat: Option<String>,
    /// The silence that counts as a stall, from the newest heartbeat.
    budget_ms: f64,
    /// The one connection state: this tab's stream, or the leader's as it told.
    connection: Connection,
    /// Watches the stream this tab holds, or what the leader relays.
    watch: StallWatch,
    part: Part,
    /// The names of the events whose malformed data has been logged: once per name is enough.
    logged: Vec<String>,
    set: PhantomData<E>,
}

impl<E: EventSet> TabRole<E> {
    fn new(
        url: &str,
        selection: &Selection,
        part: Part,
        restored: Option<Snapshot>,
        now: Moment,
        io: &mut impl Io<E>,
    ) -> Self {
        let mut role = Self {
            url: url.to_owned(),
            selection: selection.clone(),
            recent: RecentEvents::default(),
            heartbeat: None,
            budget_ms: stall::DEFAULT_BUDGET_MS,
            connection: Connection::Connecting,
            watch: StallWatch::new(now, stall::DEFAULT_BUDGET_MS),
            part,
            logged: Vec::new(),
            set: PhantomData,
        };
        if let Some(restored) = restored {
            if let Some(data) = restored.heartbeat {
                // Its reset, if it opened one, is among the events.
                role.apply_heartbeat(data, io);
            }
            for event in restored.events {
                role.apply(event, io);
            }
        }
        role
    }

    fn holding() -> Part {
        Part::Holding {
            backoff: Backoff::default(),
            timed_out: 0,
            replaying: 0,
        }
    }

    /// Whether this tab holds the stream.
    pub fn is_holding(&self) -> bool {
        matches!(self.part, Part::Holding { .. })
    }

    /// What this tab shows, for a new tab that asks, or for a reload.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connection: self.connection,
            heartbeat: self.heartbeat.clone(),
            events: self.recent.to_vec(),
        }
    }

    /// Shows `connection` on this tab's page and, if this tab holds the stream and it changed,
    /// on the other tabs' too.
    fn show(&mut self, connection: Connection, now: Moment, io: &mut impl Io<E>) {
        io.status(StatusAction::Show { connection, now });
        let changed = self.connection != connection;
        self.connection = connection;
        if changed && self.is_holding() {
            io.post(&TabMessage::Connection(connection));
        }
    }

    /// Moves the connection on by `signal`.
    fn signal(&mut self, signal: Signal, now: Moment, io: &mut impl Io<E>) {
        self.show(self.connection.next(signal), now, io);
    }

    /// Logs `text` about the event `name`, unless something was logged about that name already.
    fn log_once(&mut self, name: &str, text: &str, io: &mut impl Io<E>) {
        if !self.logged.iter().any(|logged| logged == name) {
            self.logged.push(name.to_owned());
            io.warn(text);
        }
    }

    /// Judges `raw` by its stamp and feeds it, after a gap or reset mark if there is one, unless
    /// it repeats one already fed; a [`RawEvent::reset`] feeds its mark alone. One whose data
    /// does not decode is counted and logged (once per name), and never fed.
    fn apply(&mut self, raw: RawEvent, io: &mut impl Io<E>) {
        let stamp = raw.stamp();
        let arrived = raw.arrived;
        let decoded = (!raw.is_reset()).then(|| {
            raw.decode::<E>().map_err(|_| {
                // What the parser said is left out: its messages cost the page kilobytes, and
                // the data says it.
                let shown: String = raw.data.chars().take(LOGGED_DATA_CHARS).collect();
                let text = format!("ignored malformed {} event: \"{shown}\"", raw.name);
                (raw.name.clone(), text)
            })
        });
        match self.recent.record(raw, stamp.as_ref()) {
            Verdict::Repeat => return,
            Verdict::Next => {}
            Verdict::Gap(missed) => io.feed(Feed::Gap { missed }),
            Verdict::Reset => io.feed(Feed::Reset),
        }
        match decoded {
            Some(Ok(event)) => io.feed(Feed::Event {
                event,
                stamp,
                arrived,
            }),
            Some(Err((name, text))) => {
                io.status(StatusAction::Malformed);
                self.log_once(&name, &text, io);
            }
            None => {}
        }
    }

    /// Learns the stream's timing from a heartbeat's `data`, and returns it; a malformed one is
    /// logged. The caller marks a reset where an opening heartbeat that says [`Start::Reset`]
    /// arrived among the events, unless it is replaying them.
    fn apply_heartbeat(&mut self, data: String, io: &mut impl Io<E>) -> Option<Timing> {
        match serde_json::from_str::<Timing>(&data) {
            Ok(timing) => {
                self.budget_ms = stall::budget_ms(&timing);
                self.watch.set_budget(self.budget_ms);
                self.heartbeat = Some(data);
                Some(timing)
            }
            Err(_) => {
                let shown: String = data.chars().take(LOGGED_DATA_CHARS).collect();
                let text = format!("ignored malformed {} event: \"{shown}\"", Timing::NAME);
                self.log_once(Timing::NAME, &text, io);
                None
            }
        }
    }

    /// Opens a new `EventSource`, resuming after the newest id seen; never once the connection
    /// is closed. One that has not opened is given [`stall::connect_budget_ms`]; no other wait.
    fn connect(&mut self, now: Moment, io: &mut impl Io<E>) {
        let Part::Holding { timed_out, .. } = self.part else {
            return;
        };
        if self.connection == Connection::Closed {
            return;
        }
        self.watch = StallWatch::new(now, stall::connect_budget_ms(self.budget_ms, timed_out));
        self.signal(Signal::Retrying, now, io);
        let url = shared::stream_url(&self.url, &self.selection, self.recent.newest_id());
        io.open(&url);
    }

    /// A holder looks at its stream's silence, and replaces a stalled one at once.
    fn look(&mut self, now: Moment, io: &mut impl Io<E>) {
        let opened = self.connection == Connection::Live;
        let Part::Holding { timed_out, .. } = &mut self.part else {
            return;
        };
        if !self.connection.is_attempting() {
            return;
        }
        if let Stall::Stalled { silent_ms } = self.watch.check(now) {
            if !opened {
                *timed_out = timed_out.saturating_add(1);
            }
            io.warn(&format!(
                "nothing from the stream for {} ms: opening a fresh connection",
                silent_ms as u64
            ));
            io.close();
            self.signal(Signal::Silent, now, io);
            self.connect(now, io);
        }
    }

    /// Following nobody yet: no catch-up to wait for.
    fn suspended(now: Moment) -> Part {
        let mut catch_up = CatchUp::new(0, now);
        catch_up.give_up();
        Part::Following { catch_up }
    }

    /// A tab that follows the stream of `selection` at `url` another tab holds: shows what a
    /// reload kept (`restored`), then asks the leader for its recent events.
    pub fn follow(
        url: &str,
        selection: &Selection,
        restored: Option<Snapshot>,
        now: Moment,
        io: &mut impl Io<E>,
    ) -> Self {
        let mut role = Self::new(url, selection, Self::suspended(now), restored, now, io);
        role.rejoin(now, io);
        role
    }

    /// The page is kept for later (the browser's back/forward cache): the hook closes the stream
    /// and gives the lock back, and this tab holds nothing, keeping what it shows, until it
    /// [`TabRole::rejoin`]s or is [`TabRole::granted`] the stream.
    pub fn suspend(&mut self, now: Moment) {
        self.part = Self::suspended(now);
    }

    /// Follows again (the page is back, and in the queue for the lock again): asks the leader
    /// for its recent events, as a new tab does; only those newer than what it shows are fed.
    pub fn rejoin(&mut self, now: Moment, io: &mut impl Io<E>) {
        let nonce = (io.random() * f64::from(u32::MAX)) as u32;
        self.part = Part::Following {
            catch_up: CatchUp::new(nonce, now),
        };
        self.watch = StallWatch::new(now, self.budget_ms);
        io.post(&TabMessage::Hello(nonce));
    }

    /// A tab that holds the stream of `selection` at `url` itself from the start (sharing is
    /// off or impossible): shows what a reload kept (`restored`) and opens the stream, resuming
    /// after it.
    pub fn hold(
        url: &str,
        selection: &Selection,
        restored: Option<Snapshot>,
        now: Moment,
        io: &mut impl Io<E>,
    ) -> Self {
        let mut role = Self::new(url, selection, Self::holding(), restored, now, io);
        role.connect(now, io);
        role
    }

    /// This tab was granted the lock (or the browser refused it the lock, and it goes on alone):
    /// it holds the stream from now on, resuming after the newest id it has seen.
    pub fn granted(&mut self, now: Moment, io: &mut impl Io<E>) {
        let Part::Following { catch_up } = &mut self.part else {
            return;
        };
        let held = catch_up.give_up();
        self.part = Self::holding();
        for event in held {
            self.apply(event, io);
        }
        self.connect(now, io);
    }

    /// Something happened to the `EventSource` this tab holds.
    pub fn stream(&mut self, event: SourceEvent, now: Moment, io: &mut impl Io<E>) {
        let Part::Holding {
            backoff,
            timed_out,
            replaying,
        } = &mut self.part
        else {
            return;
        };
        match event {
            SourceEvent::Event(mut raw) => {
                if *replaying > 0 {
                    *replaying -= 1;
                    raw.arrived = None;
                }
                self.watch.heard(now);
                io.post(&TabMessage::Event(raw.clone()));
                self.apply(raw, io);
            }
            SourceEvent::Heartbeat(data) => {
                self.watch.heard(now);
                io.post(&TabMessage::Heartbeat(data.clone()));
                let timing = self.apply_heartbeat(data, io);
                if let (Some(timing), Part::Holding { replaying, .. }) = (timing, &mut self.part)
                    && timing.start.is_some()
                {
                    *replaying = timing.replayed;
                }
                if timing.is_some_and(|timing| timing.start == Some(Start::Reset)) {
                    self.apply(RawEvent::reset(now), io);
                }
            }
            SourceEvent::Open => {
                backoff.reset();
                *timed_out = 0;
                self.watch.heard(now);
                self.watch.set_budget(self.budget_ms);
                self.signal(Signal::Opened, now, io);
            }
            SourceEvent::Dropped => self.signal(Signal::Dropped, now, io),
            SourceEvent::GaveUp { final_answer } => {
                io.close();
                *timed_out = 0;
                let signal = if final_answer {
                    Signal::Refused
                } else {
                    let delay = backoff.next_delay(io.random());
                    Signal::GaveUp {
                        next_try: now.after(delay.as_millis() as f64),
                    }
                };
                self.signal(signal, now, io);
            }
        }
    }

    /// Another tab said something.
    pub fn tab_message(&mut self, message: TabMessage, now: Moment, io: &mut impl Io<E>) {
        let catch_up = match &mut self.part {
            Part::Following { catch_up } => catch_up,
            Part::Holding { .. } => {
                match message {
                    TabMessage::Hello(nonce) => io.post(&TabMessage::Snapshot {
                        nonce,
                        snapshot: self.snapshot(),
                    }),
                    TabMessage::Silent => self.look(now, io),
                    // What a leader says; while this tab holds the lock, no other tab leads.
                    TabMessage::Event(_)
                    | TabMessage::Heartbeat(_)
                    | TabMessage::Connection(_)
                    | TabMessage::Snapshot { .. } => {}
                }
                return;
            }
        };
        match message {
            TabMessage::Event(raw) => {
                self.watch.heard(now);
                self.signal(Signal::Opened, now, io);
                self.relayed(raw, io);
            }
            TabMessage::Heartbeat(data) => {
                self.watch.heard(now);
                self.signal(Signal::Opened, now, io);
                let timing = self.apply_heartbeat(data, io);
                if timing.is_some_and(|timing| timing.start == Some(Start::Reset)) {
                    self.relayed(RawEvent::reset(now), io);
                }
            }
            TabMessage::Connection(connection) => self.show(connection, now, io),
            TabMessage::Snapshot { nonce, snapshot } => {
                let Some(events) = catch_up.answer(nonce, snapshot.events) else {
                    return;
                };
                if let Some(data) = snapshot.heartbeat {
                    self.apply_heartbeat(data, io);
                }
                for event in events {
                    self.apply(event, io);
                }
                self.watch.heard(now);
                self.show(snapshot.connection, now, io);
            }
            // For the leader.
            TabMessage::Hello(_) | TabMessage::Silent => {}
        }
    }

    /// A follower applies what the leader relayed, once caught up; until then it waits.
    fn relayed(&mut self, raw: RawEvent, io: &mut impl Io<E>) {
        if let Part::Following { catch_up } = &mut self.part
            && let Some(raw) = catch_up.live(raw)
        {
            self.apply(raw, io);
        }
    }

    /// The browser came back online: a holder waiting out a backoff tries at once.
    pub fn online(&mut self, now: Moment, io: &mut impl Io<E>) {
        if self.is_holding() && !self.connection.is_attempting() {
            self.connect(now, io);
        }
    }

    /// Milliseconds from `now` until [`TabRole::tick`] has something to do.
    pub fn wake_in(&self, now: Moment) -> f64 {
        let countdown = match self.connection {
            Connection::Reconnecting { next_try: Some(at) } => Some(at),
            _ => None,
        };
        match &self.part {
            Part::Following { catch_up } => [
                Some(self.watch.wait(now)),
                catch_up.wait(now),
                countdown.and_then(|at| countdown_wait(at, now)),
            ]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min),
            // Wake when the whole seconds shown change, or it is time.
            Part::Holding { .. } => match countdown {
                Some(at) => countdown_wait(at, now).unwrap_or(0.0),
                None if self.connection == Connection::Closed => f64::INFINITY,
                None => self.watch.wait(now),
            },
        }
    }

    /// Time passed (a timer set from [`TabRole::wake_in`] fired, maybe much later than asked).
    pub fn tick(&mut self, now: Moment, io: &mut impl Io<E>) {
        let countdown = match self.connection {
            Connection::Reconnecting { next_try: Some(at) } => Some(at),
            _ => None,
        };
        match &mut self.part {
            Part::Following { catch_up } => {
                for event in catch_up.expire(now) {
                    self.apply(event, io);
                }
                if let Stall::Stalled { .. } = self.watch.check(now) {
                    // Show it, and tell the leader, whose timers may be throttled.
                    self.signal(Signal::Silent, now, io);
                    io.post(&TabMessage::Silent);
                    self.watch = StallWatch::new(now, self.budget_ms);
                } else if countdown.is_some() {
                    self.show(self.connection, now, io);
                }
            }
            Part::Holding { .. } => match countdown {
                Some(at) if now >= at => self.connect(now, io),
                Some(_) => self.show(self.connection, now, io),
                None => self.look(now, io),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use shared::{Epoch, EventId, Notice, Ping, Selection, Start};
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    fn at(ms: f64) -> Moment {
        Moment::from_ms(ms)
    }
    use crate::stream::catch_up::SNAPSHOT_WAIT_MS;

    shared::event_set! {
        /// The engine's tests' own event set: the contract's ping and notice, not the app's set,
        /// which an app extends (README, Adding an event type) without touching these tests.
        #[derive(Debug, Clone, PartialEq)]
        enum TestEvent {
            Ping,
            Notice,
        }
    }

    const URL: &str = "/sse";
    const EPOCH: &str = "00000000000000aa";
    const LIVE: Connection = Connection::Live;
    const RETRYING: Connection = Connection::Reconnecting { next_try: None };

    /// The data of a heartbeat for a ping a second and a heartbeat after 2 s of silence (the
    /// server's defaults): a 3 s budget.
    fn defaults() -> String {
        opening(None)
    }

    /// [`defaults`] as the first heartbeat of a stream that says how it starts.
    fn opening(start: Option<Start>) -> String {
        let timing = Timing {
            interval_ms: 1000,
            heartbeat_ms: Some(2000),
            start,
            replayed: 0,
        };
        serde_json::to_string(&timing).expect("a heartbeat serializes")
    }

    /// Records what the role does.
    #[derive(Debug, Default)]
    struct FakeIo {
        fed: Vec<Feed<TestEvent>>,
        shown: Vec<Connection>,
        malformed: usize,
        posts: Vec<TabMessage>,
        opened: Vec<String>,
        closes: usize,
        warnings: Vec<String>,
    }

    impl Io<TestEvent> for FakeIo {
        fn feed(&mut self, item: Feed<TestEvent>) {
            self.fed.push(item);
        }
        fn status(&mut self, action: StatusAction) {
            match action {
                StatusAction::Show { connection, .. } => {
                    if self.shown.last() != Some(&connection) {
                        self.shown.push(connection);
                    }
                }
                StatusAction::Malformed => self.malformed += 1,
                StatusAction::Network { .. } => {}
            }
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
        /// The feed as text (`#count` for a ping, `notice`, `gap N`, `reset`), and forgets
        /// everything seen so far.
        fn take_feed(&mut self) -> Vec<String> {
            let fed = self
                .fed
                .iter()
                .map(|item| match item {
                    Feed::Event {
                        event: TestEvent::Ping(Ping { count, .. }),
                        ..
                    } => format!("#{count}"),
                    Feed::Event {
                        event: TestEvent::Notice(notice),
                        ..
                    } => format!("notice {}", notice.text),
                    Feed::Gap { missed } => format!("gap {missed}"),
                    Feed::Reset => "reset".to_owned(),
                })
                .collect();
            *self = Self::default();
            fed
        }
    }

    fn raw(seq: u64) -> RawEvent {
        RawEvent::ping(EPOCH, seq)
    }

    fn notice(seq: u64, text: &str) -> RawEvent {
        let data =
            format!(r#"{{"text":"{text}","level":"info","time":"2026-11-25T09:00:00.000Z"}}"#);
        RawEvent::example("notice", &data, EPOCH, seq)
    }

    fn resume_after(seq: u64) -> String {
        let id = EventId {
            epoch: Epoch(0xaa),
            seq,
        };
        shared::resume_url(URL, Some(id))
    }

    /// A holder whose stream opened at 0 ms with the default timing and carried `events`, one a
    /// second from 1 s.
    fn live_holder(events: impl IntoIterator<Item = RawEvent>) -> (TabRole<TestEvent>, FakeIo) {
        let mut io = FakeIo::default();
        let mut role = TabRole::hold(URL, &Selection::all(), None, at(0.0), &mut io);
        role.stream(SourceEvent::Open, at(0.0), &mut io);
        role.stream(SourceEvent::Heartbeat(defaults()), at(0.0), &mut io);
        for (second, event) in events.into_iter().enumerate() {
            role.stream(
                SourceEvent::Event(event),
                at(1_000.0 * (second + 1) as f64),
                &mut io,
            );
        }
        (role, io)
    }

    fn follower() -> (TabRole<TestEvent>, FakeIo) {
        let mut io = FakeIo::default();
        let role = TabRole::follow(URL, &Selection::all(), None, at(0.0), &mut io);
        (role, io)
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_holder_opens_the_stream_and_relays_every_event_it_receives() {
        let mut io = FakeIo::default();
        let mut role = TabRole::<TestEvent>::hold(URL, &Selection::all(), None, at(0.0), &mut io);
        assert_eq!(io.opened, [URL], "a first visit resumes nothing");
        assert_eq!(io.shown, [Connection::Connecting]);
        role.stream(SourceEvent::Open, at(10.0), &mut io);
        role.stream(SourceEvent::Heartbeat(defaults()), at(10.0), &mut io);
        role.stream(SourceEvent::Event(raw(1)), at(20.0), &mut io);
        role.stream(SourceEvent::Event(notice(2, "hi")), at(30.0), &mut io);
        assert_eq!(
            io.posts,
            [
                TabMessage::Connection(LIVE),
                TabMessage::Heartbeat(defaults()),
                TabMessage::Event(raw(1)),
                TabMessage::Event(notice(2, "hi")),
            ]
        );
        assert_eq!(io.shown, [Connection::Connecting, LIVE]);
        assert_eq!(io.take_feed(), ["#1", "notice hi"]);
    }

    /// A ping with `count` whose stamp is `<epoch>-<seq>:ping:<topic_seq>`.
    fn ping_on(count: u64, epoch: &str, seq: u64, topic_seq: u64) -> RawEvent {
        let data = format!(r#"{{"count":{count},"time":"2026-11-25T09:00:00.000Z"}}"#);
        RawEvent::on_topic("ping", &data, epoch, seq, "ping", topic_seq)
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn the_feed_is_judged_by_stamps_alone_gaps_by_each_topics_own_number() {
        // Holes in seq are other topics' events; ping #2 comes right after #1 by its count, but
        // the ping topic's own numbers say two pings never came; seq 4 is a repeat.
        let (_, mut io) = live_holder([
            ping_on(1, EPOCH, 1, 1),
            RawEvent::on_topic("notice", &notice(3, "a").data, EPOCH, 3, "orders/1", 7),
            ping_on(5, EPOCH, 5, 2),
            ping_on(2, EPOCH, 9, 5),
            ping_on(9, EPOCH, 4, 3),
            RawEvent::on_topic("notice", &notice(3, "b").data, EPOCH, 12, "orders/1", 8),
        ]);
        assert_eq!(
            io.take_feed(),
            ["#1", "notice a", "#5", "gap 2", "#2", "notice b"]
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn events_the_opening_heartbeat_counts_as_replayed_are_fed_and_relayed_without_arrival() {
        let mut io = FakeIo::default();
        let mut role = TabRole::<TestEvent>::hold(URL, &Selection::all(), None, at(0.0), &mut io);
        role.stream(SourceEvent::Open, at(100.0), &mut io);
        let replaying = |replayed| {
            let timing = Timing {
                interval_ms: 1000,
                heartbeat_ms: Some(2000),
                start: Some(Start::Exact),
                replayed,
            };
            SourceEvent::Heartbeat(serde_json::to_string(&timing).expect("serializes"))
        };
        role.stream(replaying(2), at(100.0), &mut io);
        for seq in 1..=3 {
            role.stream(SourceEvent::Event(raw(seq)), at(200.0), &mut io);
        }
        // A later heartbeat (no `start`) says nothing of replays.
        role.stream(SourceEvent::Heartbeat(defaults()), at(2_000.0), &mut io);
        role.stream(SourceEvent::Event(raw(4)), at(2_100.0), &mut io);
        // The browser's own retry: a new opening, one event replayed.
        role.stream(SourceEvent::Dropped, at(3_000.0), &mut io);
        role.stream(replaying(1), at(3_500.0), &mut io);
        role.stream(SourceEvent::Event(raw(5)), at(3_600.0), &mut io);
        role.stream(SourceEvent::Event(raw(6)), at(3_700.0), &mut io);
        let arrivals: Vec<_> = io
            .fed
            .iter()
            .filter_map(|item| match item {
                Feed::Event { arrived, .. } => Some(*arrived),
                _ => None,
            })
            .collect();
        let live = |seq: u64| Some(Moment::from_ms(1_000.0 * seq as f64));
        assert_eq!(
            arrivals,
            [None, None, live(3), live(4), None, live(6)],
            "the replayed ones have no arrival"
        );
        let relayed: Vec<_> = io
            .posts
            .iter()
            .filter_map(|message| match message {
                TabMessage::Event(raw) => Some(raw.arrived),
                _ => None,
            })
            .collect();
        assert_eq!(relayed, arrivals, "followers are told the same");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_reset_is_marked_where_the_opening_heartbeat_says_so_once_and_in_every_tab() {
        let mut io = FakeIo::default();
        let mut leader = TabRole::<TestEvent>::hold(URL, &Selection::all(), None, at(0.0), &mut io);
        leader.stream(SourceEvent::Open, at(0.0), &mut io);
        leader.stream(
            SourceEvent::Heartbeat(opening(Some(Start::Fresh))),
            at(0.0),
            &mut io,
        );
        leader.stream(SourceEvent::Event(raw(1)), at(1_000.0), &mut io);
        // The stream is replaced, and the server no longer holds what came after #1: the same
        // run, and only the opening heartbeat tells (the topic's numbers jump, but that is no gap).
        leader.stream(SourceEvent::Dropped, at(1_100.0), &mut io);
        leader.stream(SourceEvent::Open, at(1_200.0), &mut io);
        let reset = opening(Some(Start::Reset));
        leader.stream(SourceEvent::Heartbeat(reset.clone()), at(1_200.0), &mut io);
        leader.stream(SourceEvent::Event(raw(50)), at(1_300.0), &mut io);
        // Replaced again; the server restarted meanwhile and says so.
        leader.stream(SourceEvent::Dropped, at(1_500.0), &mut io);
        leader.stream(SourceEvent::Open, at(2_000.0), &mut io);
        leader.stream(SourceEvent::Heartbeat(reset.clone()), at(2_000.0), &mut io);
        let restarted = "00000000000000bb";
        leader.stream(
            SourceEvent::Event(RawEvent::ping(restarted, 1)),
            at(2_100.0),
            &mut io,
        );
        // Resumed exactly: nothing to mark.
        leader.stream(
            SourceEvent::Heartbeat(opening(Some(Start::Exact))),
            at(3_000.0),
            &mut io,
        );
        leader.stream(
            SourceEvent::Event(RawEvent::ping(restarted, 2)),
            at(3_100.0),
            &mut io,
        );
        let relayed = io.posts.clone();
        assert_eq!(
            io.take_feed(),
            ["#1", "reset", "#50", "reset", "#1", "#2"],
            "one mark each, not two"
        );

        // A follower shown it live marks it too.
        let (mut shown, mut shown_io) = follower();
        shown.tick(at(SNAPSHOT_WAIT_MS), &mut shown_io);
        shown_io.take_feed();
        for message in relayed {
            shown.tab_message(message, at(3_200.0), &mut shown_io);
        }
        assert_eq!(
            shown_io.take_feed(),
            ["#1", "reset", "#50", "reset", "#1", "#2"]
        );

        // A new tab shown the leader's recent events, and a reload, mark it where it was.
        let snapshot = leader.snapshot();
        assert_eq!(snapshot.heartbeat, Some(opening(Some(Start::Exact))));
        let (mut late, mut late_io) = follower();
        late.tab_message(
            TabMessage::Snapshot { nonce: 0, snapshot },
            at(3_300.0),
            &mut late_io,
        );
        assert_eq!(
            late_io.take_feed(),
            ["#1", "reset", "#50", "reset", "#1", "#2"]
        );
        let kept = Snapshot {
            heartbeat: Some(reset),
            ..leader.snapshot()
        };
        let mut reload_io = FakeIo::default();
        TabRole::<TestEvent>::hold(URL, &Selection::all(), Some(kept), at(0.0), &mut reload_io);
        assert_eq!(
            reload_io.take_feed(),
            ["#1", "reset", "#50", "reset", "#1", "#2"],
            "the kept heartbeat's reset is not marked again"
        );
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_stream_of_some_topics_asks_for_them_and_resumes_after_its_newest_id() {
        let orders = Selection::parse(["orders/*"]).expect("a selection");
        let mut io = FakeIo::default();
        let mut role = TabRole::<TestEvent>::hold(URL, &orders, None, at(0.0), &mut io);
        role.stream(SourceEvent::Open, at(0.0), &mut io);
        let data = notice(1, "n").data;
        let event = RawEvent::on_topic("notice", &data, EPOCH, 40, "orders/1", 2);
        role.stream(SourceEvent::Event(event), at(100.0), &mut io);
        role.stream(
            SourceEvent::GaveUp {
                final_answer: false,
            },
            at(200.0),
            &mut io,
        );
        role.online(at(300.0), &mut io);
        let newest = EventId {
            epoch: Epoch(0xaa),
            seq: 40,
        };
        assert_eq!(
            io.opened,
            [
                "/sse?topic=orders%2F*".to_owned(),
                shared::stream_url(URL, &orders, Some(newest))
            ]
        );
        assert_eq!(io.take_feed(), ["notice n"]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_holder_answers_a_hello_with_what_it_shows_and_ignores_other_leaders() {
        let (mut role, mut io) = live_holder([raw(1), notice(2, "n"), raw(3)]);
        io.take_feed();
        role.tab_message(TabMessage::Hello(9), at(3_500.0), &mut io);
        role.tab_message(TabMessage::Event(raw(50)), at(3_500.0), &mut io);
        role.tab_message(TabMessage::Connection(RETRYING), at(3_500.0), &mut io);
        assert_eq!(
            io.posts,
            [TabMessage::Snapshot {
                nonce: 9,
                snapshot: Snapshot {
                    connection: LIVE,
                    heartbeat: Some(defaults()),
                    events: vec![raw(1), notice(2, "n"), raw(3)],
                },
            }]
        );
        assert!(io.fed.is_empty(), "nothing from another tab is shown");
        assert!(io.shown.is_empty());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_asks_for_the_recent_events_and_shows_them_before_live_ones_that_came_first() {
        let (mut role, mut io) = follower();
        assert_eq!(io.posts, [TabMessage::Hello(0)], "random() is 0 here");
        assert!(io.opened.is_empty(), "a follower opens no stream");
        io.posts.clear();
        // The leader's live events beat its answer.
        role.tab_message(TabMessage::Event(raw(4)), at(10.0), &mut io);
        role.tab_message(TabMessage::Event(notice(5, "late")), at(20.0), &mut io);
        let snapshot = Snapshot {
            connection: LIVE,
            heartbeat: Some(defaults()),
            events: vec![raw(1), notice(2, "early"), raw(3), raw(4)],
        };
        // Another tab's answer is not ours.
        let others = TabMessage::Snapshot {
            nonce: 1,
            snapshot: snapshot.clone(),
        };
        role.tab_message(others, at(25.0), &mut io);
        assert_eq!(io.take_feed(), [] as [String; 0]);
        role.tab_message(
            TabMessage::Snapshot { nonce: 0, snapshot },
            at(30.0),
            &mut io,
        );
        assert_eq!(
            io.take_feed(),
            ["#1", "notice early", "#3", "#4", "notice late"],
            "the repeat is not shown"
        );
        role.tab_message(TabMessage::Event(raw(6)), at(1_000.0), &mut io);
        assert_eq!(io.take_feed(), ["#6"]);
        assert!(io.posts.is_empty(), "a follower relays nothing");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_without_an_answer_shows_live_events_after_a_moment() {
        let (mut role, mut io) = follower();
        role.tab_message(TabMessage::Event(raw(7)), at(10.0), &mut io);
        assert_eq!(role.wake_in(at(10.0)), SNAPSHOT_WAIT_MS - 10.0);
        role.tick(at(SNAPSHOT_WAIT_MS), &mut io);
        assert_eq!(io.take_feed(), ["#7"]);
        role.tab_message(TabMessage::Event(raw(8)), at(600.0), &mut io);
        assert_eq!(io.take_feed(), ["#8"]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_shows_the_leaders_connection_and_counts_down_to_its_next_try_itself() {
        let (mut role, mut io) = follower();
        let waiting = Connection::Reconnecting {
            next_try: Some(at(2_500.0)),
        };
        for connection in [LIVE, RETRYING, waiting] {
            role.tab_message(TabMessage::Connection(connection), at(10.0), &mut io);
        }
        assert_eq!(io.shown, [LIVE, RETRYING, waiting]);
        // Its own timer shows the countdown: the leader's may be throttled.
        role.tick(at(SNAPSHOT_WAIT_MS), &mut io);
        let wake = role.wake_in(at(SNAPSHOT_WAIT_MS));
        assert_eq!(wake, 1_000.0, "when 2 s left turns into 1 s left");
        assert_eq!(io.posts, [TabMessage::Hello(0)]);
        role.tab_message(
            TabMessage::Connection(Connection::Closed),
            at(20.0),
            &mut io,
        );
        assert_eq!(io.shown.last(), Some(&Connection::Closed));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_granted_the_lock_resumes_after_the_newest_id_it_saw() {
        let (mut role, mut io) = follower();
        role.tab_message(TabMessage::Heartbeat(defaults()), at(5.0), &mut io);
        for event in [raw(1), raw(2), notice(3, "n"), raw(4)] {
            role.tab_message(TabMessage::Event(event), at(10.0), &mut io);
        }
        role.tick(at(SNAPSHOT_WAIT_MS), &mut io);
        io.take_feed();
        role.granted(at(2_000.0), &mut io);
        assert!(role.is_holding());
        assert_eq!(io.opened, [resume_after(4)]);
        assert_eq!(io.shown, [RETRYING], "it was live: a hand-over");
        assert_eq!(io.posts, [TabMessage::Connection(RETRYING)]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_silent_stream_is_replaced_at_once_resuming_after_the_newest_id() {
        let (mut role, mut io) = live_holder([raw(1), raw(2), notice(3, "n")]);
        io.take_feed();
        // The last event came at 3 s; the budget is 3 s.
        role.tick(at(3_000.0), &mut io);
        assert_eq!(role.wake_in(at(3_000.0)), 3_000.0);
        role.tick(at(5_999.0), &mut io);
        assert!(io.opened.is_empty());
        role.tick(at(6_000.0), &mut io);
        assert_eq!(io.closes, 1);
        assert_eq!(io.opened, [resume_after(3)]);
        assert_eq!(io.shown, [Connection::Stalled]);
        assert_eq!(io.posts, [TabMessage::Connection(Connection::Stalled)]);
        assert!(io.warnings[0].contains("3000 ms"), "{:?}", io.warnings);
        role.stream(SourceEvent::Open, at(6_100.0), &mut io);
        assert_eq!(io.shown, [Connection::Stalled, LIVE]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn attempts_that_never_open_are_given_twice_as_long_each_time() {
        let (mut role, mut io) = live_holder([raw(1), raw(2), raw(3)]);
        role.tick(at(3_000.0), &mut io);
        let mut now = 6_000.0;
        role.tick(at(now), &mut io);
        let mut waits = Vec::new();
        for _ in 0..5 {
            let wait = role.wake_in(at(now));
            waits.push(wait);
            now += wait;
            role.tick(at(now), &mut io);
        }
        assert_eq!(waits, [3_000.0, 6_000.0, 12_000.0, 24_000.0, 30_000.0]);
        // The first one, then the stalled one's replacement and five more.
        assert_eq!(io.opened.len(), 7);
        assert!(io.opened[1..].iter().all(|url| *url == resume_after(3)));
        // The server answers the pending one: the next stall is a short one again.
        role.stream(SourceEvent::Open, at(now), &mut io);
        assert_eq!(role.wake_in(at(now)), 3_000.0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_stream_the_browser_gave_up_on_is_reopened_after_a_countdown() {
        let (mut role, mut io) = live_holder([raw(1), raw(2)]);
        io.take_feed();
        role.stream(
            SourceEvent::GaveUp {
                final_answer: false,
            },
            at(2_500.0),
            &mut io,
        );
        assert_eq!(io.closes, 1);
        // random() is 0: the first backoff is its full 500 ms.
        let waiting = Connection::Reconnecting {
            next_try: Some(at(3_000.0)),
        };
        assert_eq!(io.shown, [waiting]);
        assert_eq!(io.posts, [TabMessage::Connection(waiting)]);
        assert_eq!(role.wake_in(at(2_500.0)), 500.0);
        role.tick(at(3_000.0), &mut io);
        assert_eq!(io.opened, [resume_after(2)]);
        assert_eq!(io.shown, [waiting, RETRYING]);
        // A second failure waits longer; coming back online cuts it short.
        role.stream(
            SourceEvent::GaveUp {
                final_answer: false,
            },
            at(3_100.0),
            &mut io,
        );
        assert_eq!(role.wake_in(at(3_100.0)), 1_000.0);
        role.online(at(3_200.0), &mut io);
        assert_eq!(io.opened.len(), 2);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_final_answer_closes_the_stream_for_good() {
        let (mut role, mut io) = live_holder([raw(1)]);
        io.take_feed();
        role.stream(
            SourceEvent::GaveUp { final_answer: true },
            at(2_000.0),
            &mut io,
        );
        assert_eq!(io.closes, 1);
        assert_eq!(io.shown, [Connection::Closed]);
        assert_eq!(io.posts, [TabMessage::Connection(Connection::Closed)]);
        assert_eq!(role.wake_in(at(2_000.0)), f64::INFINITY);
        role.tick(at(60_000.0), &mut io);
        role.online(at(60_000.0), &mut io);
        role.tab_message(TabMessage::Silent, at(60_000.0), &mut io);
        assert!(io.opened.is_empty(), "no attempt after a final answer");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_follower_that_hears_nothing_says_so_and_the_leader_looks_at_once() {
        let (mut follower, mut follower_io) = follower();
        follower.tab_message(TabMessage::Heartbeat(defaults()), at(0.0), &mut follower_io);
        follower.tab_message(TabMessage::Event(raw(1)), at(1_000.0), &mut follower_io);
        follower_io = FakeIo::default();
        follower.tick(at(3_999.0), &mut follower_io);
        assert!(follower_io.posts.is_empty());
        follower.tick(at(4_000.0), &mut follower_io);
        assert_eq!(follower_io.posts, [TabMessage::Silent]);
        assert_eq!(follower_io.shown, [Connection::Stalled]);

        // The leader's own timer is throttled (a background tab); the follower's word is enough.
        let (mut leader, mut leader_io) = live_holder([raw(1)]);
        leader_io.take_feed();
        leader.tab_message(TabMessage::Silent, at(2_000.0), &mut leader_io);
        assert!(
            leader_io.opened.is_empty(),
            "not silent for long enough yet"
        );
        leader.tab_message(TabMessage::Silent, at(4_000.0), &mut leader_io);
        assert_eq!(leader_io.opened, [resume_after(1)]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_reload_shows_what_it_kept_and_resumes_after_it() {
        let kept = Snapshot {
            connection: LIVE,
            heartbeat: Some(defaults()),
            events: vec![raw(10), notice(11, "kept"), raw(12)],
        };
        let mut io = FakeIo::default();
        let role = TabRole::<TestEvent>::hold(
            URL,
            &Selection::all(),
            Some(kept.clone()),
            at(0.0),
            &mut io,
        );
        assert_eq!(io.opened, [resume_after(12)]);
        assert_eq!(
            role.wake_in(at(0.0)),
            3_000.0,
            "the kept heartbeat's timing"
        );
        assert_eq!(io.take_feed(), ["#10", "notice kept", "#12"]);
        assert_eq!(role.snapshot().events, kept.events);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn a_page_kept_for_later_lets_the_stream_go_and_takes_it_up_again_where_it_stopped() {
        let (mut role, mut io) = live_holder([raw(1), raw(2)]);
        io.take_feed();
        role.suspend(at(2_500.0));
        assert!(!role.is_holding());
        role.stream(SourceEvent::Event(raw(3)), at(2_600.0), &mut io);
        role.tick(at(60_000.0), &mut io);
        assert!(
            io.opened.is_empty() && io.fed.is_empty(),
            "a frozen page does nothing"
        );

        // Back, and another tab leads now: only what is newer than what it shows is fed.
        role.rejoin(at(60_000.0), &mut io);
        assert_eq!(io.posts, [TabMessage::Hello(0)]);
        let snapshot = Snapshot {
            connection: LIVE,
            heartbeat: Some(defaults()),
            events: (1..=5).map(raw).collect(),
        };
        role.tab_message(
            TabMessage::Snapshot { nonce: 0, snapshot },
            at(60_010.0),
            &mut io,
        );
        assert_eq!(io.take_feed(), ["#3", "#4", "#5"]);
        // The leader goes: this tab takes the stream, resuming after the newest id.
        role.granted(at(61_000.0), &mut io);
        assert_eq!(io.opened, [resume_after(5)]);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn malformed_events_are_counted_and_logged_not_relayed_as_pings() {
        let junk = RawEvent::example("ping", "not json", EPOCH, 1);
        let junk_notice = RawEvent::example("notice", r#"{"count":2}"#, EPOCH, 2);
        let (mut leader, _) = live_holder([]);
        let mut io = FakeIo::default();
        leader.stream(SourceEvent::Event(junk.clone()), at(100.0), &mut io);
        leader.stream(SourceEvent::Event(junk.clone()), at(100.0), &mut io);
        leader.stream(SourceEvent::Event(junk_notice.clone()), at(100.0), &mut io);
        leader.stream(
            SourceEvent::Event(RawEvent::example("ping", "[]", EPOCH, 3)),
            at(100.0),
            &mut io,
        );
        leader.stream(SourceEvent::Heartbeat("{}".to_owned()), at(100.0), &mut io);
        leader.stream(SourceEvent::Event(raw(4)), at(100.0), &mut io);
        assert_eq!(io.malformed, 3, "the repeat is not counted twice");
        assert_eq!(
            io.warnings.len(),
            3,
            "once per name (ping, notice, heartbeat): {:?}",
            io.warnings
        );
        assert!(io.warnings[0].contains("not json"), "{:?}", io.warnings);
        assert_eq!(
            io.take_feed(),
            ["#4"],
            "nothing shown for them, and no gap where they were"
        );
        // Still the 3 s budget: silent since 100 ms, so the check at 3 s finds 100 ms to go.
        leader.tick(at(3_000.0), &mut io);
        assert_eq!(leader.wake_in(at(3_000.0)), 100.0, "the timing stays");

        // The leader relays what it received, as received; no tab takes any of it for a ping.
        let (mut follower, mut follower_io) = follower();
        follower.tab_message(
            TabMessage::Snapshot {
                nonce: 0,
                snapshot: leader.snapshot(),
            },
            at(200.0),
            &mut follower_io,
        );
        follower.tab_message(TabMessage::Event(junk), at(300.0), &mut follower_io);
        let relayed_junk = RawEvent::example("ping", "not json", EPOCH, 5);
        follower.tab_message(TabMessage::Event(relayed_junk), at(300.0), &mut follower_io);
        follower.tab_message(TabMessage::Event(raw(6)), at(300.0), &mut follower_io);
        assert_eq!(follower_io.malformed, 4, "the repeat is not counted again");
        assert_eq!(follower_io.warnings.len(), 2, "{:?}", follower_io.warnings);
        assert_eq!(follower_io.take_feed(), ["#4", "#6"]);
    }
}
