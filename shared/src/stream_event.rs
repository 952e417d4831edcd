//! What makes a type an event of the stream, and what makes a list of them the stream's event
//! set: the two traits the engines on both sides are generic over, and the macro that lists a set.

use serde::{Serialize, de::DeserializeOwned};

/// One kind of event the stream carries: its SSE `event:` name and its JSON `data:`.
///
/// Browsers deliver a named event only to `addEventListener(NAME)`, so the name is part of the
/// contract as much as the payload is.
///
/// # Examples
/// ```
/// use shared::{Notice, Ping, StreamEvent};
///
/// assert_eq!(Ping::NAME, "ping");
/// assert_eq!(Notice::NAME, "notice");
/// ```
pub trait StreamEvent: Serialize + DeserializeOwned {
    /// The SSE `event:` name.
    const NAME: &'static str;

    /// The topic an event of this type goes on when its publisher names none: the event's name
    /// unless the type says otherwise. Must be a valid [`crate::Topic`] (the contract's tests
    /// check every event of the app's set).
    const DEFAULT_TOPIC: &'static str = Self::NAME;
}

/// A closed list of [`StreamEvent`]s, as one enum with a variant per event: what the stream can
/// carry, and what a client decodes.
///
/// Written by [`event_set!`](crate::event_set), never by hand: adding an event to the set is one
/// line there.
pub trait EventSet: Sized {
    /// The SSE names of every event in the set, in the order the set lists them.
    const NAMES: &'static [&'static str];

    /// The default topic of every event in the set ([`StreamEvent::DEFAULT_TOPIC`]), in the
    /// order of [`EventSet::NAMES`]: what a check of the whole set needs, without an event.
    const DEFAULT_TOPICS: &'static [&'static str];

    /// The SSE name of this event.
    fn name(&self) -> &'static str;

    /// The topic this event goes on when its publisher names none
    /// ([`StreamEvent::DEFAULT_TOPIC`]).
    fn default_topic(&self) -> &'static str;

    /// This event's `data:` as JSON.
    ///
    /// # Errors
    /// Only if the event cannot be serialized, which the contract's events always can.
    fn to_json(&self) -> Result<String, serde_json::Error>;

    /// Decodes the `data` of an event named `name`.
    ///
    /// # Errors
    /// [`DecodeError::UnknownName`] for a name outside the set (a newer server's event),
    /// [`DecodeError::Data`] for data that is not that event's JSON.
    fn decode(name: &str, data: &str) -> Result<Self, DecodeError>;

    /// A fingerprint of the contract this set belongs to: FNV-1a over [`crate::CONTRACT_VERSION`]
    /// and [`EventSet::NAMES`]. Two builds whose sets differ (an event added, renamed, reordered)
    /// or whose contract version differs get different fingerprints, so that pages of two builds
    /// (a cached tab and a fresh one) can tell they do not speak the same language.
    fn fingerprint() -> u32 {
        const PRIME: u32 = 0x0100_0193;
        let mut hash: u32 = 0x811c_9dc5;
        let mut eat = |bytes: &[u8]| {
            for byte in bytes {
                hash = (hash ^ u32::from(*byte)).wrapping_mul(PRIME);
            }
        };
        eat(&crate::CONTRACT_VERSION.to_le_bytes());
        for name in Self::NAMES {
            eat(name.as_bytes());
            // A separator, so that ["ab", "c"] and ["a", "bc"] differ.
            eat(&[0]);
        }
        hash
    }
}

/// Why an event's name and data are not an event of the set.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The set has no event of this name.
    #[error("no event named {0:?} in the set")]
    UnknownName(String),
    /// The data is not the JSON of the event its name says.
    #[error("malformed {name} data: {err}")]
    Data {
        /// The event's name.
        name: &'static str,
        /// What the JSON parser said.
        err: serde_json::Error,
    },
}

/// Whether two names are the same, in a `const` context (for [`event_set!`]'s check that no two
/// events of a set share a name).
#[doc(hidden)]
pub const fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares an event set: an enum with one variant per listed [`StreamEvent`], named after its
/// type, and its [`EventSet`] implementation (plus a `From` for each event). Two events of one
/// set with the same [`StreamEvent::NAME`] do not compile: a browser could not tell them apart.
///
/// ```compile_fail
/// use serde::{Deserialize, Serialize};
/// use shared::{Ping, StreamEvent, event_set};
///
/// #[derive(Serialize, Deserialize)]
/// struct Pong {}
/// impl StreamEvent for Pong {
///     const NAME: &'static str = "ping";
/// }
///
/// event_set! {
///     enum Clash { Ping, Pong }
/// }
/// ```
///
/// # Examples
/// ```
/// use shared::{EventSet, Notice, Ping, StreamEvent, event_set};
///
/// event_set! {
///     /// The events of a smaller app.
///     #[derive(Debug)]
///     pub enum Small { Ping, Notice }
/// }
///
/// assert_eq!(Small::NAMES, ["ping", "notice"]);
/// let event = Small::decode("ping", r#"{"count":1,"time":"2026-11-25T09:00:00.000Z"}"#).unwrap();
/// assert!(matches!(event, Small::Ping(Ping { count: 1, .. })));
/// assert_eq!(event.name(), Ping::NAME);
/// assert!(Small::decode("ping", "{}").is_err());
/// assert!(Small::decode("chat", "{}").is_err());
/// ```
#[macro_export]
macro_rules! event_set {
    ($(#[$meta:meta])* $vis:vis enum $set:ident { $($event:ident),+ $(,)? }) => {
        $(#[$meta])*
        $vis enum $set {
            $(
                #[doc = concat!("A [`", stringify!($event), "`].")]
                $event($event),
            )+
        }

        const _: () = {
            let names: &[&str] = &[$(<$event as $crate::StreamEvent>::NAME),+];
            let mut i = 0;
            while i < names.len() {
                let mut j = i + 1;
                while j < names.len() {
                    if $crate::same_name(names[i], names[j]) {
                        panic!("two events of one set share a name");
                    }
                    j += 1;
                }
                i += 1;
            }
        };

        impl $crate::EventSet for $set {
            const NAMES: &'static [&'static str] =
                &[$(<$event as $crate::StreamEvent>::NAME),+];
            const DEFAULT_TOPICS: &'static [&'static str] =
                &[$(<$event as $crate::StreamEvent>::DEFAULT_TOPIC),+];

            fn name(&self) -> &'static str {
                match self {
                    $(Self::$event(_) => <$event as $crate::StreamEvent>::NAME,)+
                }
            }

            fn default_topic(&self) -> &'static str {
                match self {
                    $(Self::$event(_) => <$event as $crate::StreamEvent>::DEFAULT_TOPIC,)+
                }
            }

            fn to_json(&self) -> ::core::result::Result<String, $crate::serde_json::Error> {
                match self {
                    $(Self::$event(event) => $crate::serde_json::to_string(event),)+
                }
            }

            fn decode(
                name: &str,
                data: &str,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                $(
                    if name == <$event as $crate::StreamEvent>::NAME {
                        return $crate::serde_json::from_str::<$event>(data)
                            .map(Self::$event)
                            .map_err(|err| $crate::DecodeError::Data {
                                name: <$event as $crate::StreamEvent>::NAME,
                                err,
                            });
                    }
                )+
                Err($crate::DecodeError::UnknownName(name.to_owned()))
            }
        }

        $(
            impl From<$event> for $set {
                fn from(event: $event) -> Self {
                    Self::$event(event)
                }
            }
        )+
    };
}
