//! Where an event enters the stream, whoever publishes it: this process's hub when it runs
//! alone, the cluster's shared Redis stream with `--redis-url` (whose reader then relays it to
//! every replica's hub, this one's included).

use shared::{Epoch, EventStamp};

use crate::{
    cluster::ClusterPublisher,
    stream::{Hub, Payload},
};

/// The stream's way in for the publish route.
#[derive(Clone)]
pub enum Publisher {
    /// The stream lives in this process: the hub numbers events in the run `epoch`.
    Memory {
        /// The stream.
        hub: Hub,
        /// This run's epoch.
        epoch: Epoch,
    },
    /// The stream lives in Redis.
    Cluster(ClusterPublisher),
}

/// Why an event did not get into the stream; either way it was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The server is shutting down.
    #[error("the server is shutting down")]
    Closed,
    /// Redis did not take the event (down, unreachable, or too slow).
    #[error("{0}")]
    Unavailable(String),
}

impl Publisher {
    /// Puts `payload` into the stream and returns its id and topic number once it is there (in
    /// a cluster: once Redis has it).
    pub async fn publish(&self, payload: &Payload) -> Result<EventStamp, PublishError> {
        match self {
            Self::Memory { hub, epoch } => hub
                .publish(*epoch, payload)
                .map_err(|_| PublishError::Closed),
            Self::Cluster(cluster) => cluster
                .publish(payload)
                .await
                .map_err(|err| PublishError::Unavailable(err.to_string())),
        }
    }
}
