//! Topic loads: which topics a run's clients subscribe to (`GET /sse?topic=…`) and which topic
//! each notice is published on (`POST /events/notice?topic=…`), so that what the server's topic
//! index costs can be measured against how many streams are open.
//!
//! Two shapes of load, [`TopicMode`]:
//! - **per-client**: client `i` subscribes to `users/<i>` alone; a notice goes to one random
//!   `users/<r>`, so it is for exactly one client, whatever the number of streams;
//! - **pattern**: every client subscribes to `orders/*`; a notice goes to a random `orders/<r>`,
//!   so it is for every client.
//!
//! The random topics come from a fixed seed ([`TopicPlan::notice`] is a pure function of the
//! notice's index), so every round of a session publishes the same sequence, and the tally can
//! work out afterwards which client each accepted notice was for.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use shared::{Selection, Selector, Topic, stream_url};
use thiserror::Error;

/// The first segment of the per-client topics.
const USERS: &str = "users";
/// The first segment of the pattern load's topics.
const ORDERS: &str = "orders";
/// The seed of the notices' random topics: the same in every run.
const SEED: u64 = 0x7069_6e67_7374_7265;

/// Which topics the clients subscribe to and the notices go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TopicMode {
    /// Client `i` on `users/<i>`; each notice on one random client's topic.
    PerClient,
    /// Every client on `orders/*`; each notice on a random `orders/<n>`.
    Pattern,
}

/// A `--topics` value that is not a mode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("topic mode {0:?}: expected `per-client` or `pattern`")]
pub struct UnknownTopicMode(String);

impl FromStr for TopicMode {
    type Err = UnknownTopicMode;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "per-client" => Ok(Self::PerClient),
            "pattern" => Ok(Self::Pattern),
            _ => Err(UnknownTopicMode(text.to_owned())),
        }
    }
}

impl fmt::Display for TopicMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PerClient => "per-client",
            Self::Pattern => "pattern",
        })
    }
}

/// One notice of a topic load: its topic and, when it is meant for one client only, which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedNotice {
    /// The topic it is published on.
    pub topic: Topic,
    /// The one client subscribed to it (per-client); `None` when every client is (pattern).
    pub recipient: Option<usize>,
}

/// A topic load over `clients` clients: the streams' selections and the notices' topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicPlan {
    mode: TopicMode,
    clients: usize,
    /// `orders/*`, what every client of the pattern load selects.
    pattern: Selector,
}

impl TopicPlan {
    /// The plan of `mode` for `clients` clients (at least one).
    pub fn new(mode: TopicMode, clients: usize) -> Self {
        Self {
            mode,
            clients: clients.max(1),
            pattern: format!("{ORDERS}/*")
                .parse()
                .expect("orders/* is a selector"),
        }
    }

    /// The mode.
    pub fn mode(&self) -> TopicMode {
        self.mode
    }

    /// The stream path client `index` requests: `base` with its `?topic=` selector.
    pub fn stream_path(&self, base: &str, index: usize) -> String {
        let selector = match self.mode {
            TopicMode::PerClient => user_topic(index).to_string(),
            TopicMode::Pattern => self.pattern.as_str().to_owned(),
        };
        let selection = Selection::parse([selector.as_str()]).expect("one valid selector");
        stream_url(base, &selection, None)
    }

    /// Notice `index`'s topic and recipient: a pure function of `index`.
    pub fn notice(&self, index: u64) -> PlannedNotice {
        let draw = splitmix64(SEED ^ index);
        // `clients` fits in a u64, and the remainder is below it, so both casts are exact.
        let at = (draw % self.clients as u64) as usize;
        match self.mode {
            TopicMode::PerClient => PlannedNotice {
                topic: user_topic(at),
                recipient: Some(at),
            },
            TopicMode::Pattern => PlannedNotice {
                topic: format!("{ORDERS}/{at}")
                    .parse()
                    .expect("orders/<n> is a topic"),
                recipient: None,
            },
        }
    }

    /// Whether client `index` subscribed to `topic`: what the server must deliver to it, and
    /// all it may.
    pub fn wants(&self, index: usize, topic: &Topic) -> bool {
        match self.mode {
            TopicMode::PerClient => {
                let mut segments = topic.segments();
                segments.next() == Some(USERS)
                    && segments.next().and_then(|n| n.parse::<usize>().ok()) == Some(index)
                    && segments.next().is_none()
            }
            TopicMode::Pattern => self.pattern.matches(topic),
        }
    }
}

fn user_topic(index: usize) -> Topic {
    format!("{USERS}/{index}")
        .parse()
        .expect("users/<n> is a topic")
}

/// SplitMix64's output function: a well-mixed 64-bit value for each input.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(text: &str) -> Topic {
        text.parse().expect("a topic")
    }

    #[test]
    fn modes_read_and_print_as_the_flag_spells_them() {
        for mode in [TopicMode::PerClient, TopicMode::Pattern] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
        assert!("users".parse::<TopicMode>().is_err());
    }

    #[test]
    fn a_per_client_stream_asks_for_its_own_user_topic_and_wants_only_that() {
        let plan = TopicPlan::new(TopicMode::PerClient, 100);
        assert_eq!(plan.stream_path("/sse", 42), "/sse?topic=users%2F42");
        assert!(plan.wants(42, &topic("users/42")));
        for other in ["users/4", "users/420", "users/42/x", "orders/42", "ping"] {
            assert!(!plan.wants(42, &topic(other)), "{other}");
        }
    }

    #[test]
    fn a_pattern_stream_asks_for_every_order_and_wants_every_order() {
        let plan = TopicPlan::new(TopicMode::Pattern, 100);
        assert_eq!(plan.stream_path("/sse", 7), "/sse?topic=orders%2F*");
        assert!(plan.wants(7, &topic("orders/99")));
        assert!(!plan.wants(7, &topic("orders/1/x")));
        assert!(!plan.wants(7, &topic("notices")));
    }

    #[test]
    fn notices_spread_over_the_clients_the_same_way_every_time() {
        let plan = TopicPlan::new(TopicMode::PerClient, 10);
        let recipients: Vec<usize> = (0..1000)
            .map(|index| plan.notice(index).recipient.expect("one client"))
            .collect();
        let again: Vec<usize> = (0..1000)
            .map(|index| plan.notice(index).recipient.expect("one client"))
            .collect();
        assert_eq!(recipients, again);
        for client in 0..10 {
            let count = recipients.iter().filter(|&&r| r == client).count();
            assert!((50..=150).contains(&count), "client {client}: {count}");
        }
        let notice = plan.notice(3);
        assert!(plan.wants(notice.recipient.expect("one client"), &notice.topic));
        let pattern = TopicPlan::new(TopicMode::Pattern, 10).notice(3);
        assert_eq!(pattern.recipient, None);
        assert!(pattern.topic.as_str().starts_with("orders/"));
    }
}
