//! The epoch: the part of every event id that tells one run of the stream from another.

use std::{fmt, str::FromStr};

/// Names one run of the stream: a random number the server draws when its stream starts (with
/// Redis, when the cluster's stream starts), written as 16 lowercase hex digits.
///
/// Count 42 of yesterday's run and count 42 of today's are different events; the epoch is what
/// keeps them apart, so a client that resumes with an id of another run is not mistaken for one
/// that is up to date.
///
/// # Examples
/// ```
/// use shared::Epoch;
///
/// let epoch: Epoch = "9f3c2a1b7d4e5f60".parse().unwrap();
/// assert_eq!(epoch, Epoch(0x9f3c_2a1b_7d4e_5f60));
/// assert_eq!(Epoch(0xab).to_string(), "00000000000000ab");
/// // One spelling only: exactly 16 digits, lowercase.
/// assert!("9F3C2A1B7D4E5F60".parse::<Epoch>().is_err());
/// assert!("ab".parse::<Epoch>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Epoch(pub u64);

impl Epoch {
    /// The length of every epoch's text.
    pub const LEN: usize = 16;
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Why a text is not an [`Epoch`]: it is not exactly 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseEpochError;

impl fmt::Display for ParseEpochError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "epoch is not {} lowercase hex digits", Epoch::LEN)
    }
}

impl std::error::Error for ParseEpochError {}

impl FromStr for Epoch {
    type Err = ParseEpochError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let is_lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if text.len() != Self::LEN || !text.bytes().all(is_lower_hex) {
            return Err(ParseEpochError);
        }
        u64::from_str_radix(text, 16)
            .map(Self)
            .map_err(|_| ParseEpochError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_pads_to_sixteen_lowercase_digits() {
        assert_eq!(Epoch(0).to_string(), "0000000000000000");
        assert_eq!(Epoch(u64::MAX).to_string(), "ffffffffffffffff");
        assert_eq!(Epoch(0x0123_4567_89ab_cdef).to_string(), "0123456789abcdef");
    }

    #[test]
    fn only_the_canonical_spelling_parses() {
        for bad in [
            "",
            "0",
            "123456789abcdef",
            "0123456789abcdef0",
            "0123456789ABCDEF",
            "0123456789abcdeg",
            "+123456789abcdef",
            " 123456789abcdef",
            "0123456789abcde\u{e9}",
        ] {
            assert_eq!(bad.parse::<Epoch>(), Err(ParseEpochError), "{bad:?}");
        }
        assert_eq!(
            "0123456789abcdef".parse::<Epoch>(),
            Ok(Epoch(0x0123_4567_89ab_cdef))
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn every_epoch_round_trips(value: u64) {
                prop_assert_eq!(Epoch(value).to_string().parse::<Epoch>(), Ok(Epoch(value)));
            }

            #[test]
            fn any_text_parses_only_when_canonical(text in "[0-9a-fA-F+ -]{0,20}") {
                if let Ok(epoch) = text.parse::<Epoch>() {
                    prop_assert_eq!(epoch.to_string(), text);
                }
            }
        }
    }
}
