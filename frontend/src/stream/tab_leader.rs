//! Which tab holds the stream: the one holding a Web Lock (`navigator.locks`). The browser grants
//! it to one tab of the origin at a time, queues the others' requests in order, and releases it
//! when the holder's page goes away (closed, reloaded, crashed), so the next tab takes over at
//! once, without timeouts or heartbeats between tabs.
//!
//! The binding is our own few lines rather than web-sys's `LockManager`, which exists only under
//! `--cfg=web_sys_unstable_apis`: that flag would have to reach every wasm32 build through
//! `.cargo/config.toml`, where a `RUSTFLAGS` variable silently replaces it, and would tie us to
//! bindings that change between web-sys releases. Ours also reports a browser without the API
//! (`navigator.locks` exists only in secure contexts: https or localhost) instead of throwing.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue, closure::Closure, prelude::wasm_bindgen};
use web_sys::AbortController;

#[wasm_bindgen]
extern "C" {
    /// `navigator`, seen only for its `locks`.
    type LockNavigator;

    /// `navigator.locks`, or `None` where the browser has none.
    #[wasm_bindgen(method, getter)]
    fn locks(this: &LockNavigator) -> Option<LockManager>;

    /// `navigator.locks`.
    type LockManager;

    /// `locks.request(name, options, callback)`: `callback` runs once the lock is granted and the
    /// lock is held until the promise it returns settles.
    #[wasm_bindgen(method, catch, js_name = request)]
    fn request(
        this: &LockManager,
        name: &str,
        options: &Object,
        callback: &Function,
    ) -> Result<LockRequest, JsValue>;

    /// The promise `locks.request` returns: it settles when the lock is given back, or rejects
    /// when the request is withdrawn or the browser refuses it.
    type LockRequest;

    /// `promise.catch(on_rejected)`.
    #[wasm_bindgen(method, js_name = catch)]
    fn catch(this: &LockRequest, on_rejected: &JsValue);
}

/// This tab's request for the lock `name`: waiting in the browser's queue, then held. Dropping
/// it withdraws the request or gives the lock back.
pub struct LeaderLock {
    /// Withdraws a request that is still queued.
    abort: AbortController,
    /// Resolves the promise the grant callback returned, which gives the lock back.
    release: Function,
    /// Called by the browser when the lock is granted; must live as long as the request.
    _on_granted: Closure<dyn FnMut(JsValue) -> Promise>,
}

impl LeaderLock {
    /// Queues for the lock `name`; `on_granted` runs once this tab holds it. `None` where the
    /// browser has no Web Locks. `on_refused` runs, with the reason, if the browser refuses the
    /// request after all (it does so asynchronously for an opaque origin, such as a sandboxed
    /// iframe, and for a document that is not fully active): the lock never comes.
    pub fn request(
        name: &str,
        on_granted: impl FnOnce() + 'static,
        on_refused: impl FnOnce(JsValue) + 'static,
    ) -> Option<Self> {
        let navigator: LockNavigator = web_sys::window()?.navigator().unchecked_into();
        let locks = navigator.locks()?;
        let abort = AbortController::new().ok()?;
        let mut release = None;
        let held = Promise::new(&mut |resolve, _reject| release = Some(resolve));
        let release = release?;
        let mut on_granted = Some(on_granted);
        let on_granted = Closure::<dyn FnMut(JsValue) -> Promise>::new(move |_lock| {
            if let Some(on_granted) = on_granted.take() {
                on_granted();
            }
            held.clone()
        });
        let options = Object::new();
        Reflect::set(&options, &"signal".into(), &abort.signal()).ok()?;
        let requested = locks
            .request(name, &options, on_granted.as_ref().unchecked_ref())
            .ok()?;
        // The request's promise rejects when it is withdrawn (on unmount, which is no news) or
        // refused. The handler frees itself when called; otherwise (the lock was held until the
        // page went away) it is one small function.
        let signal = abort.signal();
        requested.catch(&Closure::once_into_js(move |reason: JsValue| {
            if !signal.aborted() {
                on_refused(reason);
            }
        }));
        Some(Self {
            abort,
            release,
            _on_granted: on_granted,
        })
    }
}

impl Drop for LeaderLock {
    fn drop(&mut self) {
        self.abort.abort();
        let _ = self.release.call0(&JsValue::UNDEFINED);
    }
}
