//! The engine: one ordered stream of named events with gap-free resume, generic over the event
//! set (it moves names and JSON, and never looks inside them).
//!
//! Whatever feeds it (this process's ticker and publish route, or the Redis reader in a
//! cluster) hands it a [`Payload`]; the [`hub::Hub`] gives each event its [`shared::EventId`]
//! (or relays the one the cluster gave it), keeps a [`history`] bounded by count and bytes, and
//! fans the event out to every [`subscription`], each holding a [`client_slot`]. The one
//! [`heartbeat`] timer keeps silent streams visibly alive; [`epoch`] draws a run's epoch.

pub mod client_slot;
pub mod epoch;
pub mod heartbeat;
pub mod history;
pub mod hub;
pub mod inbox;
pub mod payload;
pub mod subscription;
pub mod topic_index;

pub use history::Resume;
pub use hub::{Hub, HubSettings, HubStatus, PublishClosed, Reader, SubscribeError, Upstream};
pub use payload::Payload;
