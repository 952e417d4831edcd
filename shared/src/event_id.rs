//! The SSE `id:` of every event, which browsers echo back as `Last-Event-ID` when they reconnect.

use std::{fmt, str::FromStr};

use crate::Epoch;

/// Identifies one event of one stream: `<epoch>-<seq>`, e.g. `9f3c2a1b7d4e5f60-42`.
///
/// `epoch` names the run of the stream (see [`Epoch`]); `seq` is the event's position in that
/// run: 1 for its first event, then one more for every event after it, whatever its name. Ids
/// are all a client needs to follow the stream: the same id twice is a duplicate, a `seq` that
/// jumps within an epoch is a gap (events were missed), a new epoch is a restart. No payload
/// field takes part in that.
///
/// # Examples
/// ```
/// use shared::{Epoch, EventId, ParseEventIdError};
///
/// let id = EventId { epoch: Epoch(0x9f3c_2a1b_7d4e_5f60), seq: 42 };
/// assert_eq!(id.to_string(), "9f3c2a1b7d4e5f60-42");
/// assert_eq!("9f3c2a1b7d4e5f60-42".parse(), Ok(id));
///
/// // One id has one spelling: no uppercase, no leading zeros or `+`, nothing around it.
/// for bad in ["9F3C2A1B7D4E5F60-42", "9f3c2a1b7d4e5f60-042", "9f3c2a1b7d4e5f60-+42", "42"] {
///     assert_eq!(bad.parse::<EventId>(), Err(ParseEventIdError::Malformed));
/// }
/// // Anything longer than an id can be is refused before it is looked at.
/// assert_eq!("7".repeat(100).parse::<EventId>(), Err(ParseEventIdError::TooLong));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId {
    /// The run of the stream this event belongs to.
    pub epoch: Epoch,
    /// The event's position in that run: 1, 2, 3, … over events of every name.
    pub seq: u64,
}

impl EventId {
    /// The longest text [`EventId::from_str`] reads: 16 hex digits, a dash, the 20 digits of
    /// `u64::MAX`. Anything longer is rejected before it is looked at.
    pub const MAX_LEN: usize = Epoch::LEN + 1 + 20;
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.epoch, self.seq)
    }
}

/// Texts that are not event ids, one for each way to miss the format (no dash, a bad epoch, a
/// bad seq, a seq past `u64`, leading zeros or `+`, uppercase, control characters, spaces): the
/// one table that this crate's parser tests, the server's `Last-Event-ID` tests (header and
/// query) and its API tests (through `test-support`) all try. Each must be refused as
/// [`ParseEventIdError::Malformed`]; none is longer than [`EventId::MAX_LEN`]. Test data, not
/// contract: only with the `test-util` feature (which the server's and test-support's tests turn
/// on).
#[cfg(any(test, feature = "test-util"))]
pub const MALFORMED_EVENT_IDS: &[&str] = &[
    "",
    "-",
    "42",
    "abc-1",
    "9f3c2a1b7d4e5f60",
    "9f3c2a1b7d4e5f60-",
    "9f3c2a1b7d4e5f60--1",
    "9f3c2a1b7d4e5f60-+1",
    "9f3c2a1b7d4e5f60-1.5",
    "9F3C2A1B7D4E5F60-1",
    "9f3c2a1b7d4e5f6g-1",
    "9f3c2a1b7d4e5f60-18446744073709551616",
    "9f3c2a1b7d4e5f60-1\r\n",
    "9f3c2a1b7d4e5f60-1\0",
    " 9f3c2a1b7d4e5f60-1",
    "9f3c2a1b7d4e5f6-01",
    "9f3c2a1b7d4e5f60-01",
    "9f3c2a1b7d4e5f60-00",
];

/// Why a text is not an [`EventId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseEventIdError {
    /// Longer than [`EventId::MAX_LEN`].
    TooLong,
    /// Not `<16 lowercase hex digits>-<decimal u64 without leading zeros>`.
    Malformed,
}

impl fmt::Display for ParseEventIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "event id longer than {} bytes", EventId::MAX_LEN),
            Self::Malformed => write!(f, "event id is not <16 hex digits>-<seq>"),
        }
    }
}

impl std::error::Error for ParseEventIdError {}

impl FromStr for EventId {
    type Err = ParseEventIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() > Self::MAX_LEN {
            return Err(ParseEventIdError::TooLong);
        }
        let (epoch, seq) = text.split_once('-').ok_or(ParseEventIdError::Malformed)?;
        let epoch = epoch
            .parse::<Epoch>()
            .map_err(|_| ParseEventIdError::Malformed)?;
        // `u64::from_str` would accept a leading `+` and leading zeros; ids never have either, and
        // one id has one spelling.
        if seq.is_empty()
            || !seq.bytes().all(|b| b.is_ascii_digit())
            || (seq.len() > 1 && seq.starts_with('0'))
        {
            return Err(ParseEventIdError::Malformed);
        }
        Ok(Self {
            epoch,
            seq: seq.parse().map_err(|_| ParseEventIdError::Malformed)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_sixteen_hex_digits_dash_seq() {
        let id = EventId {
            epoch: Epoch(0x9f3c_2a1b_7d4e_5f60),
            seq: 42,
        };
        assert_eq!(id.to_string(), "9f3c2a1b7d4e5f60-42");
        let small = EventId {
            epoch: Epoch(1),
            seq: 0,
        };
        assert_eq!(small.to_string(), "0000000000000001-0");
    }

    #[test]
    fn parse_round_trips_extremes() {
        for id in [
            EventId {
                epoch: Epoch(0),
                seq: 0,
            },
            EventId {
                epoch: Epoch(u64::MAX),
                seq: u64::MAX,
            },
            EventId {
                epoch: Epoch(0x0123_4567_89ab_cdef),
                seq: 1,
            },
        ] {
            assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
            assert!(id.to_string().len() <= EventId::MAX_LEN);
        }
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in MALFORMED_EVENT_IDS {
            assert!(bad.len() <= EventId::MAX_LEN, "{bad:?}");
            assert_eq!(
                bad.parse::<EventId>(),
                Err(ParseEventIdError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn oversized_ids_are_rejected_before_parsing() {
        let huge = "9".repeat(60 * 1024);
        assert_eq!(huge.parse::<EventId>(), Err(ParseEventIdError::TooLong));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn every_id_round_trips(epoch: u64, seq: u64) {
                let id = EventId { epoch: Epoch(epoch), seq };
                prop_assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
            }

            #[test]
            fn parsing_any_text_never_panics_and_accepts_only_canonical_ids(text in ".{0,64}") {
                if let Ok(id) = text.parse::<EventId>() {
                    prop_assert_eq!(id.to_string(), text);
                }
            }

            #[test]
            fn parsing_near_misses_never_panics(text in "[0-9a-fA-F+-]{0,40}") {
                if let Ok(id) = text.parse::<EventId>() {
                    prop_assert_eq!(id.to_string(), text);
                }
            }
        }
    }
}
