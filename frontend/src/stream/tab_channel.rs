//! The `BroadcastChannel` the tabs of one browser (one origin) share a stream over.

use gloo_events::EventListener;
use js_sys::JsString;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BroadcastChannel, MessageEvent};

use crate::stream::tab_message::{MAX_MESSAGE_BYTES, TabMessage};

/// One tab's end of the channel; closed when dropped.
pub struct TabChannel {
    channel: BroadcastChannel,
    /// Hands every decodable message to the callback [`TabChannel::open`] was given.
    _on_message: EventListener,
}

impl TabChannel {
    /// Joins the channel `name`, and calls `on_message` with each message the other tabs post on
    /// it (never this tab's own); `None` where the browser has no `BroadcastChannel`. Messages
    /// that do not decode are ignored: other tabs may run another build of the page. One longer
    /// than [`MAX_MESSAGE_BYTES`] is not even copied.
    pub fn open(name: &str, mut on_message: impl FnMut(TabMessage) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(name).ok()?;
        let on_message = EventListener::new(&channel, "message", move |event| {
            // Measured before it is copied into the page's memory: a string's length in UTF-16
            // units is at most its length in UTF-8 bytes, so one longer than the cap is too long
            // however it is counted.
            let text = event
                .dyn_ref::<MessageEvent>()
                .and_then(|event| event.data().dyn_into::<JsString>().ok())
                .filter(|text| text.length() as usize <= MAX_MESSAGE_BYTES)
                .map(String::from);
            if let Some(message) = text.as_deref().and_then(TabMessage::decode) {
                on_message(message);
            }
        });
        Some(Self {
            channel,
            _on_message: on_message,
        })
    }

    /// Sends `message` to every other tab on the channel.
    pub fn post(&self, message: &TabMessage) {
        // Fails only once the channel is closed, when this tab is going away.
        let _ = self
            .channel
            .post_message(&JsValue::from_str(&message.encode()));
    }
}

impl Drop for TabChannel {
    fn drop(&mut self) {
        self.channel.close();
    }
}
