//! Page tokens: opaque, MAC-protected, and bound to the org, the list they
//! came from and its filter, so a token from one org (or one query) is
//! useless in another. The token carries only the last id of the page.

use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::{crypto::envelope::Envelope, error::ApiError, ids::OrgId};

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// version + kind + org + filter digest + last id.
const BODY_LEN: usize = 1 + 1 + 16 + 8 + 16;

/// The lists that page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ListKind {
    Customers = 1,
    Conversations = 2,
    Messages = 3,
    WebhookEvents = 4,
    SurveyResponses = 5,
    AuditEvents = 6,
}

/// Signs and checks page tokens.
#[derive(Debug, Clone)]
pub struct Pager {
    envelope: Envelope,
}

/// Default and maximum page sizes.
pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: i32 = 100;

/// Validates a page size: 0 means the default.
pub fn page_size(requested: i32) -> Result<u64, ApiError> {
    match requested {
        0 => Ok(DEFAULT_PAGE),
        1..=MAX_PAGE => Ok(requested as u64),
        _ => Err(ApiError::invalid_field(
            "page_size",
            format!("page_size must be between 1 and {MAX_PAGE}"),
        )),
    }
}

fn invalid() -> ApiError {
    ApiError::invalid_field("page_token", "page_token is not valid for this request")
}

impl Pager {
    /// A pager keyed from the session secret (domain-separated).
    pub fn new(secret: &SecretString) -> Option<Self> {
        Envelope::new(secret, b"ochre page token v1", "", 200).map(|envelope| Pager { envelope })
    }

    fn body(kind: ListKind, org: OrgId, filter: &str, last: Uuid) -> Vec<u8> {
        let mut body = Vec::with_capacity(BODY_LEN);
        body.push(VERSION);
        body.push(kind as u8);
        body.extend_from_slice(org.uuid().as_bytes());
        body.extend_from_slice(&Sha256::digest(filter.as_bytes())[..8]);
        body.extend_from_slice(last.as_bytes());
        body
    }

    /// The token that continues after `last`.
    pub fn issue(&self, kind: ListKind, org: OrgId, filter: &str, last: Uuid) -> String {
        self.envelope
            .seal_compact(&Self::body(kind, org, filter, last), TAG_LEN)
    }

    /// Cuts `rows`, fetched with a limit of `size + 1`, to `size`, and
    /// returns the token of the next page ("" on the last one). `cut` says
    /// the query stopped early on its own (more follow even with fewer rows).
    #[allow(clippy::too_many_arguments)]
    pub fn finish<T, I: Into<Uuid>>(
        &self,
        rows: &mut Vec<T>,
        size: u64,
        cut: bool,
        kind: ListKind,
        org: OrgId,
        filter: &str,
        id: impl Fn(&T) -> I,
    ) -> String {
        let more = cut || rows.len() as u64 > size;
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        match rows.last() {
            Some(last) if more => self.issue(kind, org, filter, id(last).into()),
            _ => String::new(),
        }
    }

    /// The last id of the previous page, or None for the first page.
    pub fn resume<I: From<Uuid>>(
        &self,
        token: &str,
        kind: ListKind,
        org: OrgId,
        filter: &str,
    ) -> Result<Option<I>, ApiError> {
        if token.is_empty() {
            return Ok(None);
        }
        let body = self
            .envelope
            .open_compact(token, BODY_LEN, TAG_LEN)
            .map_err(|_| invalid())?;
        let last = Uuid::from_slice(&body[BODY_LEN - 16..]).map_err(|_| invalid())?;
        if Self::body(kind, org, filter, last) != body {
            return Err(invalid());
        }
        Ok(Some(I::from(last)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

    use super::*;

    fn pager() -> Pager {
        Pager::new(&SecretString::from("x".repeat(40))).unwrap()
    }

    #[test]
    fn a_token_resumes_only_its_own_org_list_and_filter() {
        let (p, org, other, last) = (
            pager(),
            OrgId::generate(),
            OrgId::generate(),
            Uuid::now_v7(),
        );
        let t = p.issue(ListKind::Conversations, org, "status=open", last);
        assert_eq!(
            p.resume::<Uuid>(&t, ListKind::Conversations, org, "status=open")
                .unwrap(),
            Some(last)
        );
        assert!(
            p.resume::<Uuid>(&t, ListKind::Conversations, other, "status=open")
                .is_err()
        );
        assert!(
            p.resume::<Uuid>(&t, ListKind::Customers, org, "status=open")
                .is_err()
        );
        assert!(
            p.resume::<Uuid>(&t, ListKind::Conversations, org, "status=closed")
                .is_err()
        );
    }

    #[test]
    fn a_tampered_or_foreign_token_is_refused() {
        let (p, org, last) = (pager(), OrgId::generate(), Uuid::now_v7());
        let t = p.issue(ListKind::Messages, org, "", last);
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let bad = URL_SAFE_NO_PAD.encode(&raw);
            assert!(
                p.resume::<Uuid>(&bad, ListKind::Messages, org, "").is_err(),
                "byte {i}"
            );
            raw[i] ^= 1;
        }
        let other = Pager::new(&SecretString::from("y".repeat(40))).unwrap();
        assert!(
            other
                .resume::<Uuid>(&t, ListKind::Messages, org, "")
                .is_err()
        );
        for junk in ["x", "!!!", &"A".repeat(500)] {
            assert!(p.resume::<Uuid>(junk, ListKind::Messages, org, "").is_err());
        }
    }
}
