//! What an event is about: its topic, a short `/`-separated path such as `orders/42`. Every event
//! has exactly one; subscribers pick events by it ([`crate::Selector`]).

use std::{fmt, str::FromStr, sync::Arc};

/// An event's topic: 1 to [`Topic::MAX_SEGMENTS`] segments joined by `/`, each made of
/// `[A-Za-z0-9._~-]` (the characters a URL carries unescaped), at most [`Topic::MAX_LEN`] bytes
/// in all. E.g. `orders/42`, `builds/7/log`, `notices`.
///
/// Cheap to clone (one shared allocation), so the hub can keep it beside every event it holds.
///
/// # Examples
/// ```
/// use shared::{Topic, TopicError};
///
/// let topic: Topic = "orders/42".parse().unwrap();
/// assert_eq!(topic.as_str(), "orders/42");
/// assert_eq!(topic.segments().collect::<Vec<_>>(), ["orders", "42"]);
/// assert_eq!("orders//42".parse::<Topic>(), Err(TopicError::EmptySegment));
/// assert_eq!("orders/*".parse::<Topic>(), Err(TopicError::BadCharacter));
/// assert_eq!("a/".repeat(8).trim_end_matches('/').parse::<Topic>().unwrap().segments().count(), 8);
/// assert_eq!("a/".repeat(9).trim_end_matches('/').parse::<Topic>(), Err(TopicError::TooManySegments));
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic(Arc<str>);

/// Why a text is not a [`Topic`] (or a [`crate::Selector`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Nothing at all.
    #[error("a topic cannot be empty")]
    Empty,
    /// Longer than [`Topic::MAX_LEN`] bytes.
    #[error("a topic is at most {} bytes", Topic::MAX_LEN)]
    TooLong,
    /// More than [`Topic::MAX_SEGMENTS`] segments.
    #[error("a topic has at most {} segments", Topic::MAX_SEGMENTS)]
    TooManySegments,
    /// `//`, or a `/` at either end.
    #[error("a topic has no empty segment (no `//`, no `/` at either end)")]
    EmptySegment,
    /// A byte outside `[A-Za-z0-9._~-]` in a segment (or, in a selector, a misplaced `*`).
    #[error("a topic segment is made of A-Z a-z 0-9 . _ ~ - only")]
    BadCharacter,
    /// In a selector: `**` anywhere but as the last segment.
    #[error("`**` may only be a selector's last segment")]
    InnerDoubleStar,
}

/// Whether `byte` may appear in a topic segment.
pub(crate) fn is_segment_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'~' | b'-')
}

/// Checks the rules every topic and selector share (length, segment count, no empty segment)
/// and hands each segment to `segment`, which checks its characters.
pub(crate) fn check_path(
    text: &str,
    mut segment: impl FnMut(usize, &str) -> Result<(), TopicError>,
) -> Result<(), TopicError> {
    if text.is_empty() {
        return Err(TopicError::Empty);
    }
    if text.len() > Topic::MAX_LEN {
        return Err(TopicError::TooLong);
    }
    let mut count = 0;
    for part in text.split('/') {
        count += 1;
        if count > Topic::MAX_SEGMENTS {
            return Err(TopicError::TooManySegments);
        }
        if part.is_empty() {
            return Err(TopicError::EmptySegment);
        }
        segment(count - 1, part)?;
    }
    Ok(())
}

impl Topic {
    /// The longest topic, in bytes.
    pub const MAX_LEN: usize = 200;
    /// The most segments a topic has.
    pub const MAX_SEGMENTS: usize = 8;

    /// The topic's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its segments, in order.
    pub fn segments(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// A topic from text already checked by the same rules (an exact [`crate::Selector`]'s),
    /// without checking or copying it again.
    pub(crate) fn from_checked(text: Arc<str>) -> Self {
        Self(text)
    }
}

impl FromStr for Topic {
    type Err = TopicError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_path(text, |_, part| {
            if part.bytes().all(is_segment_byte) {
                Ok(())
            } else {
                Err(TopicError::BadCharacter)
            }
        })?;
        Ok(Self(Arc::from(text)))
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({:?})", &*self.0)
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Topic {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_topics_parse_and_print_as_they_were() {
        for good in [
            "notices",
            "orders/42",
            "builds/7/log",
            "a.b_c~d-E9",
            &"x".repeat(200),
            "1/2/3/4/5/6/7/8",
        ] {
            assert_eq!(good.parse::<Topic>().unwrap().to_string(), good);
        }
    }

    #[test]
    fn bad_topics_say_why() {
        for (bad, why) in [
            ("", TopicError::Empty),
            ("/", TopicError::EmptySegment),
            ("/a", TopicError::EmptySegment),
            ("a/", TopicError::EmptySegment),
            ("a//b", TopicError::EmptySegment),
            ("a b", TopicError::BadCharacter),
            ("a\nb", TopicError::BadCharacter),
            ("a\0", TopicError::BadCharacter),
            ("é", TopicError::BadCharacter),
            ("a/*", TopicError::BadCharacter),
            ("a:b", TopicError::BadCharacter),
            ("1/2/3/4/5/6/7/8/9", TopicError::TooManySegments),
        ] {
            assert_eq!(bad.parse::<Topic>(), Err(why), "{bad:?}");
        }
        assert_eq!("x".repeat(201).parse::<Topic>(), Err(TopicError::TooLong));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_text_parses_without_panic_and_only_as_itself(text in ".{0,64}") {
                if let Ok(topic) = text.parse::<Topic>() {
                    prop_assert_eq!(topic.as_str(), text.as_str());
                }
            }
        }
    }
}
