//! Seeding through the real RPCs: orgs (tenants) with the same number of
//! look-alike customers, one conversation each, and a few messages in each
//! conversation.

use std::time::Duration;

use anyhow::Context as _;
use ochre_sdk::v1::{ConnectIntegrationRequest, MessageKind, Role};
use ochre_tests::{
    TestApp,
    clients::IntegrationClient,
    identity::{self, Session, with_auth},
    support::Caller,
};

/// Concurrent seeding tasks per org.
const SEEDERS: usize = 8;

/// Seeding gives up after this long.
const SEED_LIMIT: Duration = Duration::from_secs(150);

/// One seeded org.
#[derive(Debug)]
pub struct Tenant {
    pub org: String,
    /// The conversation of each customer.
    pub conversations: Vec<String>,
}

/// Everything seeded: the org under load (with an agent) and the others.
#[derive(Debug)]
pub struct Seeded {
    pub main: Tenant,
    /// An agent of the main org.
    pub agent: Session,
    pub others: Vec<Tenant>,
    pub messages_per_conversation: usize,
}

/// The messages every seeded conversation starts with.
fn opening(i: usize) -> [(MessageKind, String); 3] {
    [
        (MessageKind::InboundEmail, format!("Where is order {i}?")),
        (
            MessageKind::InternalNote,
            "checking with the warehouse".into(),
        ),
        (
            MessageKind::OutboundReply,
            format!("Order {i} ships today."),
        ),
    ]
}

/// Customers `i ≡ first (mod SEEDERS)`: each with one conversation and its
/// opening messages; returns `(i, conversation id)`.
async fn seeder(api: Caller, first: usize, customers: usize) -> Vec<(usize, String)> {
    let mut made = Vec::new();
    for i in (first..customers).step_by(SEEDERS) {
        let customer = api.customer(&format!("customer-{i}@example.com")).await;
        let conversation = api.conversation(&customer.id, &format!("Order {i}")).await;
        for (kind, body) in opening(i) {
            api.message(&conversation.id, kind, &body).await;
        }
        made.push((i, conversation.id));
    }
    made
}

/// `tenants` orgs of `customers` customers each; the first also gets an
/// agent. Owners sign up one after the other (logins are rate-limited);
/// the orgs' contents are seeded concurrently.
async fn seed_all(app: &TestApp, tenants: usize, customers: usize) -> anyhow::Result<Seeded> {
    let mut owners = Vec::with_capacity(tenants);
    for t in 0..tenants {
        let owner = identity::signup_and_login(app, &identity::unique_email()).await;
        let org = identity::create_org(app, &owner, &format!("Tenant {t}")).await;
        owners.push((org, owner));
    }
    let (main_org, main_owner) = owners.first().context("at least one tenant")?;
    let agent = identity::add_member(app, main_owner, main_org, Role::Agent).await;
    let mut tasks = Vec::new();
    for (t, (org, owner)) in owners.iter().enumerate() {
        let api = Caller::user(app, owner, org);
        for first in 0..SEEDERS {
            tasks.push((t, tokio::spawn(seeder(api.clone(), first, customers))));
        }
    }
    let mut made: Vec<Vec<(usize, String)>> = vec![Vec::new(); tenants];
    for (t, task) in tasks {
        made[t].extend(task.await.context("seeding task")?);
    }
    let mut all: Vec<Tenant> = owners
        .into_iter()
        .zip(made)
        .map(|((org, _), mut conversations)| {
            conversations.sort();
            let conversations = conversations.into_iter().map(|(_, id)| id).collect();
            Tenant { org, conversations }
        })
        .collect();
    let main = all.remove(0);
    Ok(Seeded {
        main,
        agent,
        others: all,
        messages_per_conversation: opening(0).len(),
    })
}

/// [`seed_all`], bounded by [`SEED_LIMIT`].
pub async fn seed(app: &TestApp, tenants: usize, customers: usize) -> anyhow::Result<Seeded> {
    tokio::time::timeout(SEED_LIMIT, seed_all(app, tenants, customers))
        .await
        .with_context(|| format!("seeding took more than {} s", SEED_LIMIT.as_secs()))?
}

/// A new owner, their org, and an integration of `provider` connected with
/// one secret: the owner, the org id and the integration id.
pub async fn owner_with_integration(
    app: &TestApp,
    org_name: &str,
    provider: &str,
    field: &str,
    secret: &str,
) -> anyhow::Result<(Session, String, String)> {
    let owner = identity::signup_and_login(app, &identity::unique_email()).await;
    let org = identity::create_org(app, &owner, org_name).await;
    let request = ConnectIntegrationRequest {
        provider: provider.to_owned(),
        external_account: "bench".to_owned(),
        secrets: [(field.to_owned(), secret.to_owned())].into(),
        ..Default::default()
    };
    let integration = app
        .client::<IntegrationClient>()
        .connect_integration(with_auth(request, &owner.access_token, Some(&org)))
        .await
        .context("ConnectIntegration")?
        .into_inner()
        .integration
        .context("the connected integration")?
        .id;
    Ok((owner, org, integration))
}
