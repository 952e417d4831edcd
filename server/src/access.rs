//! Who may read private topics: subscriber tokens (JWTs) checked into a [`Grant`], and the
//! topics that need one ([`PrivateTopics`]).
//!
//! A token is accepted only when one configured key verifies it with that key's own algorithm
//! (HS256 for a shared `--subscribe-key`, ES256 or EdDSA for a `--subscribe-public-key`): the
//! algorithm is pinned by the key, never read from the token, so neither `alg: none` nor an
//! HS256 token "signed" with a public key passes. `exp` and `sub` are required, `aud` is checked
//! when `--subscribe-audience` is set, and the clock leeway is [`LEEWAY_S`] seconds (the crate's
//! default is 60).

use std::{
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use shared::{Selection, Selector, Topic};

use crate::config::Secret;

/// Seconds of clock difference tolerated between the token's signer and this server.
pub const LEEWAY_S: u64 = 2;

/// The topics whose events only granted streams receive (`--private-topics`). Privacy is a
/// property of the topic, never of one event, so a topic's numbers have no holes for whoever may
/// read it.
#[derive(Debug, Clone, Default)]
pub struct PrivateTopics {
    selectors: Vec<Selector>,
}

impl PrivateTopics {
    /// The topics `selectors` match are private; none: every topic is public.
    pub fn new(selectors: Vec<Selector>) -> Self {
        Self { selectors }
    }

    /// Whether events on `topic` need a grant.
    pub fn contains(&self, topic: &Topic) -> bool {
        self.selectors
            .iter()
            .any(|selector| selector.matches(topic))
    }

    /// Whether every topic `selector` matches is private: asking for it without a grant that
    /// covers it is asking for private events only.
    pub fn covers(&self, selector: &Selector) -> bool {
        self.selectors.iter().any(|wider| selector.is_within(wider))
    }

    /// Whether no topic is private.
    pub fn is_empty(&self) -> bool {
        self.selectors.is_empty()
    }
}

/// Everything the routes need to decide who reads what: the verifier, the private topics, how
/// the session cookie is set, and whether `--dev-login` is on.
pub struct Access {
    /// Checks tokens.
    pub verifier: Verifier,
    /// The topics that need a grant.
    pub private: PrivateTopics,
    /// Whether the session cookie is `Secure` (the server speaks TLS).
    pub secure_cookie: bool,
    /// Whether `POST /session/dev` signs anyone in.
    pub dev_login: bool,
}

/// The name of the cookie that carries a browser's subscriber token (HttpOnly, SameSite=Strict).
pub const COOKIE: &str = "pingstream_token";

/// The query parameter that carries a subscriber token, the last resort (it ends up in logs and
/// histories, and an expired URL breaks reconnects).
pub const TOKEN_PARAM: &str = "token";

/// How long a `--dev-login` token lasts.
pub const DEV_LOGIN_TTL: Duration = Duration::from_secs(15 * 60);

/// What a verified subscriber token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who it is (the token's `sub`). Never logged, never a metric label.
    pub sub: String,
    /// The selectors of the private topics it may read (the `topics` claim).
    pub topics: Selection,
    /// When the token expires, in Unix seconds: the stream ends then.
    pub exp: u64,
}

impl Grant {
    /// How long until the token expires (zero once it has).
    pub fn remaining(&self) -> Duration {
        let now = now_unix();
        Duration::from_secs(self.exp.saturating_sub(now))
    }
}

/// A subscriber token's claims.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token is for.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
    /// Audience, when the server checks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Selectors of the private topics the holder may receive, e.g. `users/alice/**`.
    #[serde(default)]
    pub topics: Vec<String>,
}

/// Why a subscriber token was refused: the `detail` of a `401`. Says what was wrong with the
/// token, never what it contained.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The server has no key to check tokens with.
    #[error(
        "this server accepts no subscriber tokens (no --subscribe-key or --subscribe-public-key)"
    )]
    NoKeys,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The token is for another audience.
    #[error("the token is for another audience")]
    Audience,
    /// No key verifies the signature with its algorithm, or the token is not a JWT.
    #[error("the token is not signed by a key this server accepts")]
    Signature,
    /// A claim is missing or malformed (`sub`, `exp`, a `topics` selector).
    #[error("the token's claims are not valid: {0}")]
    Claims(String),
}

/// One key tokens may be signed with, and the one algorithm it verifies.
struct Key {
    key: DecodingKey,
    algorithm: Algorithm,
}

/// Checks subscriber tokens against the configured keys.
pub struct Verifier {
    keys: Vec<Key>,
    audience: Option<String>,
    /// The first shared key, to sign the development helper's and `--dev-login`'s tokens.
    signing: Option<EncodingKey>,
}

/// Why the configured keys cannot be used: a start-up error naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read --subscribe-public-key {path}: {err}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        err: std::io::Error,
    },
    /// The file is neither an EC P-256 nor an Ed25519 public key in PEM.
    #[error("--subscribe-public-key {0} is not an EC (P-256) or Ed25519 public key in PEM")]
    NotAKey(PathBuf),
    /// A shared key too short to be a secret.
    #[error("a --subscribe-key must be at least 32 bytes")]
    ShortSecret,
}

/// The current time in Unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A public key file's key and the algorithm it verifies: ES256 for EC P-256, EdDSA for Ed25519.
fn public_key(path: &Path) -> Result<Key, KeyError> {
    let pem = std::fs::read(path).map_err(|err| KeyError::Read {
        path: path.to_owned(),
        err,
    })?;
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok(Key {
            key,
            algorithm: Algorithm::ES256,
        });
    }
    if let Ok(key) = DecodingKey::from_ed_pem(&pem) {
        return Ok(Key {
            key,
            algorithm: Algorithm::EdDSA,
        });
    }
    Err(KeyError::NotAKey(path.to_owned()))
}

impl Verifier {
    /// A verifier of tokens signed with any of `secrets` (HS256) or of the public keys in
    /// `public_keys` (ES256 or EdDSA, by the key), for `audience` when given.
    ///
    /// # Errors
    /// A public key file that cannot be read or is not a key; a secret under 32 bytes.
    pub fn new(
        secrets: &[Secret],
        public_keys: &[PathBuf],
        audience: Option<String>,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for secret in secrets {
            if secret.expose().len() < 32 {
                return Err(KeyError::ShortSecret);
            }
            keys.push(Key {
                key: DecodingKey::from_secret(secret.expose().as_bytes())
                    .map_err(|_| KeyError::ShortSecret)?,
                algorithm: Algorithm::HS256,
            });
        }
        for path in public_keys {
            keys.push(public_key(path)?);
        }
        Ok(Self {
            keys,
            audience,
            signing: secrets
                .first()
                .and_then(|secret| EncodingKey::from_secret(secret.expose().as_bytes()).ok()),
        })
    }

    /// Whether any key is configured: without one, subscriber tokens are off.
    pub fn is_on(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The grant of `token`, if a configured key verifies it and its claims hold.
    ///
    /// # Errors
    /// See [`TokenError`]: the most telling reason among the keys tried (an expired token
    /// verified by one key says "expired", not "bad signature").
    pub fn verify(&self, token: &str) -> Result<Grant, TokenError> {
        if self.keys.is_empty() {
            return Err(TokenError::NoKeys);
        }
        let mut refusal = TokenError::Signature;
        for key in &self.keys {
            let mut validation = Validation::new(key.algorithm);
            validation.leeway = LEEWAY_S;
            validation.set_required_spec_claims(&["exp", "sub"]);
            match &self.audience {
                Some(audience) => validation.set_audience(&[audience]),
                None => validation.validate_aud = false,
            }
            match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
                Ok(data) => return grant(data.claims),
                Err(err) => match err.kind() {
                    ErrorKind::ExpiredSignature => refusal = TokenError::Expired,
                    ErrorKind::InvalidAudience if refusal == TokenError::Signature => {
                        refusal = TokenError::Audience;
                    }
                    ErrorKind::MissingRequiredClaim(claim) if refusal == TokenError::Signature => {
                        refusal = TokenError::Claims(format!("{claim} is required"));
                    }
                    ErrorKind::Json(_) if refusal == TokenError::Signature => {
                        refusal = TokenError::Claims("malformed claims".into());
                    }
                    _ => {}
                },
            }
        }
        Err(refusal)
    }

    /// A token for `sub` granting `topics` for `ttl`, signed with the first `--subscribe-key`;
    /// `None` without one. For `--dev-login` and the development helper.
    pub fn sign(&self, sub: &str, topics: &[String], ttl: Duration) -> Option<String> {
        let signing = self.signing.as_ref()?;
        sign(signing, sub, topics, ttl, self.audience.clone())
    }
}

/// A token for `sub` granting `topics` for `ttl`, HS256 with `key`.
pub fn sign(
    key: &EncodingKey,
    sub: &str,
    topics: &[String],
    ttl: Duration,
    aud: Option<String>,
) -> Option<String> {
    let claims = Claims {
        sub: sub.to_owned(),
        exp: now_unix() + ttl.as_secs(),
        aud,
        topics: topics.to_vec(),
    };
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key).ok()
}

/// The grant of verified `claims`: their `topics` must be selectors, at most 32.
fn grant(claims: Claims) -> Result<Grant, TokenError> {
    if claims.sub.is_empty() {
        return Err(TokenError::Claims("sub is empty".into()));
    }
    let topics = Selection::parse(claims.topics.iter().map(String::as_str))
        .map_err(|err| TokenError::Claims(format!("topics: {err}")))?;
    Ok(Grant {
        sub: claims.sub,
        topics,
        exp: claims.exp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";

    fn verifier() -> Verifier {
        Verifier::new(&[SECRET.parse().unwrap()], &[], None).unwrap()
    }

    fn token(claims: &serde_json::Value, secret: &str, algorithm: Algorithm) -> String {
        jsonwebtoken::encode(
            &Header::new(algorithm),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn in_an_hour() -> u64 {
        now_unix() + 3600
    }

    #[test]
    fn a_token_signed_with_the_key_grants_its_topics() {
        let claims =
            serde_json::json!({"sub": "alice", "exp": in_an_hour(), "topics": ["users/alice/**"]});
        let grant = verifier()
            .verify(&token(&claims, SECRET, Algorithm::HS256))
            .unwrap();
        assert_eq!(grant.sub, "alice");
        assert!(grant.topics.matches(&"users/alice/x".parse().unwrap()));
        assert!(!grant.topics.matches(&"users/bob/x".parse().unwrap()));
    }

    #[test]
    fn expired_tampered_unsigned_and_foreign_tokens_are_refused() {
        let verifier = verifier();
        let good = serde_json::json!({"sub": "alice", "exp": in_an_hour(), "topics": []});
        let expired = serde_json::json!({"sub": "alice", "exp": now_unix() - 10});
        assert_eq!(
            verifier.verify(&token(&expired, SECRET, Algorithm::HS256)),
            Err(TokenError::Expired)
        );
        let other_key = token(
            &good,
            "another-secret-of-at-least-32-bytes!!",
            Algorithm::HS256,
        );
        assert_eq!(verifier.verify(&other_key), Err(TokenError::Signature));
        let hs384 = token(&good, SECRET, Algorithm::HS384);
        assert_eq!(verifier.verify(&hs384), Err(TokenError::Signature));
        // alg: none, with the signature stripped.
        let valid = token(&good, SECRET, Algorithm::HS256);
        let (_, rest) = valid.split_once('.').unwrap();
        let (payload, _) = rest.split_once('.').unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert!(verifier.verify(&none).is_err());
        // One character of the payload changed.
        let mut tampered = valid.clone().into_bytes();
        let at = valid.find('.').unwrap() + 5;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        assert!(
            verifier
                .verify(&String::from_utf8(tampered).unwrap())
                .is_err()
        );
        for junk in ["", "a.b.c", "not a token", &"x".repeat(10_000)] {
            assert!(verifier.verify(junk).is_err(), "{junk:?}");
        }
        let no_sub = serde_json::json!({"exp": in_an_hour()});
        assert!(matches!(
            verifier.verify(&token(&no_sub, SECRET, Algorithm::HS256)),
            Err(TokenError::Claims(_))
        ));
        let bad_topics = serde_json::json!({"sub": "a", "exp": in_an_hour(), "topics": ["a//b"]});
        assert!(matches!(
            verifier.verify(&token(&bad_topics, SECRET, Algorithm::HS256)),
            Err(TokenError::Claims(_))
        ));
    }

    #[test]
    fn the_audience_is_checked_when_configured_and_secrets_rotate() {
        let verifier = Verifier::new(
            &[
                SECRET.parse().unwrap(),
                "the-next-secret-of-at-least-32-bytes".parse().unwrap(),
            ],
            &[],
            Some("pingstream".into()),
        )
        .unwrap();
        let ours = serde_json::json!({"sub": "a", "exp": in_an_hour(), "aud": "pingstream"});
        let theirs = serde_json::json!({"sub": "a", "exp": in_an_hour(), "aud": "elsewhere"});
        assert!(
            verifier
                .verify(&token(&ours, SECRET, Algorithm::HS256))
                .is_ok()
        );
        assert!(
            verifier
                .verify(&token(
                    &ours,
                    "the-next-secret-of-at-least-32-bytes",
                    Algorithm::HS256
                ))
                .is_ok()
        );
        assert_eq!(
            verifier.verify(&token(&theirs, SECRET, Algorithm::HS256)),
            Err(TokenError::Audience)
        );
        assert!(matches!(
            Verifier::new(&["short".parse().unwrap()], &[], None),
            Err(KeyError::ShortSecret)
        ));
    }

    #[test]
    fn private_topics_cover_only_what_lies_within_them() {
        let private = PrivateTopics::new(vec!["users/**".parse().unwrap()]);
        assert!(private.contains(&"users/alice".parse().unwrap()));
        assert!(!private.contains(&"orders/1".parse().unwrap()));
        assert!(private.covers(&"users/*".parse().unwrap()));
        assert!(!private.covers(&"**".parse().unwrap()));
    }
}
