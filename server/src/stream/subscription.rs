//! One client's view of the hub: its replay, then the live events (every topic's from the hub's
//! broadcast channel, or its own topics' from its inbox in the topic index), as the stream of
//! events that the `/sse` route's `Sse` responder writes out.

use std::{
    future::Future as _,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use actix_web_lab::sse;
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::{BroadcastStream, errors::BroadcastStreamRecvError};

use shared::SelectionKind;

use super::{client_slot::ClientSlot, inbox::End, topic_index::Membership};
use crate::metrics::{Counter, Metrics};

/// What the hub sends a stream: an event of the stream (counted as delivered, by its name) or a
/// heartbeat (not).
#[derive(Clone)]
pub enum Outgoing {
    /// An event, with its id.
    Event {
        /// The encoded event, shared by every stream it is sent to.
        event: sse::Event,
        /// Its name's delivery counter, looked up once when it was published, not per stream.
        delivered: Counter,
    },
    /// The stream's timing; says the connection is alive when there is nothing else to send.
    Heartbeat(sse::Event),
}

/// The events one client is owed: first the replay it asked for, then every live event.
///
/// The stream ends when the hub closes, or when the client has fallen more than the hub's client
/// buffer behind: skipping events silently would be a gap, so the stream ends instead and the
/// browser reconnects with `Last-Event-ID`, which replays what it missed from history. Dropping
/// the subscription gives its place back at once.
pub struct Subscription {
    /// What is left of the replay; its buffer is freed once the last of it is sent, since a
    /// stream may stay open for hours after a long replay.
    replay: std::vec::IntoIter<Outgoing>,
    live: Live,
    /// What it subscribed to, for the open-streams gauge.
    kind: SelectionKind,
    metrics: Metrics,
    /// Its place: told of every event sent, and given back when the subscription is dropped.
    slot: ClientSlot,
    /// When it ends whatever happens (its reader's token expires); boxed, since most streams have
    /// none and an idle stream's size is what 10,000 of them cost.
    expiry: Option<Pin<Box<tokio::time::Sleep>>>,
    ended: bool,
}

/// Where a subscription's live events come from.
pub enum Live {
    /// Every topic: the hub's broadcast channel.
    All(BroadcastStream<Outgoing>),
    /// Some topics: its own inbox, listed in the topic index.
    Topics(Membership),
}

impl Live {
    /// Every topic's events, as `live_rx` receives them.
    pub fn all(live_rx: broadcast::Receiver<Outgoing>) -> Self {
        Self::All(BroadcastStream::new(live_rx))
    }

    /// The next live item; `Err(true)` when the stream fell behind, `Err(false)` when it ended.
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Outgoing, End>> {
        match self {
            Self::All(live) => Pin::new(live).poll_next(cx).map(|next| match next {
                Some(Ok(outgoing)) => Ok(outgoing),
                Some(Err(BroadcastStreamRecvError::Lagged(missed))) => {
                    tracing::debug!(missed, "client fell behind its buffer; ending its stream");
                    Err(End::Lagged)
                }
                None => Err(End::Closed),
            }),
            Self::Topics(membership) => membership.inbox().poll_next(cx),
        }
    }
}

impl Subscription {
    /// A stream of `kind` that yields `replay`, then what `live` brings, holding `slot` until
    /// it is dropped.
    pub fn new(
        replay: Vec<Outgoing>,
        live: Live,
        kind: SelectionKind,
        slot: ClientSlot,
        metrics: Metrics,
    ) -> Self {
        metrics.add_stream(kind, 1);
        Self {
            replay: replay.into_iter(),
            live,
            kind,
            metrics,
            slot,
            expiry: None,
            ended: false,
        }
    }

    /// The same stream, ending `after` this long if given (the browser then reconnects with a
    /// fresh token, or without one).
    pub fn ending_in(mut self, after: Option<Duration>) -> Self {
        self.expiry = after.map(|after| Box::pin(tokio::time::sleep(after)));
        self
    }

    /// How many replayed events are still to be sent.
    #[cfg(test)]
    pub(crate) fn replay_left(&self) -> usize {
        self.replay.len()
    }

    /// The next replayed event; taking the last one frees the replay's buffer.
    fn next_replayed(&mut self) -> Option<Outgoing> {
        let next = self.replay.next();
        if next.is_some() && self.replay.len() == 0 {
            self.replay = Vec::new().into_iter();
        }
        next
    }
}

impl Stream for Subscription {
    type Item = sse::Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(expiry) = &mut this.expiry
            && expiry.as_mut().poll(cx).is_ready()
        {
            // Its token expired: no event it is sent may outlive the grant.
            this.ended = true;
            return Poll::Ready(None);
        }
        if this.slot.is_freed() {
            // It stalled so long that its place was given back: end it now it is polled again.
            this.ended = true;
            return Poll::Ready(None);
        }
        let next = match this.next_replayed() {
            Some(outgoing) => Some(outgoing),
            None => match this.live.poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(outgoing)) => Some(outgoing),
                Poll::Ready(Err(End::Lagged)) => {
                    this.metrics.count_slow_client_dropped();
                    None
                }
                Poll::Ready(Err(End::Closed)) => None,
            },
        };
        Poll::Ready(match next {
            Some(Outgoing::Event { event, delivered }) => {
                delivered.inc();
                this.slot.progressed();
                Some(event)
            }
            Some(Outgoing::Heartbeat(event)) => {
                this.slot.progressed();
                Some(event)
            }
            None => {
                this.ended = true;
                None
            }
        })
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.metrics.add_stream(self.kind, -1);
    }
}
