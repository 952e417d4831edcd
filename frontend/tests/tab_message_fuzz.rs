//! The fuzz target of the page's one network-facing parser that is not serde's: the tab-message
//! decoder, which reads whatever another tab (any build of the page, or any script of the
//! origin) posts on the shared `BroadcastChannel` or left in `sessionStorage`.
//!
//! Valid messages of every kind are mutated (bytes flipped, inserted, dropped, duplicated,
//! lengths changed, pieces spliced from another message) and plain random text is fed too, in
//! headless Chromium, for a time budget: 2 s in `just test`, `PINGSTREAM_FUZZ_SECONDS` when
//! built by `just fuzz`. Nothing may panic (a panic in wasm kills the page), and whatever decodes
//! must encode to a text that decodes to the same message.

use frontend::stream::{
    Moment,
    connection::Connection,
    raw_event::RawEvent,
    tab_message::{Snapshot, TabMessage},
};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The budget, in seconds: set when the test is built (`just fuzz` builds it with a longer one).
const SECONDS: Option<&str> = option_env!("PINGSTREAM_FUZZ_SECONDS");

/// xorshift64*: a fixed seed, so a failure repeats (the seed is printed with it).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

fn event(name: &str, data: &str, id: &str) -> RawEvent {
    RawEvent {
        name: name.to_owned(),
        data: data.to_owned(),
        id: id.to_owned(),
        arrived: Some(Moment::from_micros(1_795_424_400_123_456)),
    }
}

/// One valid message of every kind: the corpus the mutations start from.
fn corpus() -> Vec<String> {
    let ping = event(
        "ping",
        r#"{"count":7,"time":"2026-11-25T09:00:00.000Z"}"#,
        "9f3c2a1b7d4e5f60-7:ping:7",
    );
    let odd = RawEvent {
        arrived: None,
        ..event("3:abc,", "data: 1:x,\n\u{2028}é", "")
    };
    let messages = [
        TabMessage::Event(ping.clone()),
        TabMessage::Event(odd.clone()),
        TabMessage::Heartbeat(r#"{"interval_ms":1000,"heartbeat_ms":2000}"#.to_owned()),
        TabMessage::Connection(Connection::Live),
        TabMessage::Connection(Connection::Reconnecting {
            next_try: Some(Moment::from_ms(1_795_424_400_123.0)),
        }),
        TabMessage::Hello(42),
        TabMessage::Snapshot {
            nonce: 3,
            snapshot: Snapshot {
                connection: Connection::Stalled,
                heartbeat: Some("{}".to_owned()),
                events: vec![ping, odd],
            },
        },
        TabMessage::Silent,
    ];
    messages.iter().map(TabMessage::encode).collect()
}

/// Bytes worth inserting: the netstring syntax, digits, and text that is not ASCII.
const ALPHABET: &[&str] = &[
    ":", ",", "0", "1", "9", "-", ".", "e", "s", "?", "!", "l", "h", "é", "\u{2028}", "\0", "99:",
];

/// `text` changed once, at a char boundary, so it stays a `String` (what `postMessage` carries).
fn mutate(rng: &mut Rng, text: &str, other: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = rng.below(chars.len() + 1);
    let mut out: Vec<char> = chars.clone();
    match rng.below(6) {
        0 if !out.is_empty() => {
            out.remove(at.min(out.len() - 1));
        }
        1 => {
            let piece = ALPHABET[rng.below(ALPHABET.len())];
            out.splice(at..at, piece.chars());
        }
        2 if !out.is_empty() => {
            let i = at.min(out.len() - 1);
            out[i] = char::from_u32(u32::try_from(rng.next() % 0x300).unwrap_or(0)).unwrap_or('x');
        }
        3 => out.truncate(at),
        4 => {
            let other: Vec<char> = other.chars().collect();
            let from = rng.below(other.len() + 1);
            out.truncate(at);
            out.extend(&other[from..]);
        }
        _ => {
            let end = (at + rng.below(16)).min(out.len());
            let copy: Vec<char> = out[at..end].to_vec();
            out.splice(at..at, copy);
        }
    }
    out.into_iter().collect()
}

/// Decodes `text`; what decodes must survive encoding.
fn check(text: &str) -> bool {
    let Some(message) = TabMessage::decode(text) else {
        let _ = Snapshot::decode(text);
        return false;
    };
    let again = message.encode();
    assert_eq!(
        TabMessage::decode(&again).as_ref(),
        Some(&message),
        "{text:?} decoded, but its encoding {again:?} does not decode to the same"
    );
    true
}

#[wasm_bindgen_test]
fn tab_messages_from_anywhere_never_panic_and_what_decodes_round_trips() {
    let seconds: f64 = SECONDS.and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let corpus = corpus();
    for text in &corpus {
        assert!(check(text), "the corpus decodes: {text}");
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = js_sys::Date::now();
    let (mut inputs, mut decoded) = (0_u64, 0_u64);
    while js_sys::Date::now() - started < seconds * 1000.0 {
        for _ in 0..256 {
            let base = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            let mut text = mutate(&mut rng, base, other);
            for _ in 0..rng.below(4) {
                text = mutate(&mut rng, &text, other);
            }
            decoded += u64::from(check(&text));
            inputs += 1;
        }
        let random: String = (0..rng.below(64))
            .map(|_| ALPHABET[rng.below(ALPHABET.len())])
            .collect();
        decoded += u64::from(check(&random));
        inputs += 1;
    }
    let rate = inputs as f64 / ((js_sys::Date::now() - started) / 1000.0);
    gloo_console::log!(format!(
        "fuzz tab messages: {inputs} inputs, {decoded} decoded ({rate:.0}/s)"
    ));
    assert!(inputs > 1000, "only {inputs} inputs ran");
    assert!(
        decoded > 0,
        "no mutation decoded: the corpus is not being exercised"
    );
}
