//! An operator's message to every open page, published through the server's publish API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, de::MapAccess};

use crate::{
    InvalidDraft, Publishable, StreamEvent,
    object::{self, Fields, Time},
};

/// How urgent a [`Notice`] is; the page styles it by level, and announces `critical` ones to
/// screen readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// For information.
    Info,
    /// Something needs attention soon.
    Warning,
    /// Something is wrong now.
    Critical,
}

/// An operator's message, as sent in a `notice` event's `data:` line.
///
/// JSON: `{"text":"Deploy at 18:00","level":"warning","time":"2026-11-25T09:00:00.000000Z"}`;
/// `time` is set by the server when it accepts the notice.
///
/// # Examples
/// ```
/// use chrono::{TimeZone, Utc};
/// use shared::{Level, Notice};
///
/// let time = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
/// let notice = Notice { text: "Deploy at 18:00".into(), level: Level::Warning, time };
/// let json = serde_json::to_string(&notice).unwrap();
/// assert_eq!(json, r#"{"text":"Deploy at 18:00","level":"warning","time":"2026-11-25T09:00:00.000000Z"}"#);
/// assert_eq!(serde_json::from_str::<Notice>(&json).unwrap(), notice);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    /// The message: 1 to [`Notice::MAX_TEXT_CHARS`] characters, not only whitespace.
    pub text: String,
    /// How urgent it is.
    pub level: Level,
    /// When the server accepted it.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    pub time: DateTime<Utc>,
}

/// [`Notice::level`] read from its word: what serde derives for an enum costs the page (which
/// decodes every notice) more than matching three words (README "Page weight"). A publisher's
/// [`NoticeDraft`] keeps serde's own, whose message names the words it expects.
struct LevelWord(Level);

impl<'de> Deserialize<'de> for LevelWord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "info" => Ok(Self(Level::Info)),
            "warning" => Ok(Self(Level::Warning)),
            "critical" => Ok(Self(Level::Critical)),
            _ => Err(serde::de::Error::custom("an unknown level")),
        }
    }
}

/// A notice's fields as read so far.
#[derive(Default)]
struct NoticeFields {
    text: Option<String>,
    level: Option<LevelWord>,
    time: Option<Time>,
}

impl<'de> Fields<'de> for NoticeFields {
    type Value = Notice;
    const WHAT: &'static str = "a notice";

    fn read<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "text" => self.text = Some(map.next_value()?),
            "level" => self.level = Some(map.next_value()?),
            "time" => self.time = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(self) -> Option<Notice> {
        Some(Notice {
            text: self.text?,
            level: self.level?.0,
            time: self.time?.0,
        })
    }
}

/// Read field by field (`object.rs`), as serde would derive it but for arrays.
impl<'de> Deserialize<'de> for Notice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        object::read::<D, NoticeFields>(deserializer)
    }
}

impl Notice {
    /// The longest `text`, in characters (Unicode scalar values).
    pub const MAX_TEXT_CHARS: usize = 4000;
}

impl StreamEvent for Notice {
    const NAME: &'static str = "notice";
    const DEFAULT_TOPIC: &'static str = "notices";
}

/// What a publisher sends to publish a [`Notice`]: the notice without its `time`. Any other
/// field is refused, so that a typo (`"levle"`) is an error, not a silently dropped field.
///
/// # Examples
/// ```
/// use chrono::{DateTime, Utc};
/// use shared::{Level, Notice, NoticeDraft, Publishable};
///
/// let now = DateTime::<Utc>::UNIX_EPOCH;
///
/// let draft: NoticeDraft = serde_json::from_str(r#"{"text":"hello","level":"info"}"#).unwrap();
/// let notice = Notice::from_draft(draft, now).unwrap();
/// assert_eq!((notice.text.as_str(), notice.level), ("hello", Level::Info));
///
/// assert!(serde_json::from_str::<NoticeDraft>(r#"{"text":"hi","level":"info","x":1}"#).is_err());
/// assert!(serde_json::from_str::<NoticeDraft>(r#"{"text":"hi","level":"loud"}"#).is_err());
/// let blank: NoticeDraft = serde_json::from_str(r#"{"text":"  ","level":"info"}"#).unwrap();
/// assert!(Notice::from_draft(blank, now).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeDraft {
    /// The message.
    pub text: String,
    /// How urgent it is.
    pub level: Level,
}

impl Publishable for Notice {
    type Draft = NoticeDraft;

    fn from_draft(draft: NoticeDraft, time: DateTime<Utc>) -> Result<Self, InvalidDraft> {
        if draft.text.trim().is_empty() {
            return Err(InvalidDraft("text is empty".into()));
        }
        let chars = draft.text.chars().count();
        if chars > Self::MAX_TEXT_CHARS {
            return Err(InvalidDraft(format!(
                "text is {chars} characters long, more than {}",
                Self::MAX_TEXT_CHARS
            )));
        }
        Ok(Self {
            text: draft.text,
            level: draft.level,
            time,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(text: &str) -> NoticeDraft {
        NoticeDraft {
            text: text.into(),
            level: Level::Critical,
        }
    }

    #[test]
    fn text_must_hold_something_and_not_too_much() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        for bad in ["", " ", "\n\t", &"x".repeat(Notice::MAX_TEXT_CHARS + 1)] {
            assert!(Notice::from_draft(draft(bad), now).is_err(), "{bad:?}");
        }
        // The limit counts characters, not bytes.
        let longest = "é".repeat(Notice::MAX_TEXT_CHARS);
        let notice = Notice::from_draft(draft(&longest), now).unwrap();
        assert_eq!(notice.text, longest);
        assert_eq!(notice.time, now);
    }

    #[test]
    fn levels_are_lowercase_words() {
        for (level, json) in [
            (Level::Info, "\"info\""),
            (Level::Warning, "\"warning\""),
            (Level::Critical, "\"critical\""),
        ] {
            assert_eq!(serde_json::to_string(&level).unwrap(), json);
            assert_eq!(serde_json::from_str::<Level>(json).unwrap(), level);
        }
        assert!(serde_json::from_str::<Level>("\"Info\"").is_err());
    }
}
