//! Events that a publisher outside the server may put into the stream.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use crate::StreamEvent;

/// A [`StreamEvent`] that `POST /events/{name}` accepts: the publisher sends its `Draft` (the
/// event without the fields the server sets, such as `time`), the server completes it.
pub trait Publishable: StreamEvent {
    /// What the publisher sends.
    type Draft: DeserializeOwned;

    /// The event for `draft`, accepted at `time`.
    ///
    /// # Errors
    /// When the draft parsed but breaks a rule of the event (an empty text, say).
    fn from_draft(draft: Self::Draft, time: DateTime<Utc>) -> Result<Self, InvalidDraft>;
}

/// Why a draft that parsed is still not an event: what is wrong with it, for the publisher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidDraft(pub String);
