//! Who the page is signed in as: a "sign in as" box (only when the server signs anyone in by
//! name, `--dev-login`), or the name, a sign-out button and "your notices", the notices on the
//! private topics the page's token grants.

use std::collections::VecDeque;

use yew::prelude::*;

use crate::{
    components::notice_items,
    session::Session,
    state::{NoticeList, ShownNotice},
};

/// The box for `session` (nothing until the server said who the page is): signed in, the name,
/// a button that calls `on_sign_out` and "your notices" (those of `notices` in
/// [`NoticeList::Yours`], dismissible with `on_dismiss`); anonymous, a "sign in as" box whose
/// `change` calls `on_sign_in` if the server has dev login, and a word when the page was just
/// signed out because its session had ended.
pub fn session_box(
    session: Option<&Session>,
    notices: &VecDeque<ShownNotice>,
    on_sign_in: &Callback<Event>,
    on_sign_out: &Callback<MouseEvent>,
    on_dismiss: &Callback<u64>,
) -> Html {
    let Some(session) = session else {
        return Html::default();
    };
    let signed_in = session.sub.is_some();
    let text = match (signed_in, session.ended) {
        (true, _) => "signed in as ",
        (false, true) => "Session ended: signed out. ",
        (false, false) => "",
    };
    html! {
        <>
            <p id="session">
                { text }{ session.sub.clone().unwrap_or_default() }
                if signed_in {
                    <button id="sign-out" type="button" onclick={on_sign_out}>{ "sign out" }</button>
                } else if session.dev_login {
                    <input id="sign-in" placeholder="sign in as" aria-label="Sign in as"
                        onchange={on_sign_in} />
                }
            </p>
            if signed_in {
                <ul id="your-notices" aria-label="Your notices">
                    { notice_items(notices, NoticeList::Yours, on_dismiss) }
                </ul>
            }
        </>
    }
}
