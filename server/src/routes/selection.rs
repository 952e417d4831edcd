//! Which topics a stream asks for: every `?topic=` parameter of `GET /sse` (Mercure's name),
//! read into a [`Selection`]. A malformed selector, or too many, is a `400` with a JSON
//! `{"error": "invalid_topic", "detail": …}`: a silently empty stream would look like a quiet
//! topic.

use std::future::{Ready, ready};

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError, dev::Payload, http::StatusCode,
};
use shared::{Selection, SelectionError, TOPIC_PARAM};

/// The stream's selection: no `topic` parameter is every topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics(pub Selection);

impl Topics {
    /// Reads the raw query string (without the `?`): every `topic` parameter, percent-decoded
    /// (anything that is not UTF-8 is replaced, and then cannot be a selector).
    ///
    /// # Errors
    /// When a selector is malformed or there are too many.
    pub fn from_query(query: &str) -> Result<Self, BadSelection> {
        let texts: Vec<_> = form_urlencoded::parse(query.as_bytes())
            .filter(|(name, _)| name == TOPIC_PARAM)
            .map(|(_, value)| value)
            // A bound before parsing, so a URL of ten thousand parameters costs little.
            .take(Selection::MAX_SELECTORS * 4 + 1)
            .collect();
        Selection::parse(texts.iter().map(AsRef::as_ref))
            .map(Self)
            .map_err(BadSelection)
    }
}

/// A stream request whose `?topic=` is not a selection.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadSelection(pub SelectionError);

impl ResponseError for BadSelection {
    fn status_code(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    fn error_response(&self) -> HttpResponse {
        super::refusal(self.status_code()).json(super::refusal_body("invalid_topic", self))
    }
}

impl FromRequest for Topics {
    type Error = BadSelection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Self::from_query(req.query_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_parameter_is_a_selector_and_none_is_every_topic() {
        let all = Topics::from_query("lastEventId=x").unwrap();
        assert_eq!(all.0, Selection::all());
        let two = Topics::from_query("topic=orders%2F*&a=b&topic=users/7").unwrap();
        assert_eq!(two.0, Selection::parse(["orders/*", "users/7"]).unwrap());
        for bad in [
            "topic=",
            "topic=a//b",
            "topic=***",
            "topic=a/**/b",
            "topic=%00",
            "topic=%FF",
            "topic=a%0Ab",
        ] {
            assert!(Topics::from_query(bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..33).map(|i| format!("topic=t/{i}")).collect();
        assert!(Topics::from_query(&many.join("&")).is_err());
        let floods = "topic=a&".repeat(10_000);
        assert!(Topics::from_query(&floods).is_ok(), "one distinct selector");
    }
}
