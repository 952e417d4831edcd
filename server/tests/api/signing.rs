//! The README's "how an application signs a subscriber token" snippet, compiled and used: the
//! README shows this file's `sign_subscriber_token` verbatim (a test checks it), and the token
//! it makes opens a private stream.

// README: sign-subscriber-token (begin)
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    exp: u64,
    topics: Vec<String>,
}

/// A token that lets `user` read `users/<user>/**` for 15 minutes, signed with the server's
/// `--subscribe-key` (HS256, what `Header::default()` is).
fn sign_subscriber_token(user: &str, key: &[u8]) -> jsonwebtoken::errors::Result<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let claims = Claims {
        sub: user,
        exp: now + 15 * 60,
        topics: vec![format!("users/{user}/**")],
    };
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(key)?)
}
// README: sign-subscriber-token (end)

#[tokio::test]
async fn the_readme_signing_snippet_is_this_file_and_its_token_opens_a_private_stream() {
    let readme = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"));
    let source = include_str!("signing.rs");
    let snippet = source
        .split_once("// README: sign-subscriber-token (begin)\n")
        .and_then(|(_, rest)| rest.split_once("// README: sign-subscriber-token (end)"))
        .map(|(snippet, _)| snippet)
        .expect("the markers");
    assert!(
        readme.contains(&format!("```rust\n{snippet}```")),
        "README's signing snippet differs from server/tests/api/signing.rs"
    );
    const KEY: &str = "the-readme-subscribe-key-32-bytes!!!";
    let app = crate::helpers::spawn_app(|config| {
        config.private_topics = vec!["users/**".parse().expect("a selector")];
        config.subscribe_keys = vec![KEY.parse().expect("a key")];
    })
    .await;
    let token = sign_subscriber_token("alice", KEY.as_bytes()).expect("signs");
    let response = app
        .topics_request(&["users/alice/**"], None)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), 200);
    let forbidden = app
        .topics_request(&["users/bob/**"], None)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers");
    assert_eq!(forbidden.status(), 403);
}
