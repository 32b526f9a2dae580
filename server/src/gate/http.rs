//! What the gate reads off a request besides its credentials: the client
//! address, and (when refusing) the body, drained up to a bound.

use std::net::IpAddr;

use http_body::Body as HttpBody;
use http_body_util::BodyExt as _;

/// How much of a refused request's body is read before answering, so that
/// HTTP/1.1 gRPC-web clients do not see a broken pipe.
const DRAIN_LIMIT: usize = 64 * 1024;

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
