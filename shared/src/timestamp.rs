//! How every event's `time` is written: RFC 3339 in UTC with microseconds and a `Z` (so that a
//! page can tell a delivery latency below a millisecond); any RFC 3339 offset and any number of
//! fraction digits is read, normalised to UTC.
//!
//! Read by [`parse`], a few lines of our own rather than chrono's `parse_from_rfc3339`: the page
//! decodes every event's time, and chrono's general parser cost it 1.7 KB on the wire of a 90 KiB
//! budget (README "Page weight"). A property test holds ours to chrono's on every input.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `time` as e.g. `2026-11-25T09:00:00.123456Z`.
pub(crate) fn serialize<S: Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// The number written in ASCII digits at `range` of `bytes`; `None` if any is not a digit.
fn number(bytes: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    bytes.get(range)?.iter().try_fold(0, |number: u32, digit| {
        digit
            .is_ascii_digit()
            .then(|| number * 10 + u32::from(digit - b'0'))
    })
}

/// Reads an RFC 3339 time (`2026-11-25T09:00:00.123Z`, `2026-11-25t10:00:00+01:00`, a space for
/// the `T`, any number of fraction digits of which nanoseconds are kept, a leap second `:60`),
/// normalised to UTC; exactly what chrono's `DateTime::parse_from_rfc3339` accepts and makes of
/// it. `None` for anything else.
pub(crate) fn parse(text: &str) -> Option<DateTime<Utc>> {
    let bytes = text.as_bytes();
    let at = |index: usize, allowed: &[u8]| bytes.get(index).is_some_and(|b| allowed.contains(b));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(bytes, 0..4)?).ok()?,
        number(bytes, 5..7)?,
        number(bytes, 8..10)?,
    )?;
    let (hour, minute, second) = (
        number(bytes, 11..13)?,
        number(bytes, 14..16)?,
        number(bytes, 17..19)?,
    );
    let mut rest = &bytes[19..];
    let mut nanos = 0;
    if let [b'.', fraction @ ..] = rest {
        let digits = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        // Nanoseconds: the first nine digits, padded with zeros; the others are dropped.
        nanos = (0..9).fold(0, |nanos, index| {
            let digit = fraction[..digits]
                .get(index)
                .map_or(0, |digit| digit - b'0');
            nanos * 10 + u32::from(digit)
        });
        rest = &fraction[digits..];
    }
    let offset_s = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hours, minutes) = (number(rest, 1..3)?, number(rest, 4..6)?);
            if minutes > 59 {
                return None;
            }
            let offset_s = i32::try_from(hours * 3600 + minutes * 60).ok()?;
            if *sign == b'-' { -offset_s } else { offset_s }
        }
        _ => return None,
    };
    // A leap second is the 59th second's second half, as chrono keeps it.
    let (second, nanos) = match second {
        60 => (59, nanos + 1_000_000_000),
        _ => (second, nanos),
    };
    let local = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    Some(
        local
            .checked_sub_offset(FixedOffset::east_opt(offset_s)?)?
            .and_utc(),
    )
}

/// Reads any RFC 3339 time, normalised to UTC ([`parse`]).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What chrono makes of `text`.
    fn chrono_reads(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc))
    }

    #[test]
    fn times_read_as_chrono_reads_them() {
        for text in [
            "2026-11-25T09:00:00.123Z",
            "2026-11-25T09:00:00Z",
            "2026-11-25t10:00:00.5+01:00",
            "2026-11-25 09:00:00z",
            "2026-11-24T23:59:59.123456789123-09:30",
            "2024-02-29T00:00:00Z",
            "2016-12-31T23:59:60.250Z",
            "0000-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
        ] {
            assert_eq!(parse(text), chrono_reads(text), "{text}");
            assert!(parse(text).is_some(), "{text}");
        }
        for text in [
            "",
            "2026-11-25T09:00:00",
            "2026-11-25T09:00:00.Z",
            "2026-11-25T09:00:00.123",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T09:60:00Z",
            "2026-11-25T09:00:61Z",
            "2026-11-25T09:00:00+24:00",
            "2026-11-25T09:00:00+01:60",
            "2026-11-25T09:00:00+0100",
            "2026-11-25X09:00:00Z",
            "+2026-11-25T09:00:00Z",
            "2026-11-25T09:00:00Z ",
            "2026-1-25T09:00:00Z",
            "２026-11-25T09:00:00Z",
        ] {
            assert_eq!(parse(text), chrono_reads(text), "{text}");
            assert_eq!(parse(text), None, "{text}");
        }
    }

    proptest! {
        #[test]
        fn any_time_reads_back_as_written(millis in -62_135_596_800_000_i64..253_402_300_799_999) {
            let time = DateTime::from_timestamp_millis(millis).expect("in range");
            let text = time.to_rfc3339_opts(SecondsFormat::Micros, true);
            prop_assert_eq!(parse(&text), Some(time));
        }

        #[test]
        fn anything_shaped_like_a_time_reads_as_chrono_reads_it(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt x][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2}|[+-][0-9]{4})?"
        ) {
            prop_assert_eq!(parse(&text), chrono_reads(&text), "{}", text);
        }

        #[test]
        fn any_date_and_time_near_the_valid_ones_reads_as_chrono_reads_it(
            (year, month, day) in (0..=9999_u32, 0..=13_u32, 0..=32_u32),
            (hour, minute, second) in (0..=25_u32, 0..=61_u32, 0..=61_u32),
            fraction in "(\\.[0-9]{1,10})?",
            (offset, offset_hours, offset_minutes) in ("[Zz+-]", 0..=25_u32, 0..=61_u32),
        ) {
            let offset = match offset.as_str() {
                "+" | "-" => format!("{offset}{offset_hours:02}:{offset_minutes:02}"),
                zulu => zulu.to_owned(),
            };
            let text = format!(
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}{offset}"
            );
            prop_assert_eq!(parse(&text), chrono_reads(&text), "{}", text);
        }

        #[test]
        fn any_text_reads_as_chrono_reads_it(text in "\\PC{0,40}") {
            prop_assert_eq!(parse(&text), chrono_reads(&text), "{}", text);
        }
    }
}
