//! Reading the `google.rpc` details of a refusal (`ErrorInfo` reason,
//! `BadRequest` field violations, `RetryInfo`), the reasons the README's
//! error table lists, and the reason the gate must give each refused cell of
//! the role matrix.

use std::time::Duration;

use ochre_sdk::access::Rule;
use ochre_server::error::{DOMAIN, Reason};
use tonic::{Code, Status};
use tonic_types::StatusExt as _;

use crate::matrix::{CallerKind, Expect, Outcome};

/// What a call answered, with its details decoded.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub code: Option<Code>,
    pub message: String,
    /// `ErrorInfo.reason` (None without an ErrorInfo in the `ochre.v1` domain).
    pub reason: Option<String>,
    /// The fields `BadRequest` names.
    pub fields: Vec<String>,
}

impl Reply {
    /// The reply of a refusal.
    pub fn of(status: &Status) -> Reply {
        Reply {
            code: Some(status.code()),
            message: status.message().to_owned(),
            reason: reason(status),
            fields: fields(status),
        }
    }
}

/// The `ErrorInfo` reason of a status, when its domain is `ochre.v1`.
pub fn reason(status: &Status) -> Option<String> {
    let info = status.get_details_error_info()?;
    (info.domain == DOMAIN).then_some(info.reason)
}

/// The fields a status's `BadRequest` detail names, in order.
pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The `RetryInfo` delay of a status, checked to agree with its
/// `retry-after` metadata (whole seconds, at least 1).
pub fn retry_delay(status: &Status) -> Option<Duration> {
    let delay = status.get_details_retry_info()?.retry_delay?;
    let header: u64 = status
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after metadata beside the RetryInfo");
    assert_eq!(header, delay.as_secs_f64().ceil().max(1.0) as u64);
    Some(delay)
}

/// A code's canonical name (`INVALID_ARGUMENT`).
pub fn code_name(code: Code) -> String {
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The rows of the README's error table: (reason, code name).
pub fn readme_reasons() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("| Reason | Code |"));
    lines
        .next()
        .expect("the README has a `| Reason | Code |` table");
    lines
        .skip(1)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(|c| c.trim().trim_matches('`')).collect();
            (cells[1].to_owned(), cells[2].to_owned())
        })
        .collect()
}

/// The reason the gate answers a refused cell of the role matrix.
pub fn gate_reason(rule: Rule, caller: CallerKind) -> Option<Reason> {
    use CallerKind as C;
    let reason = match caller {
        C::Anonymous => Reason::CredentialsMissing,
        C::Malformed | C::Tampered => Reason::AccessTokenInvalid,
        C::Expired => Reason::AccessTokenExpired,
        C::RevokedSession => Reason::SessionEnded,
        C::RevokedApiKey => Reason::ApiKeyInvalid,
        // Methods for people: no org is named, any valid key is refused.
        _ if rule == Rule::Authenticated => Reason::ApiKeyNotAllowed,
        C::OwnerWithoutOrg => Reason::OrgHeaderRequired,
        C::OwnerUnknownOrg | C::OtherOrgMember | C::ApiKeyOtherOrg => Reason::NotAMember,
        C::Member(_) | C::ApiKey(_) | C::ApiKeyWithoutOrg => Reason::RoleNotAllowed,
    };
    (rule != Rule::Public).then_some(reason)
}

/// What is wrong with the details of one cell's answer, if anything: every
/// refusal carries a reason of the one list with its code, a gate refusal
/// the reason its caller calls for, and a field reason names the field.
pub fn detail_problem(o: &Outcome) -> Option<String> {
    if o.code == Code::Ok || o.cell.expect == Expect::Unchecked {
        return None;
    }
    let at = format!("{} as {}", o.cell.method, o.cell.caller.label());
    let Some(seen) = o.reply.reason.as_deref() else {
        return Some(format!("{at}: {:?} without an ErrorInfo reason", o.code));
    };
    let Some(known) = Reason::ALL.iter().find(|r| r.as_str() == seen) else {
        return Some(format!("{at}: {seen} is not a reason of the list"));
    };
    if known.code() != o.code {
        return Some(format!("{at}: {seen} answered with {:?}", o.code));
    }
    if let Expect::Refused(_) = o.cell.expect
        && gate_reason(o.cell.rule, o.cell.caller) != Some(*known)
    {
        let want = gate_reason(o.cell.rule, o.cell.caller);
        return Some(format!("{at}: the gate answered {seen}, not {want:?}"));
    }
    let names_field = matches!(known, Reason::FieldRequired | Reason::FieldInvalid);
    let has_fields = !o.reply.fields.is_empty();
    if names_field != has_fields {
        return Some(format!("{at}: {seen} with fields {:?}", o.reply.fields));
    }
    None
}
