//! The stream under test: an `http://` or `https://` URL on this machine's loopback range, and
//! nothing else.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use thiserror::Error;

/// Why a URL cannot be load-tested.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// Only `http://` (HTTP/1.1) and `https://` (HTTP/2 over TLS) are spoken.
    #[error("only http:// and https:// URLs are supported: {0}")]
    Scheme(String),
    /// The host is not a literal IPv4 address with a port.
    #[error("the URL needs a literal IPv4 host and a port, like http://127.0.0.1:8080/sse: {0}")]
    Authority(String),
    /// The host is outside 127.0.0.0/8: this tool never loads another machine.
    #[error("{0} is not a loopback address (127.0.0.0/8); refusing to send load elsewhere")]
    NotLoopback(Ipv4Addr),
}

/// Where the clients connect and what they ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The server's address, always in 127.0.0.0/8.
    pub addr: SocketAddrV4,
    /// The request path, e.g. `/sse`.
    pub path: String,
    /// `https://`: the clients speak HTTP/2 over TLS (as browsers do over HTTPS); `http://`:
    /// HTTP/1.1 in the clear, one connection per client.
    pub tls: bool,
}

impl Target {
    /// Parses `http://127.x.y.z:PORT/path` or `https://…` (the path defaults to
    /// [`shared::STREAM_PATH`]).
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (None, Some(rest)) => (true, rest),
            (None, None) => return Err(TargetError::Scheme(url.to_owned())),
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => rest.split_at(slash),
            None => (rest, shared::STREAM_PATH),
        };
        let addr: SocketAddrV4 = authority
            .parse()
            .map_err(|_| TargetError::Authority(url.to_owned()))?;
        if !addr.ip().is_loopback() {
            return Err(TargetError::NotLoopback(*addr.ip()));
        }
        Ok(Self {
            addr,
            path: path.to_owned(),
            tls,
        })
    }

    /// The whole GET request one client sends, as an `EventSource` would.
    pub fn request(&self) -> Vec<u8> {
        self.request_to(&self.path)
    }

    /// The same request for another path (with a query) on this server.
    pub fn request_to(&self, path: &str) -> Vec<u8> {
        self.request_as(path, None)
    }

    /// The request for `path`, with `bearer` as its `Authorization: Bearer` subscriber token
    /// when there is one (as a non-browser client sends it).
    pub fn request_as(&self, path: &str, bearer: Option<&str>) -> Vec<u8> {
        let authorization = bearer.map_or_else(String::new, |token| {
            format!("Authorization: Bearer {token}\r\n")
        });
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n{authorization}\r\n",
            self.addr
        )
        .into_bytes()
    }

    /// The target address in the form socket APIs take.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::V4(self.addr)
    }
}

/// The local address client `index` binds before connecting: `127.0.0.(1 + index % spread)`,
/// port chosen by the kernel. Spreading sources lifts the ~28k ephemeral-port cap per source
/// address (and gives TIME_WAIT sockets of earlier runs room).
pub fn source_addr(index: usize, spread: u8) -> SocketAddr {
    let spread = usize::from(spread.max(1));
    let host = u8::try_from(1 + index % spread).unwrap_or(1);
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, host), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_parse_with_and_without_a_path() {
        let target = Target::parse("http://127.0.0.1:8080/sse").expect("valid");
        assert_eq!(target.addr, SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));
        assert_eq!(target.path, "/sse");
        assert!(!target.tls);
        let target = Target::parse("http://127.1.2.3:9").expect("valid");
        assert_eq!(target.path, shared::STREAM_PATH);
        assert!(
            Target::parse("https://127.0.0.1:8443/sse")
                .expect("valid")
                .tls
        );
        let request = String::from_utf8(target.request()).expect("ascii");
        assert!(request.starts_with("GET /sse HTTP/1.1\r\nHost: 127.1.2.3:9\r\n"));
        assert!(request.ends_with("\r\n\r\n"));
        assert!(!request.contains("Authorization"));
        let with_token =
            String::from_utf8(target.request_as("/sse", Some("a.b.c"))).expect("ascii");
        assert!(
            with_token.ends_with("Cache-Control: no-cache\r\nAuthorization: Bearer a.b.c\r\n\r\n")
        );
    }

    #[test]
    fn anything_off_this_machine_is_refused() {
        assert_eq!(
            Target::parse("http://10.0.0.1:80/sse"),
            Err(TargetError::NotLoopback(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert!(matches!(
            Target::parse("http://example.com:80/"),
            Err(TargetError::Authority(_))
        ));
        assert!(matches!(
            Target::parse("ftp://127.0.0.1:443/"),
            Err(TargetError::Scheme(_))
        ));
        assert_eq!(
            Target::parse("https://10.0.0.1:443/sse"),
            Err(TargetError::NotLoopback(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert!(matches!(
            Target::parse("http://127.0.0.1/sse"),
            Err(TargetError::Authority(_))
        ));
    }

    #[test]
    fn sources_cycle_through_the_spread() {
        assert_eq!(source_addr(0, 4).to_string(), "127.0.0.1:0");
        assert_eq!(source_addr(3, 4).to_string(), "127.0.0.4:0");
        assert_eq!(source_addr(4, 4).to_string(), "127.0.0.1:0");
        assert_eq!(source_addr(9, 0).to_string(), "127.0.0.1:0");
    }
}
