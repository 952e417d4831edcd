//! The `Last-Event-ID` request header, read into where a stream should resume.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use shared::EventId;

use crate::hub::Resume;

/// Where the client asked to resume. Never fails: a missing, empty or unreadable header is a
/// new client, as the SSE spec has it (browsers send the last id they saw, or nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastEventId(pub Resume);

/// The header a reconnecting `EventSource` sends.
pub const HEADER: &str = "last-event-id";

impl LastEventId {
    /// Reads the raw header value.
    pub fn from_header(value: Option<&[u8]>) -> Self {
        let Some(value) = value.filter(|value| !value.is_empty()) else {
            return Self(Resume::Latest);
        };
        match std::str::from_utf8(value).map(str::parse::<EventId>) {
            Ok(Ok(id)) => Self(Resume::After(id)),
            Ok(Err(err)) => {
                tracing::debug!(%err, "unusable Last-Event-ID; starting from the newest event");
                Self(Resume::Latest)
            }
            Err(_) => {
                tracing::debug!("Last-Event-ID is not UTF-8; starting from the newest event");
                Self(Resume::Latest)
            }
        }
    }
}

impl FromRequest for LastEventId {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_header(
            req.headers().get(HEADER).map(|value| value.as_bytes()),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_id_resumes_after_it() {
        let id = EventId {
            epoch: 0xfeed,
            count: 9,
        };
        let header = id.to_string();
        assert_eq!(
            LastEventId::from_header(Some(header.as_bytes())).0,
            Resume::After(id)
        );
    }

    #[test]
    fn missing_empty_and_malformed_ids_start_at_the_newest() {
        let huge = vec![b'7'; 60 * 1024];
        for value in [
            None,
            Some(&b""[..]),
            Some(b"banana"),
            Some(b"-1"),
            Some(b"18446744073709551616"),
            Some(b"00000000000000ff-18446744073709551616"),
            Some(b"\xff\xfe"),
            Some(&huge[..]),
        ] {
            assert_eq!(
                LastEventId::from_header(value).0,
                Resume::Latest,
                "{value:?}"
            );
        }
    }
}
