//! Request heads checked before hyper reads them, so that the requests hyper itself would refuse
//! with an empty body (a URI over its fixed 65,534-byte limit, oversized headers, a malformed
//! head) get a JSON `{"code", "message"}` answer like every other error.
//!
//! Why here, below hyper: hyper parses every head itself and answers a bad one before any
//! service runs, so no axum layer can reach those answers, and its limits are not all ours to
//! set. [`Heads`] wraps each accepted connection and follows its HTTP/1.1 framing: it holds each
//! request head until it is whole, checks it with the parser hyper uses (httparse) and hyper's
//! own rules, then passes it on with its body (Content-Length bytes). So every request on a
//! keep-alive connection is checked, the second as much as the first. A refused head never
//! reaches hyper: hyper sees the connection end there, answers the requests before it, and when
//! it shuts the connection down, [`Heads`] writes the refusal first.
//!
//! What it refuses: a head over [`MAX_HEAD`] bytes (414 `uri_too_long` while the request line
//! is longer than [`MAX_URI`], else 431 `headers_too_large`), more than [`MAX_HEADERS`] fields
//! (431), anything hyper would not parse (400 `malformed_request`), and a body sent without
//! Content-Length (411 `length_required`): following chunked framing here would mean decoding
//! chunks twice, and every client of this API sends its small bodies with a length. The
//! documented limits below this hard one (8 KiB of path and query, 16 KiB of header fields) are
//! the router's, in `greenloop::http`, the same behind API Gateway.

use greenloop::http::{MAX_HEADER_BYTES, MAX_URI};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest request head (request line and header fields) passed on, in bytes: room for the
/// router's own limits on each part, so that they are the ones a client meets, and below
/// hyper's URI limit, so that hyper never answers one itself.
pub const MAX_HEAD: usize = 48 * 1024;
const _: () = assert!(MAX_HEAD > MAX_URI + MAX_HEADER_BYTES && MAX_HEAD < 65_534);
/// Most header fields in one request, as hyper's default.
pub const MAX_HEADERS: usize = 100;
/// How long, and how much of, the client's input is still read after a refusal.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);
const LINGER_BYTES: usize = 1 << 20;

/// A connection whose request heads are checked before its reader sees them.
pub struct Heads<T> {
    io: T,
    /// Bytes read from `io` and not yet passed on.
    held: Vec<u8>,
    /// How many bytes at the front of `held` are checked and may be passed on.
    cleared: usize,
    /// Body bytes of the current request not yet cleared.
    body_left: u64,
    /// The held head's length when it was last found incomplete: it is parsed again only once
    /// a line ends after that.
    partial: usize,
    /// A refused head: the reader is told the connection ended before it.
    refused: Option<Refusal>,
    /// The reader has read that end, so it has answered every request before the refused one.
    ended: bool,
    /// The refusal as bytes, and how many were written, while shutting down.
    answer: Option<(Vec<u8>, usize)>,
    /// After a refusal is written and the writing side shut: until when the rest of the
    /// client's input is read and dropped, and how much of it was.
    linger: Option<(Pin<Box<tokio::time::Sleep>>, usize)>,
}

impl<T> Heads<T> {
    pub fn new(io: T) -> Self {
        Heads {
            io,
            held: Vec::new(),
            cleared: 0,
            body_left: 0,
            partial: 0,
            refused: None,
            ended: false,
            answer: None,
            linger: None,
        }
    }

    /// Clears what follows the bytes already cleared: body bytes, then whole checked heads.
    fn advance(&mut self) {
        while self.refused.is_none() && self.cleared < self.held.len() {
            let rest = &self.held[self.cleared..];
            if self.body_left > 0 {
                let n = rest
                    .len()
                    .min(usize::try_from(self.body_left).unwrap_or(usize::MAX));
                self.cleared += n;
                self.body_left -= n as u64;
                continue;
            }
            if rest.len() <= MAX_HEAD && !rest[self.partial..].contains(&b'\n') {
                return;
            }
            match check(rest) {
                Checked::Partial => {
                    self.partial = rest.len();
                    return;
                }
                Checked::Head { len, body } => {
                    self.cleared += len;
                    self.body_left = body;
                    self.partial = 0;
                }
                Checked::Refused(r) => {
                    self.held.truncate(self.cleared);
                    self.refused = Some(r);
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Heads<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.cleared > 0 {
                let n = this.cleared.min(buf.remaining());
                buf.put_slice(&this.held[..n]);
                this.held.drain(..n);
                this.cleared -= n;
                return Poll::Ready(Ok(()));
            }
            if this.refused.is_some() {
                this.ended = true;
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The peer is done; an unfinished head is dropped, there is nothing to answer.
                this.held.clear();
                return Poll::Ready(Ok(()));
            }
            this.held.extend_from_slice(read.filled());
            this.advance();
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Heads<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, b)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// Writes the refusal, if the reader got as far as the refused head, then shuts down.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ended {
            if let Some(r) = this.refused.take() {
                this.answer = Some((r.response(), 0));
            }
        }
        let Some((bytes, written)) = &mut this.answer else {
            return Pin::new(&mut this.io).poll_shutdown(cx);
        };
        while *written < bytes.len() {
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.linger = Some((Box::pin(tokio::time::sleep(LINGER)), 0));
        }
        // A lingering close: a socket closed with unread input resets the connection, and the
        // client could lose the answer, so read what it still sends, within bounds, first.
        let Some((deadline, drained)) = &mut this.linger else {
            return Poll::Ready(Ok(())); // set above
        };
        while *drained < LINGER_BYTES && deadline.as_mut().poll(cx).is_pending() {
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => *drained += read.filled().len(),
                Poll::Ready(_) => break,
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

enum Checked {
    Partial,
    /// A head of `len` bytes, followed by a body of `body` bytes.
    Head {
        len: usize,
        body: u64,
    },
    Refused(Refusal),
}

/// Checks the head at the start of `bytes` as hyper will parse it.
fn check(bytes: &[u8]) -> Checked {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut fields);
    let len = match req.parse(bytes) {
        Ok(httparse::Status::Partial) if bytes.len() > MAX_HEAD => {
            return Checked::Refused(too_large(bytes))
        }
        Ok(httparse::Status::Partial) => return Checked::Partial,
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => {
            return Checked::Refused(too_large(&bytes[..len]))
        }
        Ok(httparse::Status::Complete(len)) => len,
        Err(httparse::Error::TooManyHeaders) => {
            return Checked::Refused(Refusal::HeadersTooLarge);
        }
        Err(e) => return Checked::Refused(Refusal::Malformed(e.to_string())),
    };
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Checked::Refused(Refusal::Malformed("no request line".into()));
    };
    if axum::http::Method::from_bytes(method.as_bytes()).is_err() {
        return Checked::Refused(Refusal::Malformed("invalid method".into()));
    }
    if axum::http::Uri::try_from(target).is_err() {
        return Checked::Refused(Refusal::Malformed("invalid request target".into()));
    }
    let mut body = None;
    for field in req.headers.iter() {
        if axum::http::HeaderName::from_bytes(field.name.as_bytes()).is_err() {
            return Checked::Refused(Refusal::Malformed("invalid header name".into()));
        }
        if field.name.eq_ignore_ascii_case("transfer-encoding") {
            return Checked::Refused(Refusal::LengthRequired);
        }
        if field.name.eq_ignore_ascii_case("content-length") {
            // As hyper reads it: digits only, and every copy the same.
            let n = content_length(field.value);
            if n.is_none() || (body.is_some() && body != n) {
                return Checked::Refused(Refusal::Malformed("invalid content-length".into()));
            }
            body = n;
        }
    }
    Checked::Head {
        len,
        body: body.unwrap_or(0),
    }
}

fn content_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// An oversized head: the URI's fault while the request line alone is too long.
fn too_large(head: &[u8]) -> Refusal {
    let line = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    if line > MAX_URI {
        Refusal::UriTooLong
    } else {
        Refusal::HeadersTooLarge
    }
}

/// Why a head was refused; each has a status and a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    UriTooLong,
    HeadersTooLarge,
    LengthRequired,
    Malformed(String),
}

impl Refusal {
    fn response(&self) -> Vec<u8> {
        let (status, code, message) = match self {
            Refusal::UriTooLong => (
                "414 URI Too Long",
                "uri_too_long",
                format!("the path and query may be at most {MAX_URI} bytes"),
            ),
            Refusal::HeadersTooLarge => (
                "431 Request Header Fields Too Large",
                "headers_too_large",
                format!(
                    "the header fields may be at most {MAX_HEADER_BYTES} bytes and \
                     {MAX_HEADERS} fields"
                ),
            ),
            Refusal::LengthRequired => (
                "411 Length Required",
                "length_required",
                "send a request body with Content-Length; chunked bodies are not taken".into(),
            ),
            Refusal::Malformed(why) => (
                "400 Bad Request",
                "malformed_request",
                format!("the request is not well-formed HTTP/1.1: {why}"),
            ),
        };
        let id = greenloop::http::local_request_id();
        tracing::info!(request_id = %id, status, code, "refused a request head");
        let body = serde_json::json!({"code": code, "message": message}).to_string();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\nx-request-id: {id}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(extra: &str) -> String {
        format!("GET /health HTTP/1.1\r\nhost: x\r\n{extra}\r\n")
    }

    #[test]
    fn a_whole_head_is_cleared_with_its_body() {
        let req = format!("{}{}", head("content-length: 3\r\n"), "abc");
        match check(req.as_bytes()) {
            Checked::Head { len, body } => {
                assert_eq!((len, body), (req.len() - 3, 3));
            }
            _ => panic!("a good head"),
        }
        assert!(matches!(
            check(b"GET /health HTTP/1.1\r\nho"),
            Checked::Partial
        ));
    }

    #[test]
    fn what_hyper_would_refuse_is_refused_with_a_code() {
        let refused = |req: &str| match check(req.as_bytes()) {
            Checked::Refused(r) => r,
            _ => panic!("refused: {req:?}"),
        };
        assert!(matches!(
            refused(&head("x: a\0b\r\n")),
            Refusal::Malformed(_)
        ));
        assert!(matches!(
            refused(&head("content-length: 1\r\ncontent-length: 2\r\n")),
            Refusal::Malformed(_)
        ));
        assert!(matches!(
            refused(&head("content-length: +1\r\n")),
            Refusal::Malformed(_)
        ));
        assert_eq!(
            refused(&head("transfer-encoding: chunked\r\n")),
            Refusal::LengthRequired
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("h{i}: v\r\n")).collect();
        assert_eq!(refused(&head(&many)), Refusal::HeadersTooLarge);
        let long_uri = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(refused(&long_uri), Refusal::UriTooLong);
        let long_field = head(&format!("x: {}\r\n", "a".repeat(MAX_HEAD)));
        assert_eq!(refused(&long_field), Refusal::HeadersTooLarge);
    }
}
