//! What tonic answers on its own when a request body cannot be decoded,
//! before any handler runs (INTERNAL "failed to decode Protobuf message",
//! OUT_OF_RANGE for a message past the size limit), made precise: the
//! caller sent it, so it is INVALID_ARGUMENT (`MESSAGE_MALFORMED`) or
//! RESOURCE_EXHAUSTED (`MESSAGE_TOO_LARGE`), with the `ErrorInfo` every
//! refusal carries. The gate applies [`precise`] to every response.

use tonic::{Code, Status};

use super::{ApiError, Reason};

/// How tonic's own request-decoding failures begin (tonic 0.14).
const DECODE_FAILURES: &[&str] = &[
    "failed to decode Protobuf message",
    "Missing request message",
    "Unexpected EOF decoding stream",
    "protocol error: received message with",
    "Error decompressing",
];

/// The refusal that replaces tonic's own answer to an undecodable request,
/// if `status` is one (ours always carry details; tonic's never do).
pub fn undecoded_refusal(status: &Status) -> Option<ApiError> {
    if !status.details().is_empty() {
        return None;
    }
    let text = status.message();
    let too_large = text.contains("message length too large") || text.contains("size limit");
    match status.code() {
        Code::OutOfRange | Code::ResourceExhausted if too_large => {
            Some(ApiError::ResourceExhausted(
                Reason::MessageTooLarge,
                "the request message is larger than the server accepts".into(),
            ))
        }
        Code::Internal if DECODE_FAILURES.iter().any(|p| text.starts_with(p)) => {
            Some(ApiError::invalid_request(
                Reason::MessageMalformed,
                "the request body is not a valid encoding of the method's request message",
            ))
        }
        _ => None,
    }
}

/// `response`, or the precise refusal when it is tonic's own answer to a
/// request it could not decode (tonic keeps the status in the response's
/// extensions).
pub fn precise<B: Default>(response: http::Response<B>) -> http::Response<B> {
    let Some(status) = response.extensions().get::<Status>() else {
        return response;
    };
    match undecoded_refusal(status) {
        Some(refusal) => {
            tracing::debug!(code = ?status.code(), "request refused undecoded");
            Status::from(refusal).into_http()
        }
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonics_decode_failures_become_precise_refusals_and_ours_stay() {
        let malformed = Status::internal("failed to decode Protobuf message: invalid varint");
        let refusal = undecoded_refusal(&malformed).map(|e| e.reason());
        assert_eq!(refusal, Some(Reason::MessageMalformed));
        let large = Status::out_of_range("Error, decoded message length too large: found 5 bytes");
        let refusal = undecoded_refusal(&large).map(|e| e.reason());
        assert_eq!(refusal, Some(Reason::MessageTooLarge));
        let ours = Status::from(ApiError::Corrupt("x"));
        assert!(undecoded_refusal(&ours).is_none());
        assert!(undecoded_refusal(&Status::internal("something else")).is_none());
        let answered = precise::<String>(malformed.into_http());
        let status = answered.extensions().get::<Status>().map(|s| s.code());
        assert_eq!(status, Some(Code::InvalidArgument));
    }
}
