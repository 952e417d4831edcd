//! The one reader of an HTTP/1.x response head in the load tool, for the stream clients
//! ([`crate::wire`]) and the publishers ([`crate::publish`]) alike: `httparse` does the parsing
//! (as actix-web's own HTTP/1 codec does), and this keeps what the tool needs of a head.

/// The most header lines a head may have.
const MAX_HEADERS: usize = 64;

/// What the load tool reads of a response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The head's length in bytes, its blank line included: where the body starts.
    pub len: usize,
    /// The status code.
    pub status: u16,
    /// `Transfer-Encoding` ends in `chunked`.
    pub chunked: bool,
    /// The `Content-Length`, if there is one.
    pub content_length: Option<usize>,
    /// The connection ends after this response: HTTP/1.0, or `Connection: close`.
    pub close: bool,
}

/// Why a head could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// Not an HTTP/1.x response head (`httparse`'s reason).
    #[error("malformed response head: {0}")]
    Malformed(httparse::Error),
    /// A `Content-Length` that is not one decimal number.
    #[error("Content-Length is not a number")]
    Length,
}

/// Whether the comma-separated `value` lists `token` (ASCII case aside).
fn lists(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

/// The head at the start of `buf`, or `None` while it is incomplete.
pub fn parse(buf: &[u8]) -> Result<Option<ResponseHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf).map_err(HeadError::Malformed)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let status = response
        .code
        .ok_or(HeadError::Malformed(httparse::Error::Status))?;
    let mut head = ResponseHead {
        len,
        status,
        chunked: false,
        content_length: None,
        close: response.version != Some(1),
    };
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("content-length") {
            let text = std::str::from_utf8(header.value).map_err(|_| HeadError::Length)?;
            head.content_length = Some(text.trim().parse().map_err(|_| HeadError::Length)?);
        } else if name.eq_ignore_ascii_case("connection") {
            head.close |= lists(header.value, b"close");
        }
    }
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_read_with_what_the_tool_needs() {
        let head = parse(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: gzip, Chunked\r\n\r\nrest",
        )
        .expect("well formed")
        .expect("complete");
        assert_eq!(head.status, 200);
        assert!(head.chunked && !head.close);
        assert_eq!(head.len, 86);
        let head = parse(b"HTTP/1.0 202 Accepted\r\ncontent-length: 28\r\n\r\n")
            .expect("well formed")
            .expect("complete");
        assert_eq!(
            (head.status, head.content_length, head.close),
            (202, Some(28), true)
        );
        let head = parse(b"HTTP/1.1 503 x\r\nConnection: keep-alive, Close\r\n\r\n")
            .expect("well formed")
            .expect("complete");
        assert!(head.close && !head.chunked);
    }

    #[test]
    fn an_incomplete_head_waits_and_a_bad_one_is_refused() {
        assert_eq!(parse(b"HTTP/1.1 200 OK\r\nContent-"), Ok(None));
        for bad in [
            &b"HTTP/1.1 abc\r\n\r\n"[..],
            b"HTTP/2 200\r\n\r\n",
            b"SSH-2.0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(HeadError::Malformed(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            parse(b"HTTP/1.1 202 A\r\nContent-Length: 2x\r\n\r\n"),
            Err(HeadError::Length)
        );
    }
}
