//! The role matrix end to end. Its rows are generated from the access table
//! of the contract (`ACCESS_RULES`), so a new RPC is covered without editing
//! this file: every RPC is called with an empty body by every kind of caller
//! (anonymous, malformed, tampered, expired and logged-out tokens, each role of the
//! org, a member of another org, API keys of each role, a revoked key), and
//! the answer must be the gate's refusal the contract declares, or, when the
//! gate lets the call through, anything but a refusal. Every refusal
//! carries a `google.rpc.ErrorInfo` whose reason is one of the server's list
//! (with that reason's code): the gate's refusals the reason the caller
//! calls for (`CREDENTIALS_MISSING`, `ACCESS_TOKEN_EXPIRED`,
//! `ROLE_NOT_ALLOWED`, ...), and a field reason names the field in a
//! `google.rpc.BadRequest`.
//!
//! Public RPCs are checked anonymously only: what a public RPC does with
//! credentials is not part of the contract, and empty Login calls with
//! credentials would only feed the login throttle. Logout and DeleteAccount
//! end the caller's session or account, so users call them with a throwaway
//! session of their own account, after every other row. The expired token is
//! correctly signed with the test server's session secret (the harness
//! knows it) for the owner's live session, 16 minutes ago.

use std::collections::BTreeSet;

use ochre_sdk::{
    access::{ACCESS_RULES, Rule},
    v1::{RevokeApiKeyRequest, Role},
};
use ochre_tests::{
    errors::detail_problem,
    identity::{login_again, logout},
    matrix::{CALLERS, CallerKind, Expect, Outcome, SESSION_CONSUMING, call_empty, cells, render},
    prelude::*,
};

/// The callers' credentials.
struct Cast {
    org: String,
    other_org: String,
    owner: Session,
    admin: Session,
    agent: Session,
    light_agent: Session,
    outsider: Session,
    logged_out: String,
    tampered: String,
    expired: String,
    key_admin: String,
    key_agent: String,
    key_light_agent: String,
    key_revoked: String,
}

/// The token with the first character of its signature changed.
fn tamper(token: &str) -> String {
    let (head, mac) = token.rsplit_once('.').expect("a signed access token");
    let first = if mac.starts_with('A') { 'B' } else { 'A' };
    format!("{head}.{first}{}", &mac[1..])
}

impl Cast {
    async fn assemble(app: &TestApp) -> Cast {
        let owner = signup_and_login(app, &unique_email()).await;
        let org = create_org(app, &owner, "Matrix target").await;
        let admin = add_member(app, &owner, &org, Role::Admin).await;
        let agent = add_member(app, &owner, &org, Role::Agent).await;
        let light_agent = add_member(app, &owner, &org, Role::LightAgent).await;
        let outsider = signup_and_login(app, &unique_email()).await;
        let other_org = create_org(app, &outsider, "Matrix other").await;
        let logged_out = login_again(app, &owner).await.access_token;
        logout(app, &logged_out).await.expect("log out");
        let key = |role| create_api_key(app, &owner, &org, role);
        let key_admin = key(Role::Admin).await.expect("admin key").secret;
        let key_agent = key(Role::Agent).await.expect("agent key").secret;
        let key_light_agent = key(Role::LightAgent).await.expect("light key").secret;
        let revoked = key(Role::Admin).await.expect("key to revoke");
        let request = RevokeApiKeyRequest {
            api_key_id: revoked.api_key.expect("key metadata").id,
        };
        app.client::<ApiKeyClient>()
            .revoke_api_key(with_auth(request, &owner.access_token, Some(&org)))
            .await
            .expect("revoke key");
        let expired = app.access_token_issued_ago(&owner.access_token, 16 * 60);
        Cast {
            tampered: tamper(&owner.access_token),
            expired,
            org,
            other_org,
            owner,
            admin,
            agent,
            light_agent,
            outsider,
            logged_out,
            key_admin,
            key_agent,
            key_light_agent,
            key_revoked: revoked.secret,
        }
    }

    /// The account behind a user caller.
    fn user(&self, caller: CallerKind) -> Option<&Session> {
        match caller {
            CallerKind::Member(Role::Owner)
            | CallerKind::OwnerWithoutOrg
            | CallerKind::OwnerUnknownOrg => Some(&self.owner),
            CallerKind::Member(Role::Admin) => Some(&self.admin),
            CallerKind::Member(Role::Agent) => Some(&self.agent),
            CallerKind::Member(Role::LightAgent) => Some(&self.light_agent),
            CallerKind::OtherOrgMember => Some(&self.outsider),
            _ => None,
        }
    }

    fn token(&self, caller: CallerKind) -> Option<String> {
        match caller {
            CallerKind::Anonymous => None,
            CallerKind::Malformed => Some("ochre_at_v1.xxx.yyy".to_owned()),
            CallerKind::Tampered => Some(self.tampered.clone()),
            CallerKind::Expired => Some(self.expired.clone()),
            CallerKind::RevokedSession => Some(self.logged_out.clone()),
            CallerKind::ApiKey(Role::Admin)
            | CallerKind::ApiKeyWithoutOrg
            | CallerKind::ApiKeyOtherOrg => Some(self.key_admin.clone()),
            CallerKind::ApiKey(Role::Agent) => Some(self.key_agent.clone()),
            CallerKind::ApiKey(Role::LightAgent) => Some(self.key_light_agent.clone()),
            CallerKind::ApiKey(role) => panic!("no API key can hold {role:?}"),
            CallerKind::RevokedApiKey => Some(self.key_revoked.clone()),
            _ => self.user(caller).map(|s| s.access_token.clone()),
        }
    }

    /// The `x-ochre-org` a caller sends on an RPC with a `Roles` rule.
    fn org_header(&self, caller: CallerKind) -> Option<String> {
        match caller {
            CallerKind::OwnerWithoutOrg | CallerKind::ApiKeyWithoutOrg => None,
            CallerKind::OwnerUnknownOrg => Some(uuid::Uuid::new_v4().to_string()),
            CallerKind::ApiKeyOtherOrg => Some(self.other_org.clone()),
            _ => Some(self.org.clone()),
        }
    }
}

async fn run_matrix(app: &TestApp, cast: &Cast) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for cell in cells() {
        if cell.expect == Expect::Unchecked {
            let message = "not called".to_owned();
            outcomes.push(Outcome {
                cell,
                code: Code::Ok,
                message,
                reply: Default::default(),
            });
            continue;
        }
        let mut token = cast.token(cell.caller);
        if SESSION_CONSUMING.contains(&cell.method)
            && let Some(user) = cast.user(cell.caller)
        {
            token = Some(login_again(app, user).await.access_token);
        }
        let org = match cell.rule {
            Rule::Roles(_) => cast.org_header(cell.caller),
            Rule::Public | Rule::Authenticated => None,
        };
        let (code, message, reply) =
            call_empty(app, cell.method, token.as_deref(), org.as_deref()).await;
        outcomes.push(Outcome {
            cell,
            code,
            message,
            reply,
        });
    }
    outcomes
}

#[tokio::test]
async fn every_caller_gets_the_answer_the_contract_declares_from_every_rpc() {
    every_answer_as_declared(spawn_app().await).await;
}

/// The whole matrix again with the server's pools behind PgBouncer in
/// transaction pooling mode: every storage path works per transaction.
#[tokio::test]
async fn through_pgbouncer_every_caller_gets_the_answer_the_contract_declares_from_every_rpc() {
    let app = spawn_app_with(AppOptions {
        through_pgbouncer: true,
        ..AppOptions::default()
    })
    .await;
    every_answer_as_declared(app).await;
}

async fn every_answer_as_declared(app: TestApp) {
    let cast = Cast::assemble(&app).await;
    let outcomes = run_matrix(&app, &cast).await;
    assert_eq!(outcomes.len(), ACCESS_RULES.len() * CALLERS.len());
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    assert_eq!(failed, 0, "{failed} cells failed:\n{}", render(&outcomes));
    let details: Vec<String> = outcomes.iter().filter_map(detail_problem).collect();
    assert!(details.is_empty(), "{}", details.join("\n"));
    let refused = outcomes.iter().filter(|o| o.reply.reason.is_some()).count();
    assert!(refused > ACCESS_RULES.len() * 5, "{refused} refusals");
}

#[test]
fn every_rpc_of_the_contract_is_a_row_of_the_matrix_with_every_caller() {
    let cells = cells();
    assert_eq!(cells.len(), ACCESS_RULES.len() * CALLERS.len());
    let rows: BTreeSet<&str> = cells.iter().map(|c| c.method).collect();
    let contract: BTreeSet<&str> = ACCESS_RULES.iter().map(|m| m.method).collect();
    assert_eq!(rows, contract);
    for rpc in ACCESS_RULES {
        let callers: Vec<CallerKind> = cells
            .iter()
            .filter(|c| c.method == rpc.method)
            .map(|c| c.caller)
            .collect();
        assert_eq!(callers, CALLERS, "{}", rpc.method);
    }
    for method in SESSION_CONSUMING {
        assert!(contract.contains(method), "{method} is not in the contract");
    }
}

#[test]
fn every_rpc_that_needs_credentials_refuses_some_callers_and_admits_others() {
    let cells = cells();
    for rpc in ACCESS_RULES.iter().filter(|m| m.rule != Rule::Public) {
        let row: Vec<Expect> = cells
            .iter()
            .filter(|c| c.method == rpc.method)
            .map(|c| c.expect)
            .collect();
        for required in [
            Expect::Admitted,
            Expect::Refused(Code::Unauthenticated),
            Expect::Refused(Code::PermissionDenied),
        ] {
            assert!(row.contains(&required), "{}: no {required:?}", rpc.method);
        }
    }
}

/// The member roles the matrix admits to `method`.
fn admitted_roles(method: &str) -> Vec<Role> {
    let roles = [Role::Owner, Role::Admin, Role::Agent, Role::LightAgent];
    let path = format!("/ochre.v1.{method}");
    let row: Vec<_> = cells().into_iter().filter(|c| c.method == path).collect();
    assert!(!row.is_empty(), "{method} is not in the contract");
    roles
        .into_iter()
        .filter(|r| {
            row.iter()
                .any(|c| c.caller == CallerKind::Member(*r) && c.expect == Expect::Admitted)
        })
        .collect()
}

#[test]
fn the_matrix_grants_identity_rpcs_as_the_product_role_table_does() {
    use Role::{Admin, Agent, LightAgent, Owner};
    for read in ["OrgService/GetOrg", "MemberService/ListMembers"] {
        assert_eq!(
            admitted_roles(read),
            [Owner, Admin, Agent, LightAgent],
            "{read}"
        );
    }
    for manage in [
        "OrgService/GetIpAllowlist",
        "MemberService/CreateInvitation",
        "MemberService/ListInvitations",
        "MemberService/RevokeInvitation",
        "MemberService/UpdateMemberRole",
        "MemberService/RemoveMember",
        "ApiKeyService/CreateApiKey",
        "ApiKeyService/ListApiKeys",
        "ApiKeyService/RevokeApiKey",
    ] {
        assert_eq!(admitted_roles(manage), [Owner, Admin], "{manage}");
    }
    // Owners only: an admin could otherwise lock every owner out.
    for owners in [
        "MemberService/TransferOwnership",
        "OrgService/SetIpAllowlist",
    ] {
        assert_eq!(admitted_roles(owners), [Owner], "{owners}");
    }
    for public in [
        "AuthService/SignUp",
        "AuthService/Login",
        "AuthService/Refresh",
    ] {
        let path = format!("/ochre.v1.{public}");
        assert_eq!(ochre_sdk::access::rule_for(&path), Some(Rule::Public));
    }
    let keys_refused: Vec<&str> = cells()
        .iter()
        .filter(|c| c.rule == Rule::Authenticated && c.caller == CallerKind::ApiKey(Role::Admin))
        .filter(|c| c.expect == Expect::Refused(Code::PermissionDenied))
        .map(|c| c.method)
        .collect();
    for signed_in_only in [
        "AuthService/WhoAmI",
        "OrgService/CreateOrg",
        "AuthService/Logout",
    ] {
        let path = format!("/ochre.v1.{signed_in_only}");
        assert!(keys_refused.contains(&path.as_str()), "{signed_in_only}");
    }
}
