//! What the gate reads off a request besides its credentials: the client
//! address, the body (read in full before a database connection is taken),
//! and (when refusing) the body, drained up to a bound.

use std::net::IpAddr;

use http_body::Body as HttpBody;
use http_body_util::{BodyExt as _, Full, Limited};
use tonic::body::Body;

use crate::error::{ApiError, Reason};

/// How much of a refused request's body is read before answering, so that
/// HTTP/1.1 gRPC-web clients do not see a broken pipe.
const DRAIN_LIMIT: usize = 64 * 1024;

/// The largest request body read: tonic's decoding limit (4 MiB) and the
/// gRPC frame header.
const BODY_LIMIT: usize = 4 * 1024 * 1024 + 5;

/// `req` with its body read in full (empty when it could not be, with the
/// refusal to answer once the caller is known). The gate does this before
/// opening the request's transaction: a pooled connection held while a
/// body is still arriving lets large or slow bodies on one HTTP/2
/// connection (whose flow-control window the unread ones fill) stall every
/// connection of the pool until acquiring one times out.
pub(super) async fn buffered(
    req: http::Request<Body>,
) -> (http::Request<Body>, Result<(), ApiError>) {
    let (parts, body) = req.into_parts();
    let (bytes, read) = match Limited::new(body, BODY_LIMIT).collect().await {
        Ok(collected) => (collected.to_bytes(), Ok(())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let refusal = ApiError::ResourceExhausted(
                Reason::MessageTooLarge,
                "the request message is larger than the server accepts".into(),
            );
            (Default::default(), Err(refusal))
        }
        Err(_) => {
            let refusal = ApiError::invalid_request(
                Reason::MessageMalformed,
                "the request body could not be read",
            );
            (Default::default(), Err(refusal))
        }
    };
    let req = http::Request::from_parts(parts, Body::new(Full::new(bytes)));
    (req, read)
}

/// The client address the edge layer resolved (behind trusted proxies, the
/// forwarded client's).
pub(super) fn client_ip<B>(req: &http::Request<B>) -> Option<IpAddr> {
    crate::edge::ClientAddr::of(req)
}

pub(super) async fn drain<B: HttpBody + Unpin>(mut body: B) {
    let mut read = 0usize;
    while read <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read += bytes::Buf::remaining(data);
                }
            }
            _ => break,
        }
    }
}
