//! Reading a delivery's body: at most a size limit, within a total time,
//! and never slower than a minimum rate once a short grace period has
//! passed. A sender that trickles its body (a slowloris) loses its body slot
//! after about a second instead of holding it for the whole timeout, so
//! slow senders cannot keep genuine deliveries of the same integration
//! waiting.

use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use tokio::time::Instant;

/// How long a sender may take to deliver the whole body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed before the minimum rate applies.
pub const GRACE: Duration = Duration::from_secs(1);
/// After [`GRACE`], the body must have arrived at least this fast on
/// average (bytes per second): by time `t` at least
/// `MIN_RATE × (t − GRACE)` bytes.
pub const MIN_RATE: u64 = 16 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit.
    TooLarge,
    /// Slower than [`MIN_RATE`] or longer than [`BODY_TIMEOUT`].
    TooSlow,
    /// The connection failed while the body was read.
    Broken,
}

/// When the next bytes must have arrived, having received `received` since
/// `start`.
fn next_deadline(start: Instant, received: usize) -> Instant {
    let earned = Duration::from_secs_f64(received as f64 / MIN_RATE as f64);
    (start + GRACE + earned).min(start + BODY_TIMEOUT)
}

/// Reads `body` whole, refusing more than `max` bytes or a sender slower
/// than the minimum rate.
pub async fn read(mut body: Body, max: usize) -> Result<Bytes, BodyError> {
    let start = Instant::now();
    let mut buf = BytesMut::new();
    loop {
        let deadline = next_deadline(start, buf.len());
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BodyError::TooSlow),
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(_))) => return Err(BodyError::Broken),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_grows_with_what_arrived_and_never_passes_the_timeout() {
        let start = Instant::now();
        assert_eq!(next_deadline(start, 0), start + GRACE);
        let one_second_of_data = MIN_RATE as usize;
        assert_eq!(
            next_deadline(start, one_second_of_data),
            start + GRACE + Duration::from_secs(1)
        );
        assert_eq!(next_deadline(start, 1 << 30), start + BODY_TIMEOUT);
    }

    #[tokio::test]
    async fn a_whole_body_is_read_and_a_large_one_refused() {
        let body = Body::from(vec![7u8; 1000]);
        assert_eq!(read(body, 1000).await.unwrap().len(), 1000);
        let body = Body::from(vec![7u8; 1001]);
        assert_eq!(read(body, 1000).await, Err(BodyError::TooLarge));
    }

    #[tokio::test]
    async fn a_body_that_stops_arriving_is_cut_after_the_grace_period() {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, std::io::Error>>(1);
        tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"{\"a\":"))))
            .await
            .unwrap();
        let body = Body::new(http_body_util::StreamBody::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ));
        let started = Instant::now();
        assert_eq!(read(body, 1000).await, Err(BodyError::TooSlow));
        assert!(started.elapsed() < GRACE + Duration::from_millis(500));
        drop(tx);
    }
}
