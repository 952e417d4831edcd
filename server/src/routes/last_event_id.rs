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
    use shared::Epoch;

    #[test]
    fn a_valid_id_resumes_after_it() {
        let id = EventId {
            epoch: Epoch(0xfeed),
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

    /// Cases per property: proptest's 256 unless `PROPTEST_CASES` says otherwise (`just soak`
    /// runs many more).
    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any header bytes at all are read without a panic, and resume only when they are
            /// exactly an id this server could have sent.
            #[test]
            fn any_header_bytes_resume_only_after_a_canonical_id(
                value in proptest::collection::vec(any::<u8>(), 0..64),
            ) {
                if let Resume::After(id) = LastEventId::from_header(Some(&value)).0 {
                    prop_assert_eq!(id.to_string().into_bytes(), value);
                }
            }

            /// Ids with one byte changed, dropped or added: the near misses a fuzzer would try.
            #[test]
            fn near_misses_of_an_id_never_resume_anywhere_else(
                epoch: u64,
                count: u64,
                at in any::<prop::sample::Index>(),
                byte: u8,
                edit in 0..3u8,
            ) {
                let mut value = EventId { epoch: Epoch(epoch), count }.to_string().into_bytes();
                let i = at.index(value.len());
                match edit {
                    0 => value[i] = byte,
                    1 => { value.remove(i); }
                    _ => value.insert(i, byte),
                }
                match LastEventId::from_header(Some(&value)).0 {
                    Resume::After(id) => prop_assert_eq!(id.to_string().into_bytes(), value),
                    Resume::Latest => {}
                }
            }

            /// Every id the server sends resumes right after itself.
            #[test]
            fn every_sent_id_resumes_after_itself(epoch: u64, count: u64) {
                let id = EventId { epoch: Epoch(epoch), count };
                let header = id.to_string();
                prop_assert_eq!(
                    LastEventId::from_header(Some(header.as_bytes())).0,
                    Resume::After(id)
                );
            }
        }
    }
}
