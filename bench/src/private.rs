//! Private topics under load: which clients of a run hold a subscriber token, what each asks
//! for, and the request it sends, so that what tokens and private streams cost the server can be
//! measured beside anonymous ones in the same run.
//!
//! A fraction of the clients, spread evenly over the run (client `i` is a holder when
//! `⌊(i + 1)·F⌋ > ⌊i·F⌋`, so 10 % is every tenth client), each get an HS256 JWT signed with the
//! server's `--subscribe-key` (`sub` `bench-<i>`, `topics: ["users/<i>/**"]`, `exp` an hour
//! ahead) and send it as `Authorization: Bearer`, as a non-browser client does. What a holder
//! asks for is the [`PrivateStreams`] of the run: its own `?topic=users/<i>/**` (a stream that
//! carries no pings, connected at its opening heartbeat), or every topic (the ping stream,
//! which for a token holder takes the topic index's `**` path instead of the broadcast). The
//! other clients stay anonymous every-topic ping streams.
//!
//! Every token is signed before the first `connect()`, so the connect time measures the
//! server's verification, not the load tool's signing. Without a key the same clients ask for
//! the same streams anonymously: a control run, on a server without private topics, that tells
//! what the tokens add from what the streams' shape costs.

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use shared::{Selection, Selector, Topic, stream_url};
use thiserror::Error;

use crate::target::Target;

/// The first segment of the holders' private topics (the server's `--private-topics 'users/**'`).
const USERS: &str = "users";
/// The shortest key the server accepts for HS256.
pub const MIN_KEY_BYTES: usize = 32;
/// How long the tokens last: far beyond any run, so that no stream ends at its `exp`.
const TOKEN_TTL: Duration = Duration::from_secs(3600);

/// What the token holders' streams ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrivateStreams {
    /// Holder `i` on `?topic=users/<i>/**`, its own private topics only (no pings).
    PerUser,
    /// Holders on every topic (no `?topic=`): the ping stream, with a token.
    EveryTopic,
}

/// A `--private-streams` value that is not one.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("private streams {0:?}: expected `per-user` or `every-topic`")]
pub struct UnknownPrivateStreams(String);

impl FromStr for PrivateStreams {
    type Err = UnknownPrivateStreams;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "per-user" => Ok(Self::PerUser),
            "every-topic" => Ok(Self::EveryTopic),
            _ => Err(UnknownPrivateStreams(text.to_owned())),
        }
    }
}

impl fmt::Display for PrivateStreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PerUser => "per-user",
            Self::EveryTopic => "every-topic",
        })
    }
}

/// Why a private load cannot be set up.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PrivateError {
    /// The fraction is not a number in `0..=1`.
    #[error("the private fraction must be between 0 and 1, not {0}")]
    Fraction(f64),
    /// The key is shorter than the server accepts.
    #[error(
        "the subscribe key must be at least {MIN_KEY_BYTES} bytes (the server refuses shorter ones)"
    )]
    ShortKey,
    /// A token could not be signed.
    #[error("signing a subscriber token: {0}")]
    Signing(String),
}

/// Which clients hold a token and what they ask for (`--private-fraction`, `--private-streams`,
/// `--subscribe-key`).
#[derive(Clone, PartialEq)]
pub struct PrivateLoad {
    /// The share of the clients that hold a token, `0..=1`.
    pub fraction: f64,
    /// What the holders' streams ask for.
    pub streams: PrivateStreams,
    /// The server's `--subscribe-key` (HS256, at least [`MIN_KEY_BYTES`]); `None`: the holders
    /// ask for their streams without a token (the control).
    pub key: Option<String>,
}

impl fmt::Debug for PrivateLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key never shows in a log or an error.
        f.debug_struct("PrivateLoad")
            .field("fraction", &self.fraction)
            .field("streams", &self.streams)
            .finish_non_exhaustive()
    }
}

/// Every client's whole HTTP/1.1 request, by index: a holder's own, with its token; `None` for
/// an anonymous client (which sends the run's usual request).
pub type SignedRequests = Vec<Option<Vec<u8>>>;

/// A subscriber token's claims, as the server reads them.
#[derive(Debug, Serialize)]
struct Claims {
    sub: String,
    exp: u64,
    topics: Vec<String>,
}

/// Whether client `index` is a holder when a `fraction` of the clients are: the holders are
/// spread evenly, the first one at about `1 / fraction`.
fn is_holder(index: usize, fraction: f64) -> bool {
    // Client counts are far below 2^52, so the products are exact enough to floor.
    let below = |at: usize| (at as f64 * fraction).floor();
    below(index + 1) > below(index)
}

/// Holder `index`'s grant and subscription: `users/<index>/**`.
fn user_selector(index: usize) -> Selector {
    format!("{USERS}/{index}/**")
        .parse()
        .expect("users/<n>/** is a selector")
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A private load over a run's clients: who holds a token, what each asks for, and the
/// requests, signed once.
#[derive(Debug, Clone, PartialEq)]
pub struct PrivatePlan {
    streams: PrivateStreams,
    /// `holders[i]`: client `i` holds a token.
    holders: Vec<bool>,
}

impl PrivatePlan {
    /// The plan of `load` over `clients` clients.
    ///
    /// # Errors
    /// A fraction outside `0..=1` or a key shorter than [`MIN_KEY_BYTES`].
    pub fn new(load: &PrivateLoad, clients: usize) -> Result<Self, PrivateError> {
        if !(0.0..=1.0).contains(&load.fraction) {
            return Err(PrivateError::Fraction(load.fraction));
        }
        if load
            .key
            .as_ref()
            .is_some_and(|key| key.len() < MIN_KEY_BYTES)
        {
            return Err(PrivateError::ShortKey);
        }
        Ok(Self {
            streams: load.streams,
            holders: (0..clients)
                .map(|index| is_holder(index, load.fraction))
                .collect(),
        })
    }

    /// What the holders' streams ask for.
    pub fn streams(&self) -> PrivateStreams {
        self.streams
    }

    /// Clients that hold a token.
    pub fn holders(&self) -> usize {
        self.holders.iter().filter(|&&holds| holds).count()
    }

    /// Whether client `index` holds a token.
    pub fn holds_token(&self, index: usize) -> bool {
        self.holders.get(index).copied().unwrap_or(false)
    }

    /// Whether client `index` is on its private topics only: a stream without pings, connected
    /// at its opening heartbeat, whose every event must be on `users/<index>/…`.
    pub fn on_private_topics(&self, index: usize) -> bool {
        self.streams == PrivateStreams::PerUser && self.holds_token(index)
    }

    /// Whether client `index`, on its private topics, may receive `topic`: all it asked for and
    /// all its token grants.
    pub fn wants(&self, index: usize, topic: &Topic) -> bool {
        self.on_private_topics(index) && user_selector(index).matches(topic)
    }

    /// Holder `index`'s token, signed with `key`, expiring `ttl` after `now` (Unix seconds).
    fn token(
        index: usize,
        key: &EncodingKey,
        now: u64,
        ttl: Duration,
    ) -> Result<String, PrivateError> {
        let claims = Claims {
            sub: format!("bench-{index}"),
            exp: now + ttl.as_secs(),
            topics: vec![user_selector(index).to_string()],
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
            .map_err(|err| PrivateError::Signing(err.to_string()))
    }

    /// The whole HTTP/1.1 request of every client of `target`, `None` for the anonymous ones
    /// (which send the run's usual request): each holder's with its own token, signed with
    /// `key` (without a key, none: the control), and its own `?topic=` for
    /// [`PrivateStreams::PerUser`].
    ///
    /// # Errors
    /// A token that could not be signed.
    pub fn requests(
        &self,
        target: &Target,
        key: Option<&str>,
    ) -> Result<SignedRequests, PrivateError> {
        let key = key
            .map(|key| EncodingKey::from_secret(key.as_bytes()))
            .transpose()
            .map_err(|err| PrivateError::Signing(err.to_string()))?;
        let now = now_unix();
        (0..self.holders.len())
            .map(|index| {
                if !self.holds_token(index) {
                    return Ok(None);
                }
                let token = key
                    .as_ref()
                    .map(|key| Self::token(index, key, now, TOKEN_TTL))
                    .transpose()?;
                let path = match self.streams {
                    PrivateStreams::PerUser => {
                        let selector = user_selector(index);
                        let selection =
                            Selection::parse([selector.as_str()]).expect("one valid selector");
                        stream_url(&target.path, &selection, None)
                    }
                    PrivateStreams::EveryTopic => target.path.clone(),
                };
                Ok(Some(target.request_as(&path, token.as_deref())))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};
    use serde::Deserialize;

    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[derive(Debug, Deserialize)]
    struct Decoded {
        sub: String,
        exp: u64,
        topics: Vec<String>,
    }

    fn load(fraction: f64, streams: PrivateStreams) -> PrivateLoad {
        PrivateLoad {
            fraction,
            streams,
            key: Some(KEY.into()),
        }
    }

    fn target() -> Target {
        Target::parse("http://127.0.0.1:8080/sse").expect("valid")
    }

    /// The request's bearer token, and the request without it.
    fn split_bearer(request: &[u8]) -> (String, String) {
        let text = String::from_utf8(request.to_vec()).expect("ascii");
        let line = text
            .lines()
            .find(|line| line.starts_with("Authorization: Bearer "))
            .expect("a bearer header");
        let token = line.trim_start_matches("Authorization: Bearer ").to_owned();
        (token, text)
    }

    #[test]
    fn streams_read_and_print_as_the_flag_spells_them() {
        for streams in [PrivateStreams::PerUser, PrivateStreams::EveryTopic] {
            assert_eq!(streams.to_string().parse(), Ok(streams));
        }
        assert!("users".parse::<PrivateStreams>().is_err());
    }

    #[test]
    fn a_tenth_of_the_clients_are_every_tenth_client() {
        let plan = PrivatePlan::new(&load(0.1, PrivateStreams::PerUser), 10_000).expect("valid");
        assert_eq!(plan.holders(), 1000);
        let holders: Vec<usize> = (0..30).filter(|&i| plan.holds_token(i)).collect();
        assert_eq!(holders, [9, 19, 29]);
        assert!(!plan.holds_token(10_000), "no client past the run");
        let all = PrivatePlan::new(&load(1.0, PrivateStreams::EveryTopic), 7).expect("valid");
        assert_eq!(all.holders(), 7);
        let none = PrivatePlan::new(&load(0.0, PrivateStreams::PerUser), 7).expect("valid");
        assert_eq!(none.holders(), 0);
    }

    #[test]
    fn a_fraction_outside_zero_to_one_and_a_short_key_are_refused() {
        for fraction in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                PrivatePlan::new(&load(fraction, PrivateStreams::PerUser), 10),
                Err(PrivateError::Fraction(_))
            ));
        }
        let short = PrivateLoad {
            key: Some("too short".into()),
            ..load(0.5, PrivateStreams::PerUser)
        };
        assert_eq!(PrivatePlan::new(&short, 10), Err(PrivateError::ShortKey));
        assert!(
            !format!("{short:?}").contains("too short"),
            "the key never prints"
        );
    }

    #[test]
    fn a_per_user_holder_asks_for_its_own_topics_with_a_token_that_grants_them() {
        let plan = PrivatePlan::new(&load(0.5, PrivateStreams::PerUser), 4).expect("valid");
        let requests = plan.requests(&target(), Some(KEY)).expect("signed");
        assert_eq!(requests.len(), 4);
        assert!(
            requests[0].is_none() && requests[2].is_none(),
            "anonymous clients"
        );
        let (token, text) = split_bearer(requests[1].as_deref().expect("a holder"));
        assert!(text.starts_with("GET /sse?topic=users%2F1%2F**"), "{text}");
        assert!(text.ends_with("\r\n\r\n"));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Decoded>(
            &token,
            &DecodingKey::from_secret(KEY.as_bytes()).expect("an HMAC key"),
            &validation,
        )
        .expect("verifies with the server's key")
        .claims;
        assert_eq!(claims.sub, "bench-1");
        assert_eq!(claims.topics, ["users/1/**"]);
        assert!(claims.exp >= now_unix() + TOKEN_TTL.as_secs() - 5);
        let wrong =
            DecodingKey::from_secret(b"another key, 32 bytes long......").expect("an HMAC key");
        assert!(jsonwebtoken::decode::<Decoded>(&token, &wrong, &validation).is_err());
    }

    #[test]
    fn a_per_user_holder_wants_its_own_topics_only() {
        let plan = PrivatePlan::new(&load(1.0, PrivateStreams::PerUser), 50).expect("valid");
        let topic = |text: &str| -> Topic { text.parse().expect("a topic") };
        assert!(plan.on_private_topics(42));
        assert!(plan.wants(42, &topic("users/42/notices")));
        for other in ["users/4/x", "users/420/x", "orders/42", "ping"] {
            assert!(!plan.wants(42, &topic(other)), "{other}");
        }
    }

    #[test]
    fn an_every_topic_holder_asks_for_every_topic_with_a_token() {
        let plan = PrivatePlan::new(&load(1.0, PrivateStreams::EveryTopic), 2).expect("valid");
        assert!(!plan.on_private_topics(0), "its stream carries the pings");
        let requests = plan.requests(&target(), Some(KEY)).expect("signed");
        let (_, text) = split_bearer(requests[0].as_deref().expect("a holder"));
        assert!(text.starts_with("GET /sse HTTP/1.1\r\n"), "{text}");
    }

    #[test]
    fn without_a_key_the_holders_ask_for_the_same_streams_anonymously() {
        let control = PrivateLoad {
            key: None,
            ..load(0.5, PrivateStreams::PerUser)
        };
        let plan = PrivatePlan::new(&control, 2).expect("valid");
        let requests = plan.requests(&target(), None).expect("nothing to sign");
        let text =
            String::from_utf8(requests[1].clone().expect("a holder's stream")).expect("ascii");
        assert!(text.starts_with("GET /sse?topic=users%2F1%2F**"), "{text}");
        assert!(!text.contains("Authorization"), "{text}");
    }
}
