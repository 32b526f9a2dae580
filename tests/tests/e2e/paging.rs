//! Every list RPC pages (AIP-158): the contract says so for every `List*`
//! method (found in the descriptors, so a new list is covered), each list
//! walks page by page through exactly what one big page holds, a page size
//! of 10,000 is coerced to the maximum rather than refused, a negative one
//! is refused, and a token fits only the list and the org or user it came
//! from.

use std::collections::HashSet;

use ochre_sdk::v1::{
    ListAccessRulesRequest, ListApiKeysRequest, ListIntegrationsRequest, ListInvitationsRequest,
    ListMembersRequest, ListMyOrgsRequest, ListProvidersRequest, ListSessionsRequest,
};
use ochre_tests::{identity::invite, identity::login_again, prelude::*};
use prost_reflect::{DescriptorPool, Kind};

/// The largest page the server gives (`rpc/pager.rs`).
const MAX_PAGE: usize = 100;

#[test]
fn every_list_method_of_the_contract_takes_a_page_size_and_token_and_answers_a_next_token() {
    let pool = DescriptorPool::decode(ochre_sdk::FILE_DESCRIPTOR_SET).unwrap();
    let mut lists = 0;
    for method in pool
        .services()
        .flat_map(|s| s.methods().collect::<Vec<_>>())
    {
        if !method.name().starts_with("List") {
            continue;
        }
        lists += 1;
        let (input, output) = (method.input(), method.output());
        let kind = |m: &prost_reflect::MessageDescriptor, f: &str| {
            m.get_field_by_name(f).map(|f| f.kind())
        };
        let name = method.full_name();
        assert!(
            matches!(kind(&input, "page_size"), Some(Kind::Int32)),
            "{name}: no int32 page_size"
        );
        assert!(
            matches!(kind(&input, "page_token"), Some(Kind::String)),
            "{name}: no string page_token"
        );
        assert!(
            matches!(kind(&output, "next_page_token"), Some(Kind::String)),
            "{name}: no string next_page_token"
        );
    }
    assert!(lists >= 14, "found only {lists} list methods");
}

/// Walks a list with `size` per page; the ids in order.
macro_rules! walk {
    ($size:expr, |$token:ident| $call:expr, |$page:ident| $ids:expr) => {{
        let mut all: Vec<String> = Vec::new();
        let mut $token = String::new();
        let mut pages = 0;
        loop {
            let $page = $call.await.expect("a page").into_inner();
            let next = $page.next_page_token.clone();
            all.extend($ids);
            pages += 1;
            assert!(pages < 1000, "the pages do not end");
            if next.is_empty() {
                break;
            }
            $token = next;
        }
        (all, pages)
    }};
}

/// Checks one list: pages of one, one page of 10,000 (coerced), the same
/// ids, no duplicate, `expected` of them at least.
macro_rules! check_list {
    ($what:expr, $expected:expr, |$size:ident, $token:ident| $call:expr, |$page:ident| $ids:expr) => {{
        let $size = 1;
        let (one_by_one, pages) = walk!($size, |$token| $call, |$page| $ids);
        let $size = 10_000;
        let (at_once, big_pages) = walk!($size, |$token| $call, |$page| $ids);
        assert_eq!(
            big_pages, 1,
            "{}: 10,000 is coerced to one page of the maximum",
            $what
        );
        assert!(
            at_once.len() <= MAX_PAGE,
            "{}: a page holds at most {MAX_PAGE}",
            $what
        );
        assert_eq!(
            one_by_one, at_once,
            "{}: the pages of one hold the big page",
            $what
        );
        assert_eq!(pages, one_by_one.len(), "{}: one per page", $what);
        let unique: HashSet<&String> = one_by_one.iter().collect();
        assert_eq!(unique.len(), one_by_one.len(), "{}: no duplicate", $what);
        assert!(
            one_by_one.len() >= $expected,
            "{}: {} < {}",
            $what,
            one_by_one.len(),
            $expected
        );
        one_by_one
    }};
}

#[tokio::test]
async fn each_list_pages_one_by_one_through_what_a_coerced_page_of_ten_thousand_holds() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Paged").await;
    for name in ["Second", "Third"] {
        create_org(&app, &owner, name).await;
    }
    for _ in 0..2 {
        add_member(&app, &owner, &org, Role::Agent).await;
        invite(&app, &owner, &org, &unique_email(), Role::Agent)
            .await
            .unwrap();
        create_api_key(&app, &owner, &org, Role::Agent)
            .await
            .unwrap();
        login_again(&app, &owner).await;
    }
    crate::vault::connect(
        &app,
        &owner,
        &org,
        "anthropic",
        &[("api_key", "sk-ant-FAKE1")],
    )
    .await;
    crate::vault::connect(&app, &owner, &org, "openai", &[("api_key", "sk-FAKE2")]).await;
    let (token, o) = (owner.access_token.as_str(), Some(org.as_str()));

    let mut members = app.client::<MemberClient>();
    let ids = check_list!(
        "members",
        3,
        |size, t| members.list_members(with_auth(
            ListMembersRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            o
        )),
        |p| p.members.iter().map(|m| m.user_id.clone())
    );
    assert!(ids.contains(&owner.user_id));
    check_list!(
        "invitations",
        4,
        |size, t| members.list_invitations(with_auth(
            ListInvitationsRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            o
        )),
        |p| p.invitations.iter().map(|i| i.id.clone())
    );
    let mut keys = app.client::<ApiKeyClient>();
    check_list!(
        "api keys",
        2,
        |size, t| keys.list_api_keys(with_auth(
            ListApiKeysRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            o
        )),
        |p| p.api_keys.iter().map(|k| k.id.clone())
    );
    let mut integrations = app.client::<IntegrationClient>();
    check_list!(
        "integrations",
        2,
        |size, t| integrations.list_integrations(with_auth(
            ListIntegrationsRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            o
        )),
        |p| p.integrations.iter().map(|i| i.id.clone())
    );
    check_list!(
        "providers",
        3,
        |size, t| integrations.list_providers(with_auth(
            ListProvidersRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            o
        )),
        |p| p.providers.iter().map(|p| p.id.clone())
    );
    let mut orgs = app.client::<OrgClient>();
    let mine = check_list!(
        "my orgs",
        3,
        |size, t| orgs.list_my_orgs(with_auth(
            ListMyOrgsRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            None
        )),
        |p| p.memberships.iter().map(|m| m.org.clone().unwrap().id)
    );
    assert_eq!(mine.len(), 3);
    let mut auth = app.client::<AuthClient>();
    let sessions = check_list!(
        "sessions",
        3,
        |size, t| auth.list_sessions(with_auth(
            ListSessionsRequest {
                page_size: size,
                page_token: t.clone()
            },
            token,
            None
        )),
        |p| p.sessions.iter().map(|s| s.id.clone())
    );
    assert_eq!(sessions.len(), 3);
    let mut system = app.client::<SystemClient>();
    let rules = check_list!(
        "access rules",
        1,
        |size, t| system.list_access_rules(ListAccessRulesRequest {
            page_size: size,
            page_token: t.clone()
        }),
        |p| p.rules.iter().map(|r| r.method.clone())
    );
    assert_eq!(rules.len(), ochre_sdk::access::ACCESS_RULES.len());
}

#[tokio::test]
async fn a_negative_page_size_is_refused_and_a_token_fits_only_its_own_list_and_caller() {
    let app = spawn_app().await;
    let owner = signup_and_login(&app, &unique_email()).await;
    let org = create_org(&app, &owner, "Tokens").await;
    create_org(&app, &owner, "Tokens 2").await;
    add_member(&app, &owner, &org, Role::Admin).await;
    let other = signup_and_login(&app, &unique_email()).await;
    create_org(&app, &other, "Other 1").await;
    create_org(&app, &other, "Other 2").await;
    let (token, o) = (owner.access_token.as_str(), Some(org.as_str()));

    let mut members = app.client::<MemberClient>();
    let negative = ListMembersRequest {
        page_size: -1,
        ..Default::default()
    };
    let refused = members.list_members(with_auth(negative, token, o)).await;
    assert_eq!(code_of(&refused), Code::InvalidArgument);

    let first = ListMembersRequest {
        page_size: 1,
        ..Default::default()
    };
    let members_token = members
        .list_members(with_auth(first, token, o))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!members_token.is_empty());
    // The members' token on another list of the same org.
    let on_keys = ListApiKeysRequest {
        page_size: 1,
        page_token: members_token,
    };
    let refused = app
        .client::<ApiKeyClient>()
        .list_api_keys(with_auth(on_keys, token, o))
        .await;
    assert_eq!(code_of(&refused), Code::InvalidArgument);

    // The owner's "my orgs" token presented by another user.
    let mut orgs = app.client::<OrgClient>();
    let first = ListMyOrgsRequest {
        page_size: 1,
        ..Default::default()
    };
    let mine = orgs
        .list_my_orgs(with_auth(first, token, None))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    assert!(!mine.is_empty());
    let theirs = ListMyOrgsRequest {
        page_size: 1,
        page_token: mine.clone(),
    };
    let refused = orgs
        .list_my_orgs(with_auth(theirs, &other.access_token, None))
        .await;
    assert_eq!(code_of(&refused), Code::InvalidArgument);
    let again = ListMyOrgsRequest {
        page_size: 1,
        page_token: mine,
    };
    let second = orgs
        .list_my_orgs(with_auth(again, token, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.memberships.len(), 1);
}
