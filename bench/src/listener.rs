//! The baselines' listening socket, with the same accept backlog as the real server.
//!
//! `std::net::TcpListener::bind` listens with a backlog of 128: with a thousand clients
//! connecting at once the kernel drops SYNs, and the clients retry after 1 s, 3 s, ... which
//! would be measured as the baseline's connect time although it is only the backlog.

use std::{io, net::SocketAddr, net::TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Pending connections queued before `accept`: the real server's value.
pub const BACKLOG: i32 = 4096;

/// Binds `addr` (address reuse on) and listens with [`BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
