//! The `Authorization: Bearer <token>` header (RFC 6750: the scheme in any case, one space, a
//! token68), read the same way by the publish API and the stream.

use actix_web::{HttpRequest, http::header};

/// Why an `Authorization` header is not a bearer token.
pub const MALFORMED: &str = "the Authorization header is not `Bearer <token>`";

/// The token of the request's `Authorization: Bearer` header: `Ok(None)` without the header,
/// `Err` when it is there but is not a bearer token68.
pub fn token(request: &HttpRequest) -> Result<Option<&str>, &'static str> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| MALFORMED)?;
    let (scheme, token) = value.split_once(' ').ok_or(MALFORMED)?;
    let token68 = |byte: u8| byte.is_ascii_alphanumeric() || b"-._~+/=".contains(&byte);
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || !token.bytes().all(token68) {
        return Err(MALFORMED);
    }
    Ok(Some(token))
}
