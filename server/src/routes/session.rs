//! `/session`: how a browser gets its subscriber token into the HttpOnly cookie that its
//! `EventSource` then sends (it cannot set headers): `POST` with `Authorization: Bearer <jwt>`
//! checks the token and sets the cookie, `DELETE` clears it, `GET` says who the cookie is for
//! (the page keys its tab sharing by it, and cannot read an HttpOnly cookie itself). With
//! `--dev-login`, `POST /session/dev` signs anyone in under the name they give.

use actix_web::{
    HttpMessage as _, HttpRequest, HttpResponse, ResponseError,
    http::{StatusCode, header},
    web,
};
use serde::Deserialize;

use super::subscriber::{Subscriber, Unauthorized};
use crate::access::{Access, COOKIE, DEV_LOGIN_TTL, Grant, now_unix};

/// The cookie that holds `token` for `max_age_s` seconds (0 clears it).
fn cookie(access: &Access, token: &str, max_age_s: u64) -> String {
    let secure = if access.secure_cookie { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}")
}

/// What `GET /session` and a sign-in answer: who, which private topics, until when.
fn whoami(grant: Option<&Grant>) -> serde_json::Value {
    match grant {
        Some(grant) => serde_json::json!({
            "sub": grant.sub,
            "topics": grant.topics.selectors().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "exp": grant.exp,
        }),
        None => serde_json::json!({ "sub": null }),
    }
}

/// Why a session request was refused.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Subscriber tokens (or dev login) are off.
    #[error("{0}")]
    Off(&'static str),
    /// The token is missing or does not verify.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// A dev login name that is not one topic segment.
    #[error("a name is 1 to 64 characters of A-Z a-z 0-9 . _ ~ -")]
    BadName,
}

impl ResponseError for SessionError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Off(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::BadName => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Unauthorized(inner) = self {
            return inner.error_response();
        }
        let code = match self {
            Self::Off(_) => "not_found",
            _ => "invalid_name",
        };
        super::refusal(self.status_code()).json(super::refusal_body(code, self))
    }
}

/// `GET /session`: `{"sub": …, "topics": […], "exp": …}` for the request's token, or
/// `{"sub": null}` without one, each with `"dev_login"`: whether `POST /session/dev` signs in
/// (the page shows its "sign in as" box only then, knowing it from this one request); `401` for a
/// token that does not verify (an expired cookie: the page signs out).
pub async fn current(
    Subscriber(grant): Subscriber,
    access: Option<web::Data<Access>>,
) -> HttpResponse {
    let mut body = whoami(grant.as_ref());
    body["dev_login"] = access.is_some_and(|access| access.dev_login).into();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `POST /session` with `Authorization: Bearer <jwt>`: the token is checked like a stream's
/// and set as the cookie until it expires.
pub async fn sign_in(
    request: HttpRequest,
    access: web::Data<Access>,
) -> Result<HttpResponse, SessionError> {
    if !access.verifier.is_on() {
        return Err(SessionError::Off("subscriber tokens are off"));
    }
    let token = super::bearer::token(&request)
        .map_err(Unauthorized::Malformed)?
        .ok_or(Unauthorized::Malformed("no Authorization: Bearer header"))?;
    let grant = access.verifier.verify(token).map_err(Unauthorized::from)?;
    let max_age = grant.exp.saturating_sub(now_unix());
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::SET_COOKIE, cookie(&access, token, max_age)))
        .json(whoami(Some(&grant))))
}

/// `DELETE /session`: clears the cookie (streams already open end at their token's expiry; the
/// page closes its own).
pub async fn sign_out(access: web::Data<Access>) -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::SET_COOKIE, cookie(&access, "", 0)))
        .finish()
}

/// The body of `POST /session/dev`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevLogin {
    sub: String,
}

/// `POST /session/dev` `{"sub": "alice"}` (only with `--dev-login`): signs in as `sub` with a
/// 15-minute token for `users/<sub>/**`. JSON only, so another site's form cannot post it.
pub async fn dev_sign_in(
    request: HttpRequest,
    access: web::Data<Access>,
    body: web::Json<DevLogin>,
) -> Result<HttpResponse, SessionError> {
    if !access.dev_login {
        return Err(SessionError::Off("dev login is off (--dev-login)"));
    }
    if request.content_type() != "application/json" {
        return Err(SessionError::BadName);
    }
    let sub = &body.sub;
    let segment = |b: u8| b.is_ascii_alphanumeric() || b"._~-".contains(&b);
    if sub.is_empty() || sub.len() > 64 || !sub.bytes().all(segment) {
        return Err(SessionError::BadName);
    }
    let topics = vec![format!("{}{sub}/**", shared::USER_TOPICS)];
    let token = access
        .verifier
        .sign(sub, &topics, DEV_LOGIN_TTL)
        .ok_or(SessionError::Off("dev login needs a --subscribe-key"))?;
    let grant = access.verifier.verify(&token).map_err(Unauthorized::from)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::SET_COOKIE,
            cookie(&access, &token, DEV_LOGIN_TTL.as_secs()),
        ))
        .json(whoami(Some(&grant))))
}
