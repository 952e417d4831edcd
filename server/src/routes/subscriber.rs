//! Who opens a stream: the subscriber token of the request, from the `Authorization: Bearer`
//! header (what non-browser clients send), else the `pingstream_token` cookie (what browsers
//! send, since `EventSource` cannot set headers), else `?token=` (a last resort). No token is an
//! anonymous reader of public topics; a token that does not verify is a `401`, never a silent
//! fall back to anonymous.

use std::future::{Ready, ready};

use actix_web::{
    FromRequest, HttpRequest, HttpResponse, ResponseError,
    dev::Payload,
    http::{StatusCode, header},
    web,
};

use crate::access::{Access, COOKIE, Grant, TOKEN_PARAM, TokenError};

/// The grant of the request's subscriber token; `None` without one.
#[derive(Debug, Clone)]
pub struct Subscriber(pub Option<Grant>);

/// A request whose subscriber token was refused: `401` with a JSON body and
/// `WWW-Authenticate`.
#[derive(Debug, thiserror::Error)]
pub enum Unauthorized {
    /// The `Authorization` header is not a bearer token.
    #[error("{0}")]
    Malformed(&'static str),
    /// The token does not verify.
    #[error("{0}")]
    Token(#[from] TokenError),
}

impl ResponseError for Unauthorized {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

    fn error_response(&self) -> HttpResponse {
        super::refusal(self.status_code())
            .insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer realm=\"pingstream\", error=\"invalid_token\"",
            ))
            .json(super::refusal_body("unauthorized", self))
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, if any.
fn cookie<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name && !value.is_empty()).then_some(value)
        })
}

/// The request's token, from where it looks first: header, cookie, query.
fn presented(request: &HttpRequest) -> Result<Option<String>, Unauthorized> {
    if let Some(token) = super::bearer::token(request).map_err(Unauthorized::Malformed)? {
        return Ok(Some(token.to_owned()));
    }
    if let Some(token) = cookie(request, COOKIE) {
        return Ok(Some(token.to_owned()));
    }
    Ok(form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(name, value)| name == TOKEN_PARAM && !value.is_empty())
        .map(|(_, value)| value.into_owned()))
}

impl Subscriber {
    /// Reads and verifies the request's token.
    ///
    /// # Errors
    /// A malformed `Authorization` header, or a token that does not verify.
    pub fn from_request_parts(
        request: &HttpRequest,
        access: &Access,
    ) -> Result<Self, Unauthorized> {
        match presented(request)? {
            None => Ok(Self(None)),
            Some(token) => Ok(Self(Some(access.verifier.verify(&token)?))),
        }
    }
}

impl FromRequest for Subscriber {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let Some(access) = req.app_data::<web::Data<Access>>() else {
            return ready(Ok(Self(None)));
        };
        ready(Self::from_request_parts(req, access).map_err(actix_web::Error::from))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn the_cookie_is_found_among_others_and_in_any_cookie_header() {
        let request = TestRequest::default()
            .insert_header((header::COOKIE, "a=1; pingstream_token=abc.def.ghi; b=2"))
            .to_http_request();
        assert_eq!(cookie(&request, COOKIE), Some("abc.def.ghi"));
        let none = TestRequest::default()
            .insert_header((header::COOKIE, "pingstream_token=; xpingstream_token=1"))
            .to_http_request();
        assert_eq!(cookie(&none, COOKIE), None);
    }

    #[test]
    fn the_header_wins_over_the_cookie_and_the_cookie_over_the_query() {
        let request = TestRequest::with_uri("/sse?token=q")
            .insert_header((header::COOKIE, "pingstream_token=c"))
            .insert_header((header::AUTHORIZATION, "Bearer h"))
            .to_http_request();
        assert_eq!(presented(&request).unwrap().as_deref(), Some("h"));
        let request = TestRequest::with_uri("/sse?token=q")
            .insert_header((header::COOKIE, "pingstream_token=c"))
            .to_http_request();
        assert_eq!(presented(&request).unwrap().as_deref(), Some("c"));
        let request = TestRequest::with_uri("/sse?token=q").to_http_request();
        assert_eq!(presented(&request).unwrap().as_deref(), Some("q"));
        let malformed = TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Basic abc"))
            .to_http_request();
        assert!(presented(&malformed).is_err());
    }
}
