//! What a reload keeps: the tab's [`Snapshot`] (recent events, newest heartbeat) in
//! `sessionStorage`, which belongs to the tab and goes with it. A reloaded page shows those events
//! again at once and resumes after the newest, so the events sent during the reload are replayed
//! rather than lost.
//!
//! Storage may be missing, full or forbidden (some private modes); the page then simply starts
//! empty, like a new tab.

use crate::stream::tab_message::Snapshot;

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// The snapshot saved under `key`; `None` when there is none or it does not decode (another
/// build of the page saved it).
pub fn load(key: &str) -> Option<Snapshot> {
    let text = storage()?.get_item(key).ok()??;
    Snapshot::decode(&text)
}

/// Saves `snapshot` under `key`, replacing what was there; a storage that refuses is ignored.
pub fn save(key: &str, snapshot: &Snapshot) {
    if let Some(storage) = storage() {
        // Full or forbidden: the reload starts empty.
        let _ = storage.set_item(key, &snapshot.encode());
    }
}
