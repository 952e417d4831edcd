//! Where a stream resumes: the `Last-Event-ID` request header, or `?lastEventId=` for a new
//! `EventSource` (which cannot send headers), read with the same rules.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use shared::{EventStamp, LAST_EVENT_ID_PARAM};

use crate::stream::Resume;

/// Where the client asked to resume. Never fails: a missing, empty or unreadable id is a new
/// client, as the SSE spec has it (browsers send the last id they saw, or nothing).
///
/// A non-empty `Last-Event-ID` header wins over the query parameter: a browser that reconnects
/// by itself sends the header with the newest id it saw, while the URL still carries the id the
/// page opened the stream with.
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
        match std::str::from_utf8(value) {
            Ok(text) => Self::from_text(text),
            Err(_) => {
                tracing::debug!("Last-Event-ID is not UTF-8; starting from the newest event");
                Self(Resume::Latest)
            }
        }
    }

    /// Reads the raw query string (without the `?`): the first `lastEventId` parameter,
    /// percent-decoded, with anything that is not UTF-8 replaced (it then cannot be an id).
    pub fn from_query(query: &str) -> Self {
        let value = form_urlencoded::parse(query.as_bytes())
            .find(|(name, _)| name == LAST_EVENT_ID_PARAM)
            .map(|(_, value)| value);
        match value.filter(|value| !value.is_empty()) {
            Some(value) => Self::from_text(&value),
            None => Self(Resume::Latest),
        }
    }

    /// Reads the header if the request has a non-empty one, the query parameter otherwise.
    pub fn from_request_parts(header: Option<&[u8]>, query: &str) -> Self {
        match header {
            Some(value) if !value.is_empty() => Self::from_header(Some(value)),
            _ => Self::from_query(query),
        }
    }

    /// An event's whole `id:` (what browsers send back) or a bare [`shared::EventId`].
    fn from_text(text: &str) -> Self {
        match EventStamp::cursor(text) {
            Ok(id) => Self(Resume::After(id)),
            Err(err) => {
                tracing::debug!(%err, "unusable last event id; starting from the newest event");
                Self(Resume::Latest)
            }
        }
    }
}

impl FromRequest for LastEventId {
    type Error = std::convert::Infallible;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_request_parts(
            req.headers().get(HEADER).map(|value| value.as_bytes()),
            req.query_string(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Epoch, EventId};

    #[test]
    fn a_valid_id_resumes_after_it() {
        let id = EventId {
            epoch: Epoch(0xfeed),
            seq: 9,
        };
        let header = id.to_string();
        assert_eq!(
            LastEventId::from_header(Some(header.as_bytes())).0,
            Resume::After(id)
        );
    }

    #[test]
    fn the_query_parameter_resumes_like_the_header() {
        let id = EventId {
            epoch: Epoch(0xfeed),
            seq: 9,
        };
        let query = format!("{LAST_EVENT_ID_PARAM}={id}");
        assert_eq!(LastEventId::from_query(&query).0, Resume::After(id));
        // Percent-encoded, among other parameters, the first of two.
        let encoded = format!(
            "a=1&{LAST_EVENT_ID_PARAM}={}&lastEventId=junk",
            id.to_string().replace('-', "%2D")
        );
        assert_eq!(LastEventId::from_query(&encoded).0, Resume::After(id));
        for bad in [
            "",
            "lastEventId",
            "lastEventId=",
            "lasteventid=0000000000000001-1",
            "lastEventId=banana",
            "lastEventId=%FF%FE",
            "lastEventId=%",
            "lastEventId=0000000000000001-1%00",
            "lastEventId=0000000000000001+1",
        ] {
            assert_eq!(LastEventId::from_query(bad).0, Resume::Latest, "{bad:?}");
        }
        // Not a bad one: garbage in another parameter does not spoil a good `lastEventId`.
        assert_eq!(
            LastEventId::from_query("lastEventId=0000000000000001-1&%%%=%%%").0,
            Resume::After(EventId {
                epoch: Epoch(1),
                seq: 1,
            })
        );
        let huge = format!("lastEventId={}", "7".repeat(60 * 1024));
        assert_eq!(LastEventId::from_query(&huge).0, Resume::Latest);
    }

    #[test]
    fn a_non_empty_header_wins_over_the_query() {
        let header_id = EventId {
            epoch: Epoch(0xfeed),
            seq: 9,
        };
        let query_id = EventId {
            epoch: Epoch(0xfeed),
            seq: 3,
        };
        let query = format!("{LAST_EVENT_ID_PARAM}={query_id}");
        let header = header_id.to_string();
        assert_eq!(
            LastEventId::from_request_parts(Some(header.as_bytes()), &query).0,
            Resume::After(header_id)
        );
        // Even a malformed header: it is what the browser's own reconnect sent.
        assert_eq!(
            LastEventId::from_request_parts(Some(b"banana"), &query).0,
            Resume::Latest
        );
        // An empty header is no header.
        assert_eq!(
            LastEventId::from_request_parts(Some(b""), &query).0,
            Resume::After(query_id)
        );
        assert_eq!(
            LastEventId::from_request_parts(None, &query).0,
            Resume::After(query_id)
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
        // The contract's table of texts that are not ids, as a header and as the query
        // parameter (percent-encoded where a URL needs it).
        for bad in shared::MALFORMED_EVENT_IDS {
            assert_eq!(
                LastEventId::from_header(Some(bad.as_bytes())).0,
                Resume::Latest,
                "header {bad:?}"
            );
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair(LAST_EVENT_ID_PARAM, bad)
                .finish();
            assert_eq!(
                LastEventId::from_query(&query).0,
                Resume::Latest,
                "query {query:?}"
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
                let mut value = EventId { epoch: Epoch(epoch), seq: count }.to_string().into_bytes();
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

            /// Any query string at all is read without a panic, and resumes only after an id
            /// that is exactly one this server could have sent.
            #[test]
            fn any_query_resumes_only_after_a_canonical_id(query in "[a-zA-Z0-9%&=+-]{0,64}") {
                if let Resume::After(id) = LastEventId::from_query(&query).0 {
                    let text = id.to_string();
                    let spelled = form_urlencoded::parse(query.as_bytes())
                        .any(|(name, value)| name == LAST_EVENT_ID_PARAM && value == text);
                    prop_assert!(spelled, "{query:?} resumed after {text}");
                }
            }

            /// Every id the server sends resumes right after itself.
            #[test]
            fn every_sent_id_resumes_after_itself(epoch: u64, count: u64) {
                let id = EventId { epoch: Epoch(epoch), seq: count };
                let header = id.to_string();
                prop_assert_eq!(
                    LastEventId::from_header(Some(header.as_bytes())).0,
                    Resume::After(id)
                );
            }
        }
    }
}
