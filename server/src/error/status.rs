//! The one conversion of [`ApiError`] to `tonic::Status`, with its
//! `google.rpc` details.

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status, metadata::MetadataMap};
use tonic_types::{ErrorDetails, StatusExt as _};

use super::{ApiError, DOMAIN, Message, Reason};
use crate::{
    crypto::{password::HashError, vault::VaultError},
    db::DbError,
};

impl From<VaultError> for Status {
    fn from(err: VaultError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<HashError> for Status {
    fn from(err: HashError) -> Self {
        ApiError::from(err).into()
    }
}

impl From<DbError> for Status {
    fn from(err: DbError) -> Self {
        ApiError::from(err).into()
    }
}

/// What a status says: code, message, `ErrorInfo` metadata, the field a
/// `BadRequest` names, and the `RetryInfo` delay.
struct Answer {
    code: Code,
    message: Message,
    info: HashMap<String, String>,
    field: Option<super::Field>,
    retry_after: Option<Duration>,
}

impl Answer {
    fn new(code: Code, message: impl Into<Message>) -> Self {
        Answer {
            code,
            message: message.into(),
            info: HashMap::new(),
            field: None,
            retry_after: None,
        }
    }

    fn info(mut self, key: &str, value: impl Into<String>) -> Self {
        self.info.insert(key.to_owned(), value.into());
        self
    }

    fn retry(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }
}

impl From<ApiError> for Status {
    /// The one conversion to a gRPC status. Internal causes are logged here,
    /// with the request's span, and answered with a fixed text.
    fn from(err: ApiError) -> Self {
        let reason = err.reason();
        let mut answer = answer(err);
        answer.message = bounded(answer.message, MAX_TEXT);
        answer.field = answer.field.map(|f| bounded(f, MAX_TEXT));
        if answer.code != reason.code() {
            // A bug of ours (a reason given to the wrong variant): answered
            // as it is, never a panic; the role matrix checks every pair.
            tracing::error!(%reason, code = ?answer.code, "a reason answered with another code");
        }
        let mut details = ErrorDetails::with_error_info(reason.as_str(), DOMAIN, answer.info);
        if let Some(field) = answer.field {
            details.add_bad_request_violation(field, answer.message.clone());
        }
        let mut metadata = MetadataMap::new();
        if let Some(after) = answer.retry_after {
            details.set_retry_info(Some(after));
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            if let Ok(value) = secs.max(1).to_string().parse() {
                metadata.insert("retry-after", value);
            }
        }
        Status::with_error_details_and_metadata(answer.code, answer.message, details, metadata)
    }
}

/// The longest message or field path answered, in bytes: both travel in
/// response headers (`grpc-message`, `grpc-status-details-bin`), where a
/// text built from the caller's input could outgrow what an HTTP/2 client
/// accepts and cost every call on its connection.
const MAX_TEXT: usize = 512;

/// `text`, cut to `max` bytes at a character boundary (marked with `…`).
fn bounded(text: std::borrow::Cow<'static, str>, max: usize) -> std::borrow::Cow<'static, str> {
    if text.len() <= max {
        return text;
    }
    let cut = (0..=max)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}…", &text[..cut]).into()
}

/// Every variant, answered (exhaustive: a new variant must say what it
/// answers).
fn answer(err: ApiError) -> Answer {
    match err {
        ApiError::InvalidArgument {
            field,
            reason,
            message,
        } => {
            let mut a = Answer::new(Code::InvalidArgument, message);
            if matches!(reason, Reason::OrgHeaderRequired | Reason::OrgHeaderInvalid) {
                a = a.info("header", ochre_sdk::ORG_HEADER);
            }
            a.field = field;
            a
        }
        ApiError::Unauthenticated(_, m) => Answer::new(Code::Unauthenticated, m),
        ApiError::PermissionDenied(_, m) => Answer::new(Code::PermissionDenied, m),
        ApiError::NotFound(_, m) => Answer::new(Code::NotFound, m),
        ApiError::AlreadyExists(_, m) => Answer::new(Code::AlreadyExists, m),
        ApiError::FailedPrecondition(_, m) => Answer::new(Code::FailedPrecondition, m),
        ApiError::PendingDeletion { purge_after } => {
            let when = purge_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            Answer::new(
                Code::FailedPrecondition,
                format!(
                    "this workspace is scheduled for deletion: it will be purged after {when}; \
                     an owner can restore it until then"
                ),
            )
            .info("purge_after", when)
        }
        ApiError::ResourceExhausted(_, m) => Answer::new(Code::ResourceExhausted, m),
        ApiError::Throttled {
            message,
            retry_after,
            ..
        } => Answer::new(Code::ResourceExhausted, message).retry(retry_after),
        ApiError::BudgetExhausted {
            kind,
            remaining,
            requested,
        } => Answer::new(
            Code::ResourceExhausted,
            format!(
                "the {kind} budget has {remaining} remaining in this period; \
                 {requested} were requested"
            ),
        )
        .info("kind", kind)
        .info("remaining", remaining.to_string())
        .info("requested", requested.to_string()),
        ApiError::Unavailable(_, m) => Answer::new(Code::Unavailable, m),
        ApiError::UnavailableFor {
            message,
            retry_after,
            ..
        } => Answer::new(Code::Unavailable, message).retry(retry_after),
        ApiError::Unimplemented(m) => Answer::new(Code::Unimplemented, m),
        ApiError::DeadlineExceeded => Answer::new(
            Code::DeadlineExceeded,
            "the call did not finish within its deadline; a create may be retried with its \
             request_id",
        ),
        ApiError::DatabaseUnavailable(e) => {
            tracing::warn!(error = %crate::db::safe_text(&e), "database unavailable");
            Answer::new(
                Code::Unavailable,
                "the service is temporarily unavailable: retry",
            )
        }
        ApiError::Database(e) => {
            tracing::error!(error = %crate::db::safe_text(&e), "internal error");
            Answer::new(Code::Internal, "internal error")
        }
        other @ (ApiError::Vault(_) | ApiError::PasswordHash(_) | ApiError::Corrupt(_)) => {
            tracing::error!(error = %causes(&other), "internal error");
            Answer::new(Code::Internal, "internal error")
        }
    }
}

/// An error and its causes, each by its `Display` (no `Debug`: it may hold
/// statement parameters).
fn causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod bounded_tests {
    use super::*;

    #[test]
    fn a_long_message_or_field_is_cut_at_a_character_boundary() {
        let huge = ApiError::invalid_field("é".repeat(10_000), "ü".repeat(100_000));
        let status = Status::from(huge);
        assert!(status.message().len() <= MAX_TEXT + '…'.len_utf8());
        assert!(status.message().ends_with('…'));
        let fields = tonic_types::StatusExt::get_details_bad_request(&status)
            .map(|b| b.field_violations[0].field.len());
        assert!(fields.is_some_and(|n| n <= MAX_TEXT + 3));
        let short = Status::from(ApiError::invalid_field("name", "name is required"));
        assert_eq!(short.message(), "name is required");
    }
}
