//! Behaviour of the real server over real HTTP: each test starts its own server on port 0.

mod bad_input;
mod clients;
mod h2;
mod helpers;
mod ops;
mod private;
mod publish;
mod publish_edges;
mod readme;
mod redis;
mod redis_auth;
mod redis_publish;
mod redis_relay;
mod redis_tls;
mod resume;
mod runs;
mod security;
mod sentinel;
mod shutdown;
mod signing;
mod static_files;
mod stream;
mod tls_files;
mod topics;
use test_support as support;
