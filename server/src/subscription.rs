//! One client's view of the hub: its replay, then the live events, as the stream of events that
//! the `/sse` route's `Sse` responder writes out.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use actix_web_lab::sse;
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use crate::hub::ClientSlot;

/// The events one client is owed: first the replay it asked for, then every live event.
///
/// The stream ends when the hub closes, or when the client has fallen more than the hub's client
/// buffer behind: skipping events silently would be a gap, so the stream ends instead and the
/// browser reconnects with `Last-Event-ID`, which replays what it missed from history. Dropping
/// the subscription gives its place back to the hub at once.
pub struct Subscription {
    replay: std::vec::IntoIter<sse::Event>,
    live: BroadcastStream<sse::Event>,
    slot: ClientSlot,
    ended: bool,
}

impl Subscription {
    pub(crate) fn new(
        replay: Vec<sse::Event>,
        live_rx: broadcast::Receiver<sse::Event>,
        slot: ClientSlot,
    ) -> Self {
        Self {
            replay: replay.into_iter(),
            live: BroadcastStream::new(live_rx),
            slot,
            ended: false,
        }
    }
}

impl Stream for Subscription {
    type Item = sse::Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let next = match this.replay.next() {
            Some(event) => Some(event),
            None => match Pin::new(&mut this.live).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(event))) => Some(event),
                Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                    tracing::debug!(missed, "client fell behind its buffer; ending its stream");
                    this.slot.metrics().count_slow_client_dropped();
                    None
                }
                Poll::Ready(None) => None,
            },
        };
        match &next {
            // A comment (`: keep-alive`) is not an event.
            Some(sse::Event::Comment(_)) => {}
            Some(_) => this.slot.metrics().count_delivered(1),
            None => this.ended = true,
        }
        Poll::Ready(next)
    }
}
