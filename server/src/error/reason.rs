//! The machine-readable reasons of every refusal, in ONE list: each is
//! answered as the `reason` of a `google.rpc.ErrorInfo` detail (domain
//! [`DOMAIN`]) with exactly one gRPC code. The README's error table lists
//! the same reasons with the same codes (a test compares them). A reason,
//! once published, never changes its text or its code.

use tonic::Code;

/// The `domain` of every `google.rpc.ErrorInfo` the server answers.
pub const DOMAIN: &str = "ochre.v1";

macro_rules! reasons {
    ($( $(#[doc = $doc:literal])+ $variant:ident = $text:literal, $code:ident; )+) => {
        /// A stable, machine-readable reason for a refusal (UPPER_SNAKE_CASE).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Reason {
            /// Every reason, in the order of the README table.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),+];

            /// The reason as answered (`ErrorInfo.reason`).
            pub const fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $text,)+ }
            }

            /// The one gRPC code answered with this reason.
            pub const fn code(self) -> Code {
                match self { $(Reason::$variant => Code::$code,)+ }
            }
        }
    };
}

reasons! {
    /// A required field is empty; the BadRequest detail names it.
    FieldRequired = "FIELD_REQUIRED", InvalidArgument;
    /// A field's value is refused; the BadRequest detail names it.
    FieldInvalid = "FIELD_INVALID", InvalidArgument;
    /// The database refused a value whose field is not known here.
    ValueInvalid = "VALUE_INVALID", InvalidArgument;
    /// The request body does not decode as the method's request message
    /// (bad wire format, invalid UTF-8 in a string, nesting too deep).
    MessageMalformed = "MESSAGE_MALFORMED", InvalidArgument;
    /// The create's `request_id` was already used for a different request
    /// (or in another org); the BadRequest detail names `request_id`.
    RequestIdReused = "REQUEST_ID_REUSED", InvalidArgument;
    /// The method acts on an org and the `x-ochre-org` header is missing.
    OrgHeaderRequired = "ORG_HEADER_REQUIRED", InvalidArgument;
    /// The `x-ochre-org` header is not an org id (UUID).
    OrgHeaderInvalid = "ORG_HEADER_INVALID", InvalidArgument;
    /// No `authorization` header.
    CredentialsMissing = "CREDENTIALS_MISSING", Unauthenticated;
    /// The `authorization` header is not `Bearer` and a known credential.
    CredentialsMalformed = "CREDENTIALS_MALFORMED", Unauthenticated;
    /// The access token's signature or contents are not valid.
    AccessTokenInvalid = "ACCESS_TOKEN_INVALID", Unauthenticated;
    /// The access token has expired: refresh the session.
    AccessTokenExpired = "ACCESS_TOKEN_EXPIRED", Unauthenticated;
    /// The session was logged out, revoked or changed: sign in again.
    SessionEnded = "SESSION_ENDED", Unauthenticated;
    /// The API key is unknown, revoked or expired.
    ApiKeyInvalid = "API_KEY_INVALID", Unauthenticated;
    /// Sign-in refused: the email or the password is wrong (one answer).
    LoginFailed = "LOGIN_FAILED", Unauthenticated;
    /// The second-factor sign-in ticket is unknown, spent or expired.
    LoginTicketInvalid = "LOGIN_TICKET_INVALID", Unauthenticated;
    /// The refresh token is unknown or expired.
    RefreshTokenInvalid = "REFRESH_TOKEN_INVALID", Unauthenticated;
    /// The refresh token was already used: the session is revoked (signed out).
    RefreshTokenReused = "REFRESH_TOKEN_REUSED", Unauthenticated;
    /// A current two-step verification code is required (or was wrong).
    TotpRequired = "TOTP_REQUIRED", Unauthenticated;
    /// Re-authentication refused: the password or the code is wrong (one answer).
    ReauthFailed = "REAUTH_FAILED", Unauthenticated;
    /// The caller has no role in the org named (or it does not exist).
    NotAMember = "NOT_A_MEMBER", PermissionDenied;
    /// The caller's role in the org may not call this method.
    RoleNotAllowed = "ROLE_NOT_ALLOWED", PermissionDenied;
    /// API keys may not call this method (it is for people).
    ApiKeyNotAllowed = "API_KEY_NOT_ALLOWED", PermissionDenied;
    /// The org's IP allowlist refuses the caller's address.
    IpNotAllowed = "IP_NOT_ALLOWED", PermissionDenied;
    /// The role asked for is above what the caller may grant.
    RoleTooHigh = "ROLE_TOO_HIGH", PermissionDenied;
    /// The OAuth state was issued to another user or org.
    OauthStateMismatch = "OAUTH_STATE_MISMATCH", PermissionDenied;
    /// Members of an org cannot answer its surveys.
    StaffCannotAnswer = "STAFF_CANNOT_ANSWER", PermissionDenied;
    /// Refused by a rule of the database.
    PermissionDenied = "PERMISSION_DENIED", PermissionDenied;
    /// The thing does not exist, or the caller may not know it does.
    NotFound = "NOT_FOUND", NotFound;
    /// A unique value is already taken.
    AlreadyExists = "ALREADY_EXISTS", AlreadyExists;
    /// An account with this email already exists.
    EmailTaken = "EMAIL_TAKEN", AlreadyExists;
    /// The idempotency key names an earlier request with other parameters.
    IdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED", AlreadyExists;
    /// The org is pending deletion (metadata `purge_after`).
    WorkspacePendingDeletion = "WORKSPACE_PENDING_DELETION", FailedPrecondition;
    /// Two-step verification is already enabled.
    TotpAlreadyEnabled = "TOTP_ALREADY_ENABLED", FailedPrecondition;
    /// Two-step verification is not enabled.
    TotpNotEnabled = "TOTP_NOT_ENABLED", FailedPrecondition;
    /// No two-step enrollment is in progress: call EnrollTotp first.
    TotpNotEnrolling = "TOTP_NOT_ENROLLING", FailedPrecondition;
    /// The caller is the only owner of an org: transfer ownership first.
    SoleOwner = "SOLE_OWNER", FailedPrecondition;
    /// The IP allowlist would exclude the caller's own address.
    AllowlistExcludesCaller = "ALLOWLIST_EXCLUDES_CALLER", FailedPrecondition;
    /// The integration provider is not configured on this server.
    ProviderNotConfigured = "PROVIDER_NOT_CONFIGURED", FailedPrecondition;
    /// The OAuth state was already used or has expired.
    OauthStateUsed = "OAUTH_STATE_USED", FailedPrecondition;
    /// The provider refused the authorization or answered unusably.
    ProviderRefused = "PROVIDER_REFUSED", FailedPrecondition;
    /// The survey has already been answered.
    SurveyAnswered = "SURVEY_ANSWERED", FailedPrecondition;
    /// The survey link has expired.
    SurveyLinkExpired = "SURVEY_LINK_EXPIRED", FailedPrecondition;
    /// The survey link was replaced by a newer one.
    SurveyLinkReplaced = "SURVEY_LINK_REPLACED", FailedPrecondition;
    /// Refused by a state check of the database.
    FailedPrecondition = "FAILED_PRECONDITION", FailedPrecondition;
    /// A rate limit refused the call for now (RetryInfo).
    RateLimited = "RATE_LIMITED", ResourceExhausted;
    /// Too many failed sign-ins: locked for now (RetryInfo).
    LoginLocked = "LOGIN_LOCKED", ResourceExhausted;
    /// Too many failed re-authentications: locked for now (RetryInfo).
    ReauthLocked = "REAUTH_LOCKED", ResourceExhausted;
    /// The password-hashing pool is full: retry in a moment (RetryInfo).
    HashingBusy = "HASHING_BUSY", ResourceExhausted;
    /// A bounded pool of the server is full: retry in a moment (RetryInfo).
    ServerBusy = "SERVER_BUSY", ResourceExhausted;
    /// A consumption budget has no room (metadata `kind`, `remaining`, `requested`; no RetryInfo).
    BudgetExhausted = "BUDGET_EXHAUSTED", ResourceExhausted;
    /// The workspace is too large to export in one archive (no RetryInfo).
    ExportTooLarge = "EXPORT_TOO_LARGE", ResourceExhausted;
    /// The request message is larger than the server accepts (no RetryInfo).
    MessageTooLarge = "MESSAGE_TOO_LARGE", ResourceExhausted;
    /// The integration provider could not be reached: retry.
    ProviderUnavailable = "PROVIDER_UNAVAILABLE", Unavailable;
    /// The provider's circuit breaker is open (RetryInfo).
    ProviderBreakerOpen = "PROVIDER_BREAKER_OPEN", Unavailable;
    /// The database is unavailable for now: retry.
    DatabaseUnavailable = "DATABASE_UNAVAILABLE", Unavailable;
    /// The call did not finish within its deadline (`grpc-timeout`, at most 60 s).
    DeadlineExceeded = "DEADLINE_EXCEEDED", DeadlineExceeded;
    /// The path is not a method of the contract.
    UnknownMethod = "UNKNOWN_METHOD", Unimplemented;
    /// An internal error (logged on the server; nothing is shown).
    Internal = "INTERNAL", Internal;
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn reasons_are_unique_upper_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            let s = r.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{s}"
            );
            assert_ne!(r.code(), tonic::Code::Ok, "{s}");
        }
    }
}
