//! Which topics a stream wants: a [`Selector`] names one topic or a pattern of them, a
//! [`Selection`] is the selectors of one stream (`?topic=` in its URL, repeatable).
//!
//! Matching is a walk over the topic's segments beside the selector's: linear in the topic's
//! length, no regular expression, no backtracking.

use std::{fmt, str::FromStr, sync::Arc};

use crate::{
    Topic, TopicError,
    topic::{check_path, is_segment_byte},
};

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Part {
    /// This segment exactly.
    Literal(Box<str>),
    /// `*`: any one segment.
    One,
}

/// An exact topic (`orders/42`) or a pattern: `*` matches exactly one segment (`orders/*`
/// matches `orders/1`, not `orders/1/items`), a trailing `**` one or more (`builds/7/**`
/// matches `builds/7/log` and `builds/7/log/raw`, not `builds/7`). Otherwise as a [`Topic`]: at
/// most 8 segments and 200 bytes.
///
/// # Examples
/// ```
/// use shared::{Selector, Topic, TopicError};
///
/// let topic = |text: &str| text.parse::<Topic>().unwrap();
/// let orders: Selector = "orders/*".parse().unwrap();
/// assert!(orders.matches(&topic("orders/1")));
/// assert!(!orders.matches(&topic("orders/1/items")));
/// assert!(!orders.matches(&topic("ordersx/1")));
/// let builds: Selector = "builds/**".parse().unwrap();
/// assert!(builds.matches(&topic("builds/7")) && builds.matches(&topic("builds/7/log/raw")));
/// assert!(!builds.matches(&topic("builds")));
/// assert_eq!("a/**/b".parse::<Selector>(), Err(TopicError::InnerDoubleStar));
/// assert_eq!("***".parse::<Selector>(), Err(TopicError::BadCharacter));
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    /// As written: the selector's identity (two streams that wrote the same text share one
    /// entry of the server's index).
    text: Arc<str>,
    /// `None` for an exact topic.
    pattern: Option<Pattern>,
}

/// The parts of a selector that is not an exact topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Pattern {
    parts: Box<[Part]>,
    /// Ends with `**`: one or more segments after `parts`.
    rest: bool,
}

impl Pattern {
    fn matches(&self, topic: &Topic) -> bool {
        let mut segments = topic.segments();
        for part in &self.parts {
            match (part, segments.next()) {
                (_, None) => return false,
                (Part::One, Some(_)) => {}
                (Part::Literal(literal), Some(segment)) => {
                    if **literal != *segment {
                        return false;
                    }
                }
            }
        }
        if self.rest {
            segments.next().is_some()
        } else {
            segments.next().is_none()
        }
    }
}

impl Selector {
    /// The selector's segments as pattern parts, and whether it ends with `**` (an exact topic
    /// is all literals without `**`).
    fn parts(&self) -> (Vec<Part>, bool) {
        match &self.pattern {
            Some(pattern) => (pattern.parts.to_vec(), pattern.rest),
            None => (
                self.text
                    .split('/')
                    .map(|s| Part::Literal(s.into()))
                    .collect(),
                false,
            ),
        }
    }

    /// Whether every topic this selector matches, `wider` matches too: `users/alice/**` is
    /// within `users/**` and `users/*/**`; `users/*` is not within `users/alice/**`. Linear in
    /// the selectors' lengths.
    ///
    /// # Examples
    /// ```
    /// use shared::Selector;
    ///
    /// let s = |text: &str| text.parse::<Selector>().unwrap();
    /// assert!(s("users/alice/**").is_within(&s("users/**")));
    /// assert!(s("users/alice/notes").is_within(&s("users/alice/**")));
    /// assert!(!s("users/*").is_within(&s("users/alice/**")));
    /// assert!(!s("users/**").is_within(&s("users/*")));
    /// ```
    pub fn is_within(&self, wider: &Selector) -> bool {
        let (narrow, narrow_rest) = self.parts();
        let (wide, wide_rest) = wider.parts();
        let lengths_fit = if wide_rest {
            // `wide` matches topics longer than its parts; every topic of `narrow` must be.
            narrow.len() > wide.len() || (narrow_rest && narrow.len() == wide.len())
        } else {
            !narrow_rest && narrow.len() == wide.len()
        };
        lengths_fit
            && wide.iter().zip(&narrow).all(|pair| match pair {
                (Part::One, _) => true,
                (Part::Literal(wide), Part::Literal(narrow)) => wide == narrow,
                (Part::Literal(_), Part::One) => false,
            })
    }

    /// Whether `topic` is one this selector picks.
    pub fn matches(&self, topic: &Topic) -> bool {
        match &self.pattern {
            None => *self.text == *topic.as_str(),
            Some(pattern) => pattern.matches(topic),
        }
    }

    /// The topic itself when the selector names exactly one.
    pub fn exact(&self) -> Option<Topic> {
        match self.pattern {
            // The same segment rules as a topic's, checked when it was parsed.
            None => Some(Topic::from_checked(Arc::clone(&self.text))),
            Some(_) => None,
        }
    }

    /// Whether it is a pattern (holds `*` or `**`).
    pub fn is_pattern(&self) -> bool {
        self.pattern.is_some()
    }

    /// The selector as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Selector {
    type Err = TopicError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = Vec::new();
        let mut wild = false;
        let mut rest = false;
        check_path(text, |_, segment| {
            if rest {
                // Something after `**`.
                return Err(TopicError::InnerDoubleStar);
            }
            match segment {
                "*" => {
                    wild = true;
                    parts.push(Part::One);
                }
                "**" => {
                    wild = true;
                    rest = true;
                }
                literal if literal.bytes().all(is_segment_byte) => {
                    parts.push(Part::Literal(literal.into()));
                }
                _ => return Err(TopicError::BadCharacter),
            }
            Ok(())
        })?;
        Ok(Self {
            text: Arc::from(text),
            pattern: wild.then(|| Pattern {
                parts: parts.into(),
                rest,
            }),
        })
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Selector({:?})", &*self.text)
    }
}

/// What one stream subscribes to: no selector at all means every topic (what `/sse` without
/// `?topic=` serves), otherwise the topics that match any of at most
/// [`Selection::MAX_SELECTORS`] selectors, each once.
///
/// # Examples
/// ```
/// use shared::{Selection, SelectionError, SelectionKind, Topic};
///
/// let selection = Selection::parse(["orders/*", "users/7", "orders/*"]).unwrap();
/// assert_eq!(selection.selectors().len(), 2);
/// assert_eq!(selection.kind(), SelectionKind::Pattern);
/// assert!(selection.matches(&"users/7".parse::<Topic>().unwrap()));
/// assert!(!selection.matches(&"users/8".parse::<Topic>().unwrap()));
/// assert_eq!(selection.query(), "topic=orders%2F*&topic=users%2F7");
/// assert!(Selection::all().matches(&"anything/at/all".parse::<Topic>().unwrap()));
/// assert!(matches!(Selection::parse(["a//b"]), Err(SelectionError::Selector { .. })));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selection {
    selectors: Vec<Selector>,
}

/// What kind of subscription a stream holds (a metric's label; topics never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectionKind {
    /// Every topic (no `?topic=`).
    All,
    /// Only exact topics.
    Exact,
    /// At least one pattern.
    Pattern,
}

impl SelectionKind {
    /// `all`, `exact` or `pattern`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Exact => "exact",
            Self::Pattern => "pattern",
        }
    }
}

/// Why a stream's `?topic=` parameters are not a [`Selection`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// More than [`Selection::MAX_SELECTORS`].
    #[error("at most {} topic selectors per stream", Selection::MAX_SELECTORS)]
    TooMany,
    /// One selector is malformed.
    #[error("topic selector {text:?}: {err}")]
    Selector {
        /// The selector as sent, cut to 64 characters.
        text: String,
        /// What is wrong with it.
        err: TopicError,
    },
}

impl Selection {
    /// The most selectors one stream may hold.
    pub const MAX_SELECTORS: usize = 32;

    /// Every topic.
    pub fn all() -> Self {
        Self::default()
    }

    /// The selection of these selectors' texts, duplicates dropped; none at all is every topic.
    ///
    /// # Errors
    /// A malformed selector, or more than [`Selection::MAX_SELECTORS`] distinct ones.
    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Self, SelectionError> {
        let mut selectors: Vec<Selector> = Vec::new();
        for text in texts {
            let selector = text
                .parse::<Selector>()
                .map_err(|err| SelectionError::Selector {
                    text: text.chars().take(64).collect(),
                    err,
                })?;
            if !selectors.contains(&selector) {
                if selectors.len() == Self::MAX_SELECTORS {
                    return Err(SelectionError::TooMany);
                }
                selectors.push(selector);
            }
        }
        Ok(Self { selectors })
    }

    /// The selectors, in the order given; empty for every topic.
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// Whether every topic `selector` matches is matched by one of this selection's selectors
    /// (checked one selector at a time: a selector covered only by two together is not).
    pub fn includes(&self, selector: &Selector) -> bool {
        self.selectors.iter().any(|wider| selector.is_within(wider))
    }

    /// Whether the stream wants events on `topic`.
    pub fn matches(&self, topic: &Topic) -> bool {
        self.selectors.is_empty() || self.selectors.iter().any(|s| s.matches(topic))
    }

    /// Every topic, only exact ones, or patterns among them.
    pub fn kind(&self) -> SelectionKind {
        if self.selectors.is_empty() {
            SelectionKind::All
        } else if self.selectors.iter().any(Selector::is_pattern) {
            SelectionKind::Pattern
        } else {
            SelectionKind::Exact
        }
    }

    /// The query string that asks for this selection (`topic=…&topic=…`, percent-encoded;
    /// empty for every topic).
    pub fn query(&self) -> String {
        let mut query = String::new();
        for selector in &self.selectors {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(crate::TOPIC_PARAM);
            query.push('=');
            for byte in selector.as_str().bytes() {
                if is_segment_byte(byte) || byte == b'*' {
                    query.push(char::from(byte));
                } else {
                    query.push_str(&format!("%{byte:02X}"));
                }
            }
        }
        query
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(text: &str) -> Topic {
        text.parse().unwrap()
    }

    fn selector(text: &str) -> Selector {
        text.parse().unwrap()
    }

    #[test]
    fn exact_selectors_match_only_their_topic() {
        let exact = selector("orders/1");
        assert!(!exact.is_pattern());
        assert_eq!(exact.exact(), Some(topic("orders/1")));
        assert!(exact.matches(&topic("orders/1")));
        for other in ["orders/10", "orders", "orders/1/items", "xorders/1"] {
            assert!(!exact.matches(&topic(other)), "{other}");
        }
    }

    #[test]
    fn a_star_is_one_segment_and_a_trailing_double_star_one_or_more() {
        let cases = [
            ("orders/*", "orders/1", true),
            ("orders/*", "orders/2", true),
            ("orders/*", "orders/1/items", false),
            ("orders/*", "ordersx/1", false),
            ("orders/*", "orders", false),
            ("*/1", "orders/1", true),
            ("*", "orders", true),
            ("*", "orders/1", false),
            ("builds/**", "builds/7", true),
            ("builds/**", "builds/7/log/raw", true),
            ("builds/**", "builds", false),
            ("builds/7/**", "builds/7/log", true),
            ("builds/7/**", "builds/8/log", false),
            ("**", "anything/at/all", true),
            ("*/*/**", "a/b", false),
            ("*/*/**", "a/b/c", true),
        ];
        for (selector_text, topic_text, expected) in cases {
            assert_eq!(
                selector(selector_text).matches(&topic(topic_text)),
                expected,
                "{selector_text} ~ {topic_text}"
            );
        }
    }

    #[test]
    fn within_is_the_subset_of_matched_topics() {
        let within = |narrow: &str, wide: &str| selector(narrow).is_within(&selector(wide));
        for (narrow, wide) in [
            ("users/alice", "users/alice"),
            ("users/alice", "users/*"),
            ("users/alice", "users/**"),
            ("users/alice/x/y", "users/**"),
            ("users/*", "users/**"),
            ("users/*/**", "users/**"),
            ("users/**", "users/**"),
            ("users/alice/**", "users/*/**"),
            ("a/b", "*/*"),
            ("a", "*"),
        ] {
            assert!(within(narrow, wide), "{narrow} within {wide}");
        }
        for (narrow, wide) in [
            ("users/*", "users/alice/**"),
            ("users/**", "users/*"),
            ("users", "users/**"),
            ("users/**", "users/alice/**"),
            ("users/alice", "users/bob"),
            ("*", "a"),
            ("a/b", "a"),
            ("**", "*"),
        ] {
            assert!(!within(narrow, wide), "{narrow} not within {wide}");
        }
    }

    #[test]
    fn malformed_selectors_say_why() {
        for (bad, why) in [
            ("", TopicError::Empty),
            ("a//b", TopicError::EmptySegment),
            ("orders/", TopicError::EmptySegment),
            ("***", TopicError::BadCharacter),
            ("a*", TopicError::BadCharacter),
            ("a/**/b", TopicError::InnerDoubleStar),
            ("**/**", TopicError::InnerDoubleStar),
            ("a\u{7}", TopicError::BadCharacter),
            ("a b", TopicError::BadCharacter),
        ] {
            assert_eq!(bad.parse::<Selector>(), Err(why), "{bad:?}");
        }
        assert_eq!(
            "x".repeat(300).parse::<Selector>(),
            Err(TopicError::TooLong)
        );
    }

    #[test]
    fn a_selection_holds_at_most_32_distinct_selectors() {
        let texts: Vec<String> = (0..33).map(|i| format!("t/{i}")).collect();
        assert_eq!(
            Selection::parse(texts.iter().map(String::as_str)),
            Err(SelectionError::TooMany)
        );
        let same = ["t/1"; 40];
        assert_eq!(Selection::parse(same).unwrap().selectors().len(), 1);
        assert_eq!(
            Selection::parse(texts[..32].iter().map(String::as_str))
                .unwrap()
                .selectors()
                .len(),
            32
        );
        assert_eq!(
            Selection::parse(std::iter::empty()).unwrap().kind(),
            SelectionKind::All
        );
        assert_eq!(
            Selection::parse(["a", "b/c"]).unwrap().kind(),
            SelectionKind::Exact
        );
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A reference matcher: the obvious recursive definition.
        fn reference(selector: &[&str], topic: &[&str]) -> bool {
            match (selector.split_first(), topic.split_first()) {
                (Some((&"**", [])), _) => !topic.is_empty(),
                (Some((&"*", rest)), Some((_, topic_rest))) => reference(rest, topic_rest),
                (Some((literal, rest)), Some((segment, topic_rest))) => {
                    literal == segment && reference(rest, topic_rest)
                }
                (None, None) => true,
                _ => false,
            }
        }

        proptest! {
            #[test]
            fn matching_agrees_with_the_reference(
                selector_parts in proptest::collection::vec(prop_oneof!["a", "b", Just("*".to_owned())], 1..5),
                rest: bool,
                topic_parts in proptest::collection::vec(prop_oneof!["a", "b"], 1..7),
            ) {
                let mut parts: Vec<&str> = selector_parts.iter().map(String::as_str).collect();
                if rest {
                    parts.push("**");
                }
                let selector: Selector = parts.join("/").parse().unwrap();
                let topic_refs: Vec<&str> = topic_parts.iter().map(String::as_str).collect();
                let topic: Topic = topic_refs.join("/").parse().unwrap();
                prop_assert_eq!(selector.matches(&topic), reference(&parts, &topic_refs));
            }

            /// A selector without wildcards is exactly the topic its text parses as, and every
            /// topic is such a selector.
            #[test]
            fn an_exact_selector_is_its_topic(
                text in "[a-z*/.~-]{0,16}|(a|b)(/(a|b|\\*)){0,10}|\\PC{0,6}",
            ) {
                let topic = text.parse::<Topic>().ok();
                match text.parse::<Selector>() {
                    Ok(selector) if !selector.is_pattern() => {
                        prop_assert_eq!(selector.exact(), topic);
                        prop_assert!(selector.exact().is_some());
                    }
                    _ => prop_assert_eq!(topic, None),
                }
            }

            /// `is_within` never claims more than is true: whenever it says yes, every topic the
            /// narrow selector matches (of a small alphabet) the wide one matches too.
            #[test]
            fn within_agrees_with_matching(
                narrow in "(a|b|\\*)(/(a|b|\\*)){0,2}(/\\*\\*)?",
                wide in "(a|b|\\*)(/(a|b|\\*)){0,2}(/\\*\\*)?",
            ) {
                let (narrow, wide): (Selector, Selector) = (narrow.parse().unwrap(), wide.parse().unwrap());
                let mut counterexample = None;
                for length in 1..=5u32 {
                    for bits in 0..(1u32 << length) {
                        let topic: String = (0..length)
                            .map(|i| if bits >> i & 1 == 1 { "a" } else { "b" })
                            .collect::<Vec<_>>()
                            .join("/");
                        let topic: Topic = topic.parse().unwrap();
                        if narrow.matches(&topic) && !wide.matches(&topic) {
                            counterexample = Some(topic);
                        }
                    }
                }
                if narrow.is_within(&wide) {
                    prop_assert!(counterexample.is_none(), "{:?}", counterexample);
                } else if narrow.parts().0.len() < 4 && wide.parts().0.len() < 4 {
                    // Short enough that topics up to 5 segments show every difference.
                    prop_assert!(counterexample.is_some(), "{narrow:?} vs {wide:?}");
                }
            }

            #[test]
            fn any_text_parses_as_a_selector_without_panic(text in "[a-z*/]{0,24}") {
                if let Ok(selector) = text.parse::<Selector>() {
                    prop_assert_eq!(selector.as_str(), text.as_str());
                }
            }
        }
    }
}
