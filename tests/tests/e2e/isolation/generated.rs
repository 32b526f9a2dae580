//! RPC isolation generated from the contract. Every org-scoped RPC whose
//! request has id fields (`*_id`, top level) is called by org A's owner,
//! in org A, twice: with each id field set to org B's row of that kind,
//! and with random ids; the other fields hold a plausible value (strings
//! "x", numbers and enums 1; cursors and filters empty). Both calls must get the same answer (code,
//! text, and on OK the same response bytes), so another org's ids reveal
//! nothing; and no row of org B may change. A new RPC is covered without
//! editing this test; a new kind of id fails it until it is named below.

use ochre_sdk::v1::CreateInvitationRequest;
use ochre_sdk::{FILE_DESCRIPTOR_SET, access::ACCESS_RULES, access::Rule};
use ochre_tests::{matrix::call_raw, prelude::*, sqlmatrix::tenant_tables};
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, Value};
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};

/// Org B's rows by kind of id.
struct Targets {
    customer: String,
    conversation: String,
    integration: String,
    api_key: String,
    invitation: String,
    member: String,
    reservation: String,
}

impl Targets {
    /// B's id for a field, or `None` for a kind this test does not know.
    fn for_field(&self, field: &str) -> Option<&str> {
        Some(match field {
            "customer_id" => &self.customer,
            "conversation_id" => &self.conversation,
            "integration_id" => &self.integration,
            "api_key_id" => &self.api_key,
            "invitation_id" => &self.invitation,
            "reservation_id" => &self.reservation,
            "user_id" | "assignee_user_id" | "actor_user_id" | "agent_user_id" => &self.member,
            _ => return None,
        })
    }
}

async fn org_b(app: &TestApp) -> (Session, String, Targets) {
    let owner = signup_and_login(app, &unique_email()).await;
    let org = create_org(app, &owner, "Org B").await;
    let api = Caller::user(app, &owner, &org);
    let customer = api.customer("b@example.com").await;
    let conversation = api.conversation(&customer.id, "B's").await.id;
    let integration = crate::vault::connect(
        app,
        &owner,
        &org,
        "github",
        &[("webhook_signing_secret", "b-secret")],
    )
    .await;
    let key = create_api_key(app, &owner, &org, Role::Agent)
        .await
        .unwrap();
    let invite = CreateInvitationRequest {
        email: unique_email(),
        role: Role::Agent.into(),
        ..Default::default()
    };
    let invitation = app
        .client::<MemberClient>()
        .create_invitation(with_auth(invite, &owner.access_token, Some(&org)))
        .await
        .unwrap()
        .into_inner()
        .invitation
        .unwrap()
        .id;
    let member = add_member(app, &owner, &org, Role::Agent).await.user_id;
    let reserve = ochre_sdk::v1::ReserveBudgetRequest {
        kind: ochre_sdk::v1::BudgetKind::AiCost.into(),
        amount: 5,
        idempotency_key: "org-b".to_owned(),
        customer_id: customer.id.clone(),
    };
    let reservation = app
        .client::<BudgetClient>()
        .reserve_budget(with_auth(reserve, &owner.access_token, Some(&org)))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap()
        .id;
    let targets = Targets {
        customer: customer.id,
        conversation,
        integration,
        api_key: key.api_key.unwrap().id,
        invitation,
        member,
        reservation,
    };
    (owner, org, targets)
}

/// A digest of every row org B holds, table by table (as superuser).
async fn footprint(app: &TestApp, org: &str) -> Vec<(String, String)> {
    let su = app.superuser_db().await;
    let mut out = Vec::new();
    for table in tenant_tables(&su).await {
        let sql = format!(
            "SELECT count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS d \
               FROM {table} t WHERE org_id = '{org}'"
        );
        let row = su
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await
            .unwrap()
            .unwrap();
        out.push((table, row.try_get("", "d").unwrap()));
    }
    out
}

/// The request of `method` with its id fields from `id_of` and plausible
/// values elsewhere, encoded.
fn request(input: &prost_reflect::MessageDescriptor, id_of: &dyn Fn(&str) -> String) -> Vec<u8> {
    let mut message = DynamicMessage::new(input.clone());
    for field in input.fields() {
        if field.is_list() || field.is_map() {
            continue;
        }
        let value = match field.kind() {
            // The caller's own idempotency key, not a row's id.
            Kind::String if field.name() == "request_id" => continue,
            Kind::String if field.name().ends_with("_id") => Value::String(id_of(field.name())),
            // Cursors and filters stay empty (a made-up one is refused
            // before any lookup); anything else gets a value.
            Kind::String if matches!(field.name(), "page_token" | "provider" | "action") => {
                continue;
            }
            Kind::String => Value::String("x".into()),
            Kind::Enum(_) => Value::EnumNumber(1),
            Kind::Int32 => Value::I32(1),
            Kind::Int64 => Value::I64(1),
            _ => continue,
        };
        message.set_field(&field, value);
    }
    message.encode_to_vec()
}

#[tokio::test]
async fn every_org_scoped_rpc_answers_another_orgs_ids_as_it_answers_random_ones() {
    let app = spawn_app().await;
    let owner_a = signup_and_login(&app, &unique_email()).await;
    let org_a = create_org(&app, &owner_a, "Org A").await;
    let (_, org, targets) = org_b(&app).await;
    let before = footprint(&app, &org).await;
    let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET).unwrap();
    let mut checks = Checks::default();
    let mut covered = 0;
    for access in ACCESS_RULES {
        if !matches!(access.rule, Rule::Roles(_)) {
            continue;
        }
        let (service, method) = access
            .method
            .trim_start_matches('/')
            .split_once('/')
            .unwrap();
        let service = pool.get_service_by_name(service).unwrap();
        let descriptor = service.methods().find(|m| m.name() == method).unwrap();
        let input = descriptor.input();
        let ids: Vec<String> = input
            .fields()
            .filter(|f| f.name().ends_with("_id") && f.kind() == Kind::String && !f.is_list())
            .filter(|f| f.name() != "request_id")
            .map(|f| f.name().to_owned())
            .collect();
        if ids.is_empty() {
            continue;
        }
        for id in &ids {
            checks.that(
                targets.for_field(id).is_some(),
                &format!("{method}: no org B row for `{id}`: name its kind in Targets"),
            );
        }
        let foreign = request(&input, &|f| targets.for_field(f).unwrap_or("").to_owned());
        let random = request(&input, &|_| uuid::Uuid::now_v7().to_string());
        let token = owner_a.access_token.as_str();
        let got = call_raw(&app, access.method, foreign, token, &org_a).await;
        let control = call_raw(&app, access.method, random, token, &org_a).await;
        checks.eq(&format!("{method} with org B's ids"), &got, &control);
        checks.that(
            !got.1.contains(&org) && !got.1.contains(&targets.conversation),
            &format!("{method} names org B's rows: {}", got.1),
        );
        covered += 1;
    }
    checks.that(covered >= 10, &format!("only {covered} RPCs covered"));
    checks.verify();
    assert_eq!(footprint(&app, &org).await, before, "org B changed");
}
