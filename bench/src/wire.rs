//! An incremental decoder for one SSE response: HTTP/1.1 head, chunked or raw body, event fields.
//!
//! The load generator holds thousands of streams, so the decoder is small and copies little: it
//! is fed whatever one `read()` returned and calls back once per complete event. Only what the
//! benchmark needs is kept: the status, whether the body is chunked, and each event's `id`,
//! `event` and `data` (the `retry:` line and comments are skipped, as a browser would).

use thiserror::Error;

use crate::response_head::{self, HeadError};

/// The longest response head accepted, in bytes.
pub const MAX_HEAD: usize = 16 * 1024;
/// The longest SSE line (and the most data one event may carry), in bytes.
pub const MAX_LINE: usize = 16 * 1024;

/// Why a response could not be followed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    /// The head is not an HTTP/1.x response head.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The server answered, but not with `200`.
    #[error("HTTP status {0}")]
    Status(u16),
    /// No blank line ended the response head within [`MAX_HEAD`] bytes.
    #[error("response head longer than {MAX_HEAD} bytes")]
    HeadTooLong,
    /// A chunk-size line or a chunk's trailing CRLF is malformed.
    #[error("malformed chunked encoding")]
    BadChunk,
    /// One SSE line or one event's data exceeded [`MAX_LINE`] bytes.
    #[error("SSE line longer than {MAX_LINE} bytes")]
    LineTooLong,
}

/// One dispatched SSE event; the slices borrow the decoder until the callback returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `id:` of this event, empty if it had none.
    pub id: &'a [u8],
    /// The `event:` name, empty if it had none (a browser would call it `message`).
    pub event: &'a [u8],
    /// The `data:` lines joined with `\n`.
    pub data: &'a [u8],
}

/// What the decoder knows once it has been fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// More bytes may come.
    Open,
    /// The body ended (the last chunk arrived); anything after it is ignored.
    Ended,
}

/// Decodes one response from its first byte on.
#[derive(Debug, Default)]
pub struct ResponseDecoder {
    stage: Stage,
    head: Vec<u8>,
    events: SseParser,
}

#[derive(Debug, Default)]
enum Stage {
    #[default]
    Head,
    Chunked(Chunk),
    Raw,
    Ended,
}

/// Where the chunked decoder is within the body.
#[derive(Debug, Clone, Copy)]
enum Chunk {
    /// Reading the hex size; `digits` guards against an overlong size.
    Size { size: u64, digits: u8 },
    /// Skipping a chunk extension up to the line end.
    Extension { size: u64 },
    /// Saw `\r` after the size, expecting `\n`.
    SizeLf { size: u64 },
    /// Inside a chunk's data.
    Data { left: u64 },
    /// After a chunk's data, expecting `\r\n`.
    DataCr,
    /// After a chunk's data and `\r`, expecting `\n`.
    DataLf,
}

impl ResponseDecoder {
    /// A decoder waiting for the status line.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder for a bare event-stream body, as HTTP/2 DATA frames carry it (the status came
    /// in a HEADERS frame; there is no chunked framing).
    pub fn body_only() -> Self {
        Self {
            stage: Stage::Raw,
            ..Self::default()
        }
    }

    /// Decodes `input`, calling `on_event` for every event it completes.
    pub fn feed(
        &mut self,
        mut input: &[u8],
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<Progress, WireError> {
        if matches!(self.stage, Stage::Head) {
            let Some(body) = self.read_head(input)? else {
                return Ok(Progress::Open);
            };
            input = body;
        }
        match &mut self.stage {
            // `read_head` only returns the body once it has left this stage.
            Stage::Head => Ok(Progress::Open),
            Stage::Raw => {
                self.events.feed(input, on_event)?;
                Ok(Progress::Open)
            }
            Stage::Ended => Ok(Progress::Ended),
            Stage::Chunked(chunk) => {
                let progress = dechunk(chunk, input, &mut self.events, on_event)?;
                if progress == Progress::Ended {
                    self.stage = Stage::Ended;
                }
                Ok(progress)
            }
        }
    }

    /// Collects the head; once it is complete, checks it, picks the body framing and returns the
    /// bytes of `input` that follow it.
    fn read_head<'a>(&mut self, input: &'a [u8]) -> Result<Option<&'a [u8]>, WireError> {
        let already = self.head.len();
        self.head.extend_from_slice(input);
        let Some(head) = response_head::parse(&self.head)? else {
            if self.head.len() > MAX_HEAD {
                return Err(WireError::HeadTooLong);
            }
            return Ok(None);
        };
        self.head = Vec::new();
        if head.status != 200 {
            return Err(WireError::Status(head.status));
        }
        let at = head.len;
        self.stage = if head.chunked {
            Stage::Chunked(Chunk::Size { size: 0, digits: 0 })
        } else {
            Stage::Raw
        };
        Ok(Some(&input[at - already..]))
    }

    /// Whether the bytes fed so far stop where an event ended and the next has not begun (and,
    /// for a chunked body, where a chunk ended): whether a connection that closes here cut
    /// nothing. False while the head is still arriving.
    pub fn is_between_events(&self) -> bool {
        let framing = match &self.stage {
            Stage::Head => false,
            Stage::Raw | Stage::Ended => true,
            Stage::Chunked(chunk) => matches!(chunk, Chunk::Size { digits: 0, .. }),
        };
        framing && self.events.is_between_events()
    }
}

/// Runs the chunked-transfer state machine over `input`, handing chunk data to `events`.
fn dechunk(
    chunk: &mut Chunk,
    mut input: &[u8],
    events: &mut SseParser,
    on_event: &mut impl FnMut(Event<'_>),
) -> Result<Progress, WireError> {
    while let Some((&byte, rest)) = input.split_first() {
        if let Chunk::Data { left } = chunk {
            let take = usize::try_from(*left)
                .unwrap_or(usize::MAX)
                .min(input.len());
            events.feed(&input[..take], on_event)?;
            input = &input[take..];
            *left -= take as u64;
            if *left == 0 {
                *chunk = Chunk::DataCr;
            }
            continue;
        }
        input = rest;
        *chunk = match (*chunk, byte) {
            (Chunk::Size { size, digits }, _) if byte.is_ascii_hexdigit() => {
                if digits >= 15 {
                    return Err(WireError::BadChunk);
                }
                let digit = u64::from(char::from(byte).to_digit(16).unwrap_or(0));
                Chunk::Size {
                    size: size * 16 + digit,
                    digits: digits + 1,
                }
            }
            (Chunk::Size { size, digits }, b';' | b' ' | b'\t') if digits > 0 => {
                Chunk::Extension { size }
            }
            (Chunk::Size { size, digits }, b'\r') if digits > 0 => Chunk::SizeLf { size },
            (Chunk::Extension { size }, b'\r') => Chunk::SizeLf { size },
            (Chunk::Extension { size }, b'\n') => end_of_size_line(size),
            (Chunk::Extension { size }, _) => Chunk::Extension { size },
            (Chunk::SizeLf { size }, b'\n') => end_of_size_line(size),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
            _ => return Err(WireError::BadChunk),
        };
        if let Chunk::Data { left: 0 } = chunk {
            // The last chunk: the stream is over, trailers and all.
            return Ok(Progress::Ended);
        }
    }
    Ok(Progress::Open)
}

fn end_of_size_line(size: u64) -> Chunk {
    Chunk::Data { left: size }
}

/// The event-stream field parser (WHATWG HTML, "Parsing an event stream"), minus `retry`.
#[derive(Debug, Default)]
struct SseParser {
    /// The part of a line that has arrived so far.
    line: Vec<u8>,
    /// The previous byte was a `\r` that ended a line: a `\n` right after it is part of it.
    after_cr: bool,
    id: Vec<u8>,
    event: Vec<u8>,
    data: Vec<u8>,
    /// At least one `data:` line since the last dispatch (the data itself may be empty).
    has_data: bool,
    /// A line of the current event (any field or comment) has arrived, and its blank line not.
    in_event: bool,
}

impl SseParser {
    fn is_between_events(&self) -> bool {
        self.line.is_empty() && !self.in_event
    }

    fn feed(
        &mut self,
        mut input: &[u8],
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<(), WireError> {
        while !input.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if input[0] == b'\n' {
                    input = &input[1..];
                    continue;
                }
            }
            match input.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(end) => {
                    self.after_cr = input[end] == b'\r';
                    if self.line.is_empty() {
                        self.process_line(&input[..end], on_event)?;
                    } else {
                        self.extend_line(&input[..end])?;
                        let line = std::mem::take(&mut self.line);
                        self.process_line(&line, on_event)?;
                        self.line = line;
                        self.line.clear();
                    }
                    input = &input[end + 1..];
                }
                None => {
                    self.extend_line(input)?;
                    input = &[];
                }
            }
        }
        Ok(())
    }

    fn extend_line(&mut self, part: &[u8]) -> Result<(), WireError> {
        if self.line.len() + part.len() > MAX_LINE {
            return Err(WireError::LineTooLong);
        }
        self.line.extend_from_slice(part);
        Ok(())
    }

    fn process_line(
        &mut self,
        line: &[u8],
        on_event: &mut impl FnMut(Event<'_>),
    ) -> Result<(), WireError> {
        self.in_event = !line.is_empty();
        if line.is_empty() {
            if self.has_data {
                on_event(Event {
                    id: &self.id,
                    event: &self.event,
                    data: &self.data,
                });
            }
            self.event.clear();
            self.data.clear();
            self.has_data = false;
            return Ok(());
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return Ok(()), // a comment
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                if self.data.len() + value.len() + 1 > MAX_LINE {
                    return Err(WireError::LineTooLong);
                }
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.extend_from_slice(value);
            }
            // The spec keeps the last id across events and ignores one containing NUL.
            b"id" if !value.contains(&0) => {
                self.id.clear();
                self.id.extend_from_slice(value);
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNKED_HEAD: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

    /// Owned copy of an [`Event`] for assertions.
    #[derive(Debug, PartialEq, Eq)]
    struct Seen {
        id: String,
        event: String,
        data: String,
    }

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Result<(Vec<Seen>, Progress), WireError> {
        let mut decoder = ResponseDecoder::new();
        let mut seen = Vec::new();
        let mut progress = Progress::Open;
        for part in bytes.chunks(piece) {
            progress = decoder.feed(part, &mut |event| {
                seen.push(Seen {
                    id: String::from_utf8_lossy(event.id).into_owned(),
                    event: String::from_utf8_lossy(event.event).into_owned(),
                    data: String::from_utf8_lossy(event.data).into_owned(),
                });
            })?;
        }
        Ok((seen, progress))
    }

    fn chunk(body: &str) -> String {
        format!("{:x}\r\n{body}\r\n", body.len())
    }

    fn ping(count: u64) -> String {
        format!(
            "id: 00000000000000ab-{count}\nevent: ping\ndata: {{\"count\":{count},\"time\":\"2026-11-25T09:00:00.123Z\"}}\n\n"
        )
    }

    fn expected(count: u64) -> Seen {
        Seen {
            id: format!("00000000000000ab-{count}"),
            event: "ping".into(),
            data: format!("{{\"count\":{count},\"time\":\"2026-11-25T09:00:00.123Z\"}}"),
        }
    }

    #[test]
    fn chunked_stream_yields_every_event_however_it_is_split() {
        let mut bytes = CHUNKED_HEAD.to_vec();
        bytes.extend(chunk("retry: 2000\n\n").bytes());
        bytes.extend(chunk(&ping(1)).bytes());
        // Two events in one chunk, and one event split over two chunks.
        bytes.extend(chunk(&(ping(2) + &ping(3))).bytes());
        let four = ping(4);
        bytes.extend(chunk(&four[..10]).bytes());
        bytes.extend(chunk(&four[10..]).bytes());
        for piece in [1, 2, 3, 7, 64, bytes.len()] {
            let (seen, progress) = decode_in_pieces(&bytes, piece).expect("valid stream");
            assert_eq!(seen, (1..=4).map(expected).collect::<Vec<_>>(), "{piece}");
            assert_eq!(progress, Progress::Open);
        }
    }

    #[test]
    fn raw_body_after_connection_close_head_is_read_as_is() {
        let mut bytes =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                .to_vec();
        bytes.extend((1..=3).flat_map(|count| ping(count).into_bytes()));
        for piece in [1, 5, bytes.len()] {
            let (seen, _) = decode_in_pieces(&bytes, piece).expect("valid stream");
            assert_eq!(seen, (1..=3).map(expected).collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_bare_body_as_http2_carries_it_is_read_without_a_head() {
        let mut body = b"retry: 2000\n\n".to_vec();
        body.extend((1..=3).flat_map(|count| ping(count).into_bytes()));
        for piece in [1, 7, body.len()] {
            let mut decoder = ResponseDecoder::body_only();
            let mut seen = Vec::new();
            for part in body.chunks(piece) {
                let progress = decoder
                    .feed(part, &mut |event| {
                        seen.push(Seen {
                            id: String::from_utf8_lossy(event.id).into_owned(),
                            event: String::from_utf8_lossy(event.event).into_owned(),
                            data: String::from_utf8_lossy(event.data).into_owned(),
                        });
                    })
                    .expect("valid stream");
                assert_eq!(progress, Progress::Open);
            }
            assert_eq!(seen, (1..=3).map(expected).collect::<Vec<_>>());
        }
    }

    #[test]
    fn crlf_and_cr_line_endings_comments_and_multiline_data_follow_the_spec() {
        let mut bytes = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        bytes.extend(b": keep-alive\r\n\r\nid: 7\r\ndata: a\rdata:b\r\n\r\ndata\n\n");
        let (seen, _) = decode_in_pieces(&bytes, 1).expect("valid stream");
        assert_eq!(
            seen,
            vec![
                Seen {
                    id: "7".into(),
                    event: String::new(),
                    data: "a\nb".into()
                },
                // The id persists; an empty `data` field still dispatches.
                Seen {
                    id: "7".into(),
                    event: String::new(),
                    data: String::new()
                },
            ]
        );
    }

    #[test]
    fn the_last_chunk_ends_the_stream() {
        let mut bytes = CHUNKED_HEAD.to_vec();
        bytes.extend(chunk(&ping(1)).bytes());
        bytes.extend(b"0\r\n\r\n");
        let (seen, progress) = decode_in_pieces(&bytes, 3).expect("valid stream");
        assert_eq!(seen.len(), 1);
        assert_eq!(progress, Progress::Ended);
    }

    #[test]
    fn only_a_cut_between_two_events_and_two_chunks_cuts_nothing() {
        let mut bytes = CHUNKED_HEAD.to_vec();
        let head = bytes.len();
        bytes.extend(chunk(&ping(1)).bytes());
        let after_one = bytes.len();
        // One event over two chunks: the cut between the chunks is inside the event.
        let two = ping(2);
        bytes.extend(chunk(&two[..10]).bytes());
        bytes.extend(chunk(&two[10..]).bytes());
        let whole = bytes.len();
        for cut in 0..=whole {
            let mut decoder = ResponseDecoder::new();
            decoder
                .feed(&bytes[..cut], &mut |_| {})
                .expect("valid stream");
            let between = [head, after_one, whole].contains(&cut);
            assert_eq!(decoder.is_between_events(), between, "cut at {cut}");
        }
        // A raw body: a block of fields without data is an event too until its blank line.
        let mut decoder = ResponseDecoder::new();
        decoder
            .feed(b"HTTP/1.1 200 OK\r\n\r\n", &mut |_| {})
            .expect("a head");
        assert!(decoder.is_between_events());
        decoder
            .feed(b"retry: 2000\n", &mut |_| {})
            .expect("a field");
        assert!(!decoder.is_between_events(), "inside the retry block");
        decoder.feed(b"\n", &mut |_| {}).expect("its end");
        assert!(decoder.is_between_events());
    }

    #[test]
    fn non_200_status_is_an_error() {
        let result = decode_in_pieces(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", 4);
        assert_eq!(result.err(), Some(WireError::Status(503)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bad in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 abc\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcX",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        ] {
            assert!(decode_in_pieces(bad, 2).is_err(), "{bad:?}");
        }
        assert!(matches!(
            decode_in_pieces(&[b'a'; 100], 10).err(),
            Some(WireError::Head(_))
        ));
        let mut endless_head = b"HTTP/1.1 200 OK\r\nX-Pad: ".to_vec();
        endless_head.extend(vec![b'a'; MAX_HEAD + 10]);
        assert_eq!(
            decode_in_pieces(&endless_head, 1000).err(),
            Some(WireError::HeadTooLong)
        );
        let mut endless_line = b"HTTP/1.1 200 OK\r\n\r\ndata: ".to_vec();
        endless_line.extend(vec![b'x'; MAX_LINE + 10]);
        assert_eq!(
            decode_in_pieces(&endless_line, 1000).err(),
            Some(WireError::LineTooLong)
        );
    }
}
