//! Reading an event's JSON object field by field, for the contract's own events: what serde
//! derives also reads a struct from a JSON array (`[1, "…"]`), which no side ever sends, and that
//! code cost the page about 0.9 KB of its 90 KiB budget (README "Page weight"). And it reads
//! strictly: a field the event does not have makes it unreadable, where serde's derive skips it.
//! Skipping a JSON value of any shape took another 0.8 KB of the page; the price is that a field
//! added to one of these events is a contract change (`CONTRACT_VERSION`): a page of the older
//! build counts such events as malformed (and logs them once) until it is reloaded. A newcomer's
//! event may derive `Deserialize` as usual.

use std::marker::PhantomData;

use serde::{
    Deserializer,
    de::{Error, MapAccess, Visitor},
};

/// The fields of an object read so far, and how to read one more.
pub(crate) trait Fields<'de>: Default {
    /// What the object makes once complete.
    type Value;

    /// What the object is, for error messages: "a ping".
    const WHAT: &'static str;

    /// Reads the value of the field `key` from `map` if it is one of ours; `false` if it is not
    /// (the object is then refused: see the module's note).
    ///
    /// # Errors
    /// A value that does not read.
    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error>;

    /// The value, or `None` when a required field was missing.
    fn finish(self) -> Option<Self::Value>;
}

/// Reads a JSON object into `F`'s value.
struct Object<F>(PhantomData<F>);

impl<'de, F: Fields<'de>> Visitor<'de> for Object<F> {
    type Value = F::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str(F::WHAT)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<F::Value, A::Error> {
        let mut fields = F::default();
        while let Some(key) = map.next_key::<String>()? {
            if !fields.read(&key, &mut map)? {
                return Err(A::Error::custom("a field this build does not know"));
            }
        }
        fields
            .finish()
            .ok_or_else(|| A::Error::custom("a field it needs is missing"))
    }
}

/// Reads `F`'s value from the JSON object `deserializer` holds.
///
/// # Errors
/// Anything but an object, a field that does not read or that `F` does not have, a required
/// field missing.
pub(crate) fn read<'de, D: Deserializer<'de>, F: Fields<'de>>(
    deserializer: D,
) -> Result<F::Value, D::Error> {
    deserializer.deserialize_map(Object::<F>(PhantomData))
}

/// A time as [`crate::timestamp`] reads it, as one field's value.
pub(crate) struct Time(pub chrono::DateTime<chrono::Utc>);

impl<'de> serde::Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::timestamp::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Notice, Ping, Timing};

    #[test]
    fn events_are_read_from_objects_only_with_their_own_fields_and_every_required_one() {
        let ping = r#"{"count":1,"time":"2026-11-25T09:00:00.123Z"}"#;
        assert_eq!(serde_json::from_str::<Ping>(ping).unwrap().count, 1);
        for refused in [
            r#"[1,"2026-11-25T09:00:00.123Z"]"#,
            r#"{"count":1}"#,
            r#"{"count":1,"time":"2026-11-25T09:00:00.123Z","extra":0}"#,
            r#"{"count":-1,"time":"2026-11-25T09:00:00.123Z"}"#,
        ] {
            assert!(serde_json::from_str::<Ping>(refused).is_err(), "{refused}");
        }
        let notice = r#"{"text":"hi","level":"critical","time":"2026-11-25T09:00:00Z"}"#;
        assert_eq!(serde_json::from_str::<Notice>(notice).unwrap().text, "hi");
        let unknown_level = notice.replace("critical", "urgent");
        assert!(serde_json::from_str::<Notice>(&unknown_level).is_err());
        let timing = r#"{"interval_ms":1000}"#;
        assert_eq!(
            serde_json::from_str::<Timing>(timing).unwrap().heartbeat_ms,
            None
        );
        assert!(serde_json::from_str::<Timing>(r#"{"heartbeat_ms":2000}"#).is_err());
    }
}
