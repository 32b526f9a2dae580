//! The end of every request, seen once: [`AccessBody`] wraps the response
//! body, finds the answer's code (the `grpc-status` of the headers of a
//! trailers-only answer, of the trailers, or of the trailer frame of a
//! gRPC-web body; the HTTP status of a plain-HTTP route) and, when the body
//! ends or is dropped, counts the call in `ochre_rpc_requests_total` and
//! `ochre_rpc_duration_seconds` and writes the access-log line (target
//! `ochre::access`): method or route template, code, latency, org id,
//! principal kind and id, client address and request id. Never a body, a
//! header value, a token or an address book entry.

use std::{
    net::IpAddr,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Instant,
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::metrics;

/// Who the gate verified, filled in by
/// [`super::request::record_principal`] while the request is served.
#[derive(Debug, Default)]
pub struct Who(OnceLock<(&'static str, String, Option<String>)>);

impl Who {
    pub(super) fn set(&self, kind: &'static str, id: String, org: Option<String>) {
        let _ = self.0.set((kind, id, org));
    }
}

tokio::task_local! {
    /// The [`Who`] of the request being served on this task.
    pub(super) static CURRENT: Arc<Who>;
}

/// The client address of a request, as the edge resolved it (the TCP
/// peer, or the forwarded client behind a trusted proxy).
pub fn client_addr<B>(req: &http::Request<B>) -> Option<IpAddr> {
    crate::edge::ClientAddr::of(req)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Grpc,
    GrpcWeb,
    GrpcWebText,
}

/// What a request's end reports.
#[derive(Debug)]
pub struct Completion {
    pub(super) method: &'static str,
    pub(super) start: Instant,
    pub(super) request_id: String,
    pub(super) client: Option<IpAddr>,
    pub(super) who: Arc<Who>,
    pub(super) access_log: bool,
}

/// A response body that reports its request when it ends.
#[derive(Debug)]
pub struct AccessBody<B> {
    inner: B,
    kind: Kind,
    http_status: http::StatusCode,
    code: Option<&'static str>,
    completion: Option<Completion>,
}

fn status_of(value: Option<&http::HeaderValue>) -> Option<&'static str> {
    let code: i32 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(metrics::grpc_code_name(code))
}

/// The `grpc-status` of a gRPC-web trailer frame (flag 0x80).
fn web_trailer_status(frame: &[u8]) -> Option<&'static str> {
    let (&flag, rest) = frame.split_first()?;
    if flag & 0x80 == 0 {
        return None;
    }
    let text = std::str::from_utf8(rest.get(4..)?).ok()?;
    text.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("grpc-status") {
            return None;
        }
        value
            .trim()
            .parse::<i32>()
            .ok()
            .map(metrics::grpc_code_name)
    })
}

impl<B> AccessBody<B> {
    /// Wraps the body of `response`, reporting `completion` when it ends.
    pub fn wrap(response: http::Response<B>, completion: Completion) -> http::Response<Self> {
        let content_type = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let kind = if content_type.starts_with("application/grpc-web-text") {
            Kind::GrpcWebText
        } else if content_type.starts_with("application/grpc-web") {
            Kind::GrpcWeb
        } else if content_type.starts_with("application/grpc") {
            Kind::Grpc
        } else {
            Kind::Http
        };
        let http_status = response.status();
        let code = status_of(response.headers().get("grpc-status"));
        response.map(|inner| AccessBody {
            inner,
            kind,
            http_status,
            code,
            completion: Some(completion),
        })
    }

    fn note_data(&mut self, data: &[u8]) {
        if self.code.is_some() {
            return;
        }
        match self.kind {
            Kind::GrpcWeb => self.code = web_trailer_status(data),
            Kind::GrpcWebText if data.len() <= 4096 => {
                use base64::Engine as _;
                if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(data) {
                    self.code = web_trailer_status(&raw);
                }
            }
            _ => {}
        }
    }

    /// Reports once: at the end of the body, or when it is dropped first
    /// (the client went away: CANCELLED unless a code was seen).
    fn finish(&mut self, ended: bool) {
        let Some(c) = self.completion.take() else {
            return;
        };
        let code = match (self.kind, self.code) {
            (Kind::Http, _) => metrics::http_code_name(self.http_status),
            (_, Some(code)) => code,
            (_, None) if !self.http_status.is_success() => {
                metrics::http_code_name(self.http_status)
            }
            (_, None) if ended => "UNKNOWN",
            (_, None) => "CANCELLED",
        };
        let elapsed = c.start.elapsed();
        metrics::rpc(c.method, code, elapsed);
        if c.access_log {
            let who = c.who.0.get();
            tracing::info!(
                target: "ochre::access",
                method = c.method,
                code,
                latency_ms = elapsed.as_secs_f64() * 1000.0,
                org_id = who.and_then(|w| w.2.as_deref()),
                principal = who.map(|w| w.0),
                principal_id = who.map(|w| w.1.as_str()),
                client = c.client.map(tracing::field::display),
                request_id = c.request_id.as_str(),
                "access"
            );
        }
    }
}

impl<B> Drop for AccessBody<B> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

impl<B> Body for AccessBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    if this.code.is_none() {
                        this.code = status_of(trailers.get("grpc-status"));
                    }
                } else if let Some(data) = frame.data_ref() {
                    this.note_data(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(false);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.finish(true);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_web_trailer_frame_gives_its_status() {
        let text = b"grpc-status:5\r\ngrpc-message:nope\r\n";
        let mut frame = vec![0x80];
        frame.extend_from_slice(&u32::try_from(text.len()).unwrap_or(0).to_be_bytes());
        frame.extend_from_slice(text);
        assert_eq!(web_trailer_status(&frame), Some("NOT_FOUND"));
        frame[0] = 0;
        assert_eq!(web_trailer_status(&frame), None);
    }
}
