//! Who the page is, asked of the server (`GET /session`): the subscriber token sits in an HttpOnly
//! cookie the page cannot read. The page keys its streams' tab sharing by
//! [`Session::identity`], so that a tab never follows a stream opened with another person's
//! cookie; it signs in (`--dev-login`'s `POST /session/dev`) and out (`DELETE /session`), and
//! tells the browser's other tabs on the `BroadcastChannel` [`CHANNEL`], on which each asks the
//! server again (the cookie is the browser's, so the server's answer is the truth for every tab).
//! A cookie that no longer verifies (`401`: expired, signed with a key since rotated away) is
//! cleared, and the page goes on anonymous, saying so.
//!
//! The answers are read with the browser's own JSON parser (`Response.json()`): serde's code for
//! one more struct would cost the page's budget (README "Page weight") more than these lookups.

use gloo_events::EventListener;
use js_sys::{JSON, Object, Reflect};
use shared::{DEV_SESSION_PATH, SESSION_PATH, Topic, USER_TOPICS};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{BroadcastChannel, RequestInit, Response};
use yew::{AttrValue, Callback};

/// The `BroadcastChannel` on which a tab that signed in or out tells the others to ask again.
pub const CHANNEL: &str = "pingstream-session";

/// Who the page is, as `GET /session` said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    /// The token's subject; `None`: anonymous.
    pub sub: Option<String>,
    /// [`identity`] of the subject and grants: what the page's tabs share their streams under.
    pub identity: AttrValue,
    /// Whether the server signs anyone in by name (`--dev-login`): the page then shows a "sign
    /// in as" box.
    pub dev_login: bool,
    /// Whether the page was just signed out because its cookie no longer verified: it says so.
    pub ended: bool,
}

/// A digest of who holds a token: FNV-1a (32 bits, in hex) over `sub` and its `grants` (the
/// JSON of the token's `topics`, as the server wrote them); empty for anonymous. Not a secret (the
/// server decides what a stream receives): a name that differs per person and grant, so that tabs
/// of two people never share a stream.
pub fn identity(sub: Option<&str>, grants: &str) -> AttrValue {
    let Some(sub) = sub else {
        return AttrValue::default();
    };
    let mut hash: u32 = 0x811c_9dc5;
    // A separator between the two: ("ab", "c") and ("a", "bc") differ.
    for byte in sub.bytes().chain([0]).chain(grants.bytes()) {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}").into()
}

impl Session {
    /// The session of `sub` (`None`: anonymous) granted `grants`, on a server that has dev login
    /// or not.
    pub fn new(sub: Option<String>, grants: &str, dev_login: bool) -> Self {
        Self {
            identity: identity(sub.as_deref(), grants),
            sub,
            dev_login,
            ended: false,
        }
    }

    /// Whether a notice on `topic` is one of "your notices": one under `users/<sub>/`
    /// ([`USER_TOPICS`]), the topics `--dev-login` grants. The page's stream carries only what
    /// the token grants, so this sorts, it does not guard; a token granting other topics too has
    /// their notices listed with the page's others.
    pub fn owns(&self, topic: &Topic) -> bool {
        let mine = |sub: &String| {
            let rest = topic.as_str().strip_prefix(USER_TOPICS);
            let rest = rest.and_then(|rest| rest.strip_prefix(sub.as_str()));
            rest.is_some_and(|rest| rest.starts_with('/'))
        };
        self.sub.as_ref().is_some_and(mine)
    }
}

/// Sends `method` to `path`, with `body` as JSON if given: the answer's status and its JSON
/// (`undefined` when it has none); `None` without an answer (the network).
async fn send(method: &str, path: &str, body: Option<&str>) -> Option<(u16, JsValue)> {
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        let headers = Object::new();
        Reflect::set(&headers, &"content-type".into(), &"application/json".into()).ok()?;
        init.set_headers(&headers);
        init.set_body(&body.into());
    }
    let fetched = web_sys::window()?.fetch_with_str_and_init(path, &init);
    // `fetch` resolves to a `Response`, or rejects.
    let answer: Response = JsFuture::from(fetched).await.ok()?.unchecked_into();
    let json = match answer.json() {
        Ok(json) => JsFuture::from(json).await.unwrap_or_default(),
        Err(_) => JsValue::UNDEFINED,
    };
    Some((answer.status(), json))
}

/// The session `GET /session`'s JSON describes: `{"sub": …, "topics": […], "dev_login": …}`.
fn read(json: &JsValue) -> Session {
    // A field that is not there (or a body that is not an object) reads as `undefined`.
    let field = |name: &str| Reflect::get(json, &name.into()).unwrap_or_default();
    // `JSON.stringify(undefined)` is `undefined`, not a string: anonymous has no `topics`.
    let grants = JSON::stringify(&field("topics")).ok();
    Session::new(
        field("sub").as_string(),
        &grants
            .and_then(|grants| grants.as_string())
            .unwrap_or_default(),
        field("dev_login").is_truthy(),
    )
}

/// Asks the server who the page is. A cookie that no longer verifies (`401`) is cleared
/// (`DELETE /session`, then every tab is told: `announce`) and the answer is then anonymous
/// and [`Session::ended`]; another answer
/// (a server without sessions) is taken as anonymous. `None` without an answer (the network, a
/// server that is down): who the page is has not changed for that.
pub async fn check() -> Option<Session> {
    let mut ended = false;
    loop {
        match send("GET", SESSION_PATH, None).await {
            Some((401, _)) if !ended => {
                ended = true;
                send("DELETE", SESSION_PATH, None).await;
            }
            Some((200, json)) => {
                // Signed out for a refused cookie: the other tabs of that person learn it too.
                // Only once it is gone: a cookie that cannot be cleared must not set every tab
                // asking (and clearing, and telling) over and over.
                if ended {
                    announce();
                }
                return Some(Session {
                    ended,
                    ..read(&json)
                });
            }
            None if !ended => return None,
            _ => {
                return Some(Session {
                    ended,
                    ..Session::default()
                });
            }
        }
    }
}

/// Sends `change` (a method, a path and a JSON body, if any) unless `None`, telling every other
/// tab of the browser to ask who the page is (`announce`) if the server agreed; then asks
/// ([`check`]) and hands the answer to `on_session`. One future for all the page's session
/// requests: each kind of future the page spawns costs its budget (README "Page weight").
async fn run(change: Option<(&str, &str, Option<String>)>, on_session: Callback<Option<Session>>) {
    if let Some((method, path, body)) = change {
        let answer = send(method, path, body.as_deref()).await;
        if answer.is_some_and(|(status, _)| (200..300).contains(&status)) {
            announce();
        }
    }
    on_session.emit(check().await);
}

/// Asks the server who the page is ([`check`]) and hands the answer to `on_session`.
pub fn refresh(on_session: &Callback<Option<Session>>) {
    wasm_bindgen_futures::spawn_local(run(None, on_session.clone()));
}

/// Tells the browser's other tabs (and this one's [`Watch`], another channel object, which
/// hears it too) that who the page is changed: each asks the server again.
fn announce() {
    if let Ok(channel) = BroadcastChannel::new(CHANNEL) {
        // Already on its way to the other channels when this one closes.
        let _ = channel.post_message(&JsValue::NULL);
        channel.close();
    }
}

/// Signs in as `name` with `--dev-login`'s `POST /session/dev` (the server sets the cookie),
/// tells every tab (`announce`), and hands who the page is now to `on_session`. A name the
/// server refuses changes nothing.
pub fn sign_in(name: &str, on_session: &Callback<Option<Session>>) {
    if let Some(name) = JSON::stringify(&name.into())
        .ok()
        .and_then(|name| name.as_string())
    {
        let body = format!(r#"{{"sub":{name}}}"#);
        let change = ("POST", DEV_SESSION_PATH, Some(body));
        wasm_bindgen_futures::spawn_local(run(Some(change), on_session.clone()));
    }
}

/// Signs out (`DELETE /session` clears the cookie), tells every tab (`announce`), and hands
/// who the page is now to `on_session`.
pub fn sign_out(on_session: &Callback<Option<Session>>) {
    let change = ("DELETE", SESSION_PATH, None);
    wasm_bindgen_futures::spawn_local(run(Some(change), on_session.clone()));
}

/// Hears the other tabs' `announce`s on [`CHANNEL`]; stops when dropped.
pub struct Watch {
    channel: BroadcastChannel,
    _on_message: EventListener,
}

impl Watch {
    /// [`refresh`]es `on_session` whenever a tab of the browser signed in or out; `None` where
    /// the browser has no `BroadcastChannel` (each tab then learns when its stream stops).
    pub fn start(on_session: Callback<Option<Session>>) -> Option<Self> {
        let channel = BroadcastChannel::new(CHANNEL).ok()?;
        let on_message = EventListener::new(&channel, "message", move |_| refresh(&on_session));
        Some(Self {
            channel,
            _on_message: on_message,
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.channel.close();
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;

    /// The `topics` of a token, as `GET /session` writes them.
    fn grants(texts: &[&str]) -> String {
        format!("{texts:?}")
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn each_person_and_grant_has_an_identity_of_its_own_and_anonymous_has_none() {
        let alice = identity(Some("alice"), &grants(&["users/alice/**"]));
        assert_eq!(alice.len(), 8, "{alice}");
        assert_eq!(alice, identity(Some("alice"), &grants(&["users/alice/**"])));
        for other in [
            identity(Some("bob"), &grants(&["users/bob/**"])),
            identity(Some("alice"), &grants(&["users/alice/**", "orders/**"])),
            identity(Some("alice"), "[]"),
            identity(Some("alic"), &grants(&["eusers/alice/**"])),
        ] {
            assert_ne!(alice, other);
        }
        assert_eq!(identity(None, &grants(&["users/alice/**"])), "");
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn notices_under_the_users_own_topics_are_theirs_and_anonymous_has_none() {
        let topic = |text: &str| text.parse::<Topic>().expect("a topic");
        let alice = Session::new(Some("alice".into()), &grants(&["users/alice/**"]), true);
        assert!(alice.owns(&topic("users/alice/inbox")));
        assert!(alice.owns(&topic("users/alice/orders/7")));
        for other in [
            "users/alice",
            "users/alicia/inbox",
            "users/bob/inbox",
            "notices",
        ] {
            assert!(!alice.owns(&topic(other)), "{other}");
        }
        let anonymous = Session::new(None, &grants(&["users/alice/**"]), true);
        assert!(!anonymous.owns(&topic("users/alice/inbox")));
        assert_eq!(anonymous.identity, "");
    }
}
