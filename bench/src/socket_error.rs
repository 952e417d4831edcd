//! Which step of a plain TCP exchange failed, and how: the part that the stream clients'
//! [`crate::board::ClientError`] and the publishers' [`crate::publish::PublishError`] share, so
//! a failed `connect()` reads the same in every report.

use std::io;

use thiserror::Error;

/// A socket call that failed, with the kind of error it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SocketError {
    /// The socket could not be created.
    #[error("socket: {0}")]
    Socket(io::ErrorKind),
    /// The socket could not be bound to its source address.
    #[error("bind: {0}")]
    Bind(io::ErrorKind),
    /// `connect()` failed.
    #[error("connect: {0}")]
    Connect(io::ErrorKind),
    /// The request could not be written.
    #[error("write: {0}")]
    Write(io::ErrorKind),
    /// A `read()` failed.
    #[error("read: {0}")]
    Read(io::ErrorKind),
}

impl SocketError {
    /// `step`'s error from `err`, for `map_err`: `.map_err(SocketError::at(SocketError::Read))`.
    pub fn at(step: fn(io::ErrorKind) -> Self) -> impl Fn(io::Error) -> Self {
        move |err| step(err.kind())
    }
}
