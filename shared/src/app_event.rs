//! The app's event set: every event pingstream's stream carries. Add an event here.

use crate::{Notice, Ping, event_set};

event_set! {
    /// Every event of pingstream's stream. To add one: write its type (a [`crate::StreamEvent`])
    /// in this crate and list it here; both engines pick it up from [`crate::EventSet`].
    #[derive(Debug, Clone, PartialEq)]
    pub enum AppEvent {
        Ping,
        Notice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventSet, StreamEvent, Timing};

    #[test]
    fn the_set_lists_each_name_once_and_not_the_heartbeat() {
        // A second event of one name does not compile (event_set!'s const check, and its
        // compile_fail example); the heartbeat is no event of the set.
        assert_eq!(AppEvent::NAMES[..2], ["ping", "notice"]);
        assert!(!AppEvent::NAMES.contains(&Timing::NAME));
    }

    #[test]
    fn every_event_s_default_topic_is_a_topic() {
        // Over the whole set, whatever it lists: an event added by README's recipe is checked
        // without a line here.
        assert_eq!(AppEvent::DEFAULT_TOPICS.len(), AppEvent::NAMES.len());
        for topic in AppEvent::DEFAULT_TOPICS {
            assert!(topic.parse::<crate::Topic>().is_ok(), "{topic:?}");
        }
        assert_eq!(Ping::DEFAULT_TOPIC, "ping");
        assert_eq!(Notice::DEFAULT_TOPIC, "notices");
        let time = chrono::DateTime::UNIX_EPOCH;
        assert_eq!(
            AppEvent::from(Ping { count: 1, time }).default_topic(),
            "ping"
        );
    }

    #[test]
    fn the_fingerprint_changes_with_the_set() {
        event_set! {
            enum OnlyPings { Ping }
        }
        event_set! {
            enum Reordered { Notice, Ping }
        }
        let ours = AppEvent::fingerprint();
        assert_eq!(ours, AppEvent::fingerprint());
        assert_ne!(ours, OnlyPings::fingerprint());
        assert_ne!(ours, Reordered::fingerprint());
    }

    #[test]
    fn both_events_decode_by_name_and_bad_data_is_an_error() {
        let ping = AppEvent::decode("ping", r#"{"count":3,"time":"2026-11-25T09:00:00.000Z"}"#);
        assert!(matches!(ping, Ok(AppEvent::Ping(Ping { count: 3, .. }))));
        let notice = AppEvent::decode(
            "notice",
            r#"{"text":"hi","level":"critical","time":"2026-11-25T09:00:00.000Z"}"#,
        );
        assert!(matches!(notice, Ok(AppEvent::Notice(Notice { .. }))));
        assert!(
            AppEvent::decode("notice", r#"{"count":3,"time":"2026-11-25T09:00:00.000Z"}"#).is_err()
        );
        assert!(AppEvent::decode("chat", "{}").is_err());
    }
}
