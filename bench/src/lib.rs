//! pingstream's load benchmark: how many SSE clients the server holds, and at what cost.
//!
//! Layout: [`load`] opens N clients against a stream (decoding each with [`wire`], spreading
//! their source addresses with [`target`]; over HTTPS, N HTTP/2 streams over M connections with
//! [`h2load`]; all of them recording onto one [`board`]), waits until all have their first event,
//! measures E more, and samples the server through [`procfs`]; meanwhile [`publish`] may post
//! notices through the server's publish API. A topic load ([`topics`]) subscribes the clients
//! by topic instead and measures what the notices it publishes on topics cost. [`tally`] turns
//! what the clients received (judged by the ids' seq, every event of the stream) into gaps,
//! duplicates and latency percentiles; [`report`] puts the runs of a session side by side. Two
//! baseline servers run under the same tool in the same session, so ratios hold on a noisy
//! machine: [`naive`] (the tutorial way: a task, an interval and a channel per client) and
//! [`floor`] (one thread, one `write()` per client per event, nothing else).
//!
//! The binaries are thin: `loadgen`, `naive-server`, `floor-server` and `bench-report`;
//! `scripts/bench.sh` runs them all.

pub mod board;
pub mod floor;
pub mod h2load;
pub mod listener;
pub mod load;
pub mod naive;
pub mod private;
pub mod procfs;
pub mod publish;
pub mod report;
pub mod response_head;
pub mod socket_error;
pub mod tally;
pub mod target;
pub mod topics;
pub mod wire;
