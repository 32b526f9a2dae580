//! Page tokens: opaque, MAC-protected, and bound to the scope (the org, or
//! the user for a user's own lists), the list they came from and its
//! filter, so a token from one org (or one query) is useless in another.
//! The token carries only the last id of the page.
//!
//! Every list RPC pages (AIP-158): `page_size` 0 is the list's default, a
//! size over the maximum is coerced to the maximum, a negative one is
//! refused.

use secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::{
    crypto::envelope::Envelope,
    error::ApiError,
    ids::{OrgId, UserId},
};

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
    Members = 7,
    Invitations = 8,
    ApiKeys = 9,
    Integrations = 10,
    MyOrgs = 11,
    Sessions = 12,
    Providers = 13,
    AccessRules = 14,
}

impl ListKind {
    /// The page size when the request gives none: the static catalogs
    /// (providers, access rules) fit one page of the maximum.
    pub fn default_page(self) -> u64 {
        match self {
            ListKind::Providers | ListKind::AccessRules => MAX_PAGE as u64,
            _ => DEFAULT_PAGE,
        }
    }
}

/// What a page token is bound to besides its list: the org of an org's
/// list, the user of a user's own list (their orgs, their sessions), or
/// nothing for a public catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageScope(Uuid);

impl PageScope {
    /// The scope of a catalog everyone sees alike.
    pub const PUBLIC: PageScope = PageScope(Uuid::nil());
}

impl From<OrgId> for PageScope {
    fn from(org: OrgId) -> Self {
        PageScope(org.uuid())
    }
}

impl From<UserId> for PageScope {
    fn from(user: UserId) -> Self {
        PageScope(user.uuid())
    }
}

/// Signs and checks page tokens.
#[derive(Debug, Clone)]
pub struct Pager {
    envelope: Envelope,
}

/// Default and maximum page sizes.
pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: i32 = 100;

/// The page size of a request to a list with the default page: 0 means
/// the default, more than the maximum is the maximum.
pub fn page_size(requested: i32) -> Result<u64, ApiError> {
    page_size_of(requested, DEFAULT_PAGE)
}

/// The page size of a request: 0 means `default`, more than the maximum is
/// coerced to the maximum (AIP-158), a negative size is refused.
pub fn page_size_of(requested: i32, default: u64) -> Result<u64, ApiError> {
    match requested {
        0 => Ok(default),
        1..=MAX_PAGE => Ok(requested as u64),
        n if n > MAX_PAGE => Ok(MAX_PAGE as u64),
        _ => Err(ApiError::invalid_field(
            "page_size",
            "page_size must not be negative",
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

    fn body(kind: ListKind, scope: PageScope, filter: &str, last: Uuid) -> Vec<u8> {
        let mut body = Vec::with_capacity(BODY_LEN);
        body.push(VERSION);
        body.push(kind as u8);
        body.extend_from_slice(scope.0.as_bytes());
        body.extend_from_slice(&Sha256::digest(filter.as_bytes())[..8]);
        body.extend_from_slice(last.as_bytes());
        body
    }

    /// The token that continues after `last`.
    pub fn issue(
        &self,
        kind: ListKind,
        scope: impl Into<PageScope>,
        filter: &str,
        last: Uuid,
    ) -> String {
        self.envelope
            .seal_compact(&Self::body(kind, scope.into(), filter, last), TAG_LEN)
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
        scope: impl Into<PageScope>,
        filter: &str,
        id: impl Fn(&T) -> I,
    ) -> String {
        let more = cut || rows.len() as u64 > size;
        rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
        match rows.last() {
            Some(last) if more => self.issue(kind, scope, filter, id(last).into()),
            _ => String::new(),
        }
    }

    /// The last id of the previous page, or None for the first page.
    pub fn resume<I: From<Uuid>>(
        &self,
        token: &str,
        kind: ListKind,
        scope: impl Into<PageScope>,
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
        if Self::body(kind, scope.into(), filter, last) != body {
            return Err(invalid());
        }
        Ok(Some(I::from(last)))
    }
}

impl Pager {
    /// One page of a fixed catalog (the same for every caller, in a fixed
    /// order): the token carries the position after the page.
    pub fn page_of<'a, T>(
        &self,
        items: &'a [T],
        token: &str,
        kind: ListKind,
        size: u64,
    ) -> Result<(&'a [T], String), ApiError> {
        let start = match self.resume::<Uuid>(token, kind, PageScope::PUBLIC, "")? {
            None => 0,
            Some(at) => usize::try_from(at.as_u128()).map_err(|_| invalid())?,
        };
        let rest = items.get(start..).ok_or_else(invalid)?;
        let take = rest.len().min(usize::try_from(size).unwrap_or(usize::MAX));
        let next = if take < rest.len() {
            let after = (start + take) as u128;
            self.issue(kind, PageScope::PUBLIC, "", Uuid::from_u128(after))
        } else {
            String::new()
        };
        Ok((&rest[..take], next))
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
    fn a_page_size_over_the_maximum_is_coerced_and_a_negative_one_refused() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(10_000).unwrap(), MAX_PAGE as u64);
        assert_eq!(page_size(i32::MAX).unwrap(), MAX_PAGE as u64);
        assert!(page_size(-1).is_err());
        assert_eq!(
            page_size_of(0, ListKind::AccessRules.default_page()).unwrap(),
            MAX_PAGE as u64
        );
    }

    #[test]
    fn a_catalog_pages_in_order_and_its_token_fits_no_other_list() {
        let p = pager();
        let items: Vec<u32> = (0..7).collect();
        let (first, token) = p.page_of(&items, "", ListKind::Providers, 3).unwrap();
        assert_eq!(first, &[0, 1, 2]);
        let (second, token) = p.page_of(&items, &token, ListKind::Providers, 3).unwrap();
        assert_eq!(second, &[3, 4, 5]);
        let (last, end) = p.page_of(&items, &token, ListKind::Providers, 3).unwrap();
        assert_eq!((last, end.as_str()), (&[6][..], ""));
        assert!(p.page_of(&items, &token, ListKind::AccessRules, 3).is_err());
        let user = UserId::from(Uuid::now_v7());
        let t = p.issue(ListKind::Sessions, user, "", Uuid::now_v7());
        assert!(
            p.resume::<Uuid>(&t, ListKind::Sessions, UserId::from(Uuid::now_v7()), "")
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
