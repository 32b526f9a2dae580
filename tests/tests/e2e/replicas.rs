//! Three `ochre serve` processes on one database, sharing nothing but
//! Postgres (and the configured secrets): what must hold across replicas
//! holds, with the replicas straight on Postgres ([`direct`]) and through
//! PgBouncer in transaction pooling mode ([`through_pgbouncer`]), the same
//! checks for both. Webhook dedupe (a 300-send duplicate storm stores one
//! event; 3,000 distinct deliveries store 3,000), budget admission (never
//! overspent, whichever replica reserves), and the sign-in lockout (failures
//! on any replica count on all), and an OAuth token's refresh (30 readers
//! of an expiring token across the three refresh it once). The rate limits
//! across processes are `limits::shared`, on both routes too.

use std::{collections::HashSet, sync::Arc};

use ochre_sdk::v1::{
    BudgetKind, BudgetPeriod, LoginRequest, ReserveBudgetRequest, SetBudgetRequest, SignUpRequest,
};
use ochre_tests::{
    bouncer::PgBouncer,
    clients::{AuthClient, BudgetClient, GrpcClient as _, IntegrationClient},
    cluster::cluster,
    identity::{strong_password, unique_email, with_auth},
    process::{ServerProcess, free_port},
};
use tokio::sync::Semaphore;
use tonic::Code;

use crate::webhooks::{delivery::Delivery, providers::P, remote, signing::Hook};

/// How the replicas reach Postgres.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Route {
    /// Each replica's pools connect to Postgres.
    Direct,
    /// The runtime pools connect through one PgBouncer in transaction
    /// pooling mode (`OCHRE_DB_TRANSACTION_POOLING=true`); migrations and
    /// the owner role go to Postgres directly.
    PgBouncer,
}

/// Replicas of one server (and the PgBouncer between them and Postgres).
pub(crate) struct Replicas {
    servers: Vec<ServerProcess>,
    _bouncer: Option<PgBouncer>,
}

impl std::ops::Deref for Replicas {
    type Target = [ServerProcess];

    fn deref(&self) -> &[ServerProcess] {
        &self.servers
    }
}

/// Three replicas of one server: one database, the same secrets.
async fn replicas(route: Route) -> Replicas {
    replicas_with(route, 3, &[]).await
}

/// `n` replicas on one fresh database with the same secrets and `more`
/// settings, reaching it by `route`.
pub(crate) async fn replicas_with(route: Route, n: usize, more: &[(&str, &str)]) -> Replicas {
    let secrets = ochre_tests::shared_secrets();
    let mut extra: Vec<(&str, &str)> = secrets.iter().map(|(k, v)| (*k, v.as_str())).collect();
    extra.push(("OCHRE_DB_MAX_CONNECTIONS", "8"));
    if let Route::PgBouncer = route {
        extra.push(("OCHRE_DB_TRANSACTION_POOLING", "true"));
    }
    extra.extend_from_slice(more);
    let database = cluster().await.fresh_database(true).await;
    let bouncer = match route {
        Route::Direct => None,
        Route::PgBouncer => Some(PgBouncer::start(&database).await),
    };
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n {
        servers.push(match &bouncer {
            None => ServerProcess::start_on(database.clone(), &extra).await,
            Some(b) => {
                ServerProcess::start_with(b.urls(), database.clone(), free_port(), &extra).await
            }
        });
    }
    Replicas {
        servers,
        _bouncer: bouncer,
    }
}

/// The checks, as tests of one route.
macro_rules! across_replicas {
    ($route:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn webhook_deliveries_spread_across_three_replicas_are_stored_once_each() {
            super::deliveries_are_stored_once_each($route).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn budget_reservations_across_three_replicas_never_overspend() {
            super::reservations_never_overspend($route).await;
        }

        #[tokio::test]
        async fn failed_sign_ins_on_any_replica_lock_the_address_on_all_of_them() {
            super::failed_sign_ins_lock_everywhere($route).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn thirty_readers_of_an_expiring_token_across_three_replicas_refresh_it_once() {
            super::expiring_token_is_refreshed_once($route).await;
        }
    };
}

/// Three replicas straight on Postgres.
mod direct {
    across_replicas!(super::Route::Direct);
}

/// Three replicas through PgBouncer 1.18 in transaction pooling mode.
mod through_pgbouncer {
    across_replicas!(super::Route::PgBouncer);
}

/// Posts a delivery to one replica: the HTTP status.
async fn post(client: &reqwest::Client, port: u16, d: &Delivery) -> u16 {
    remote::post(client, port, d)
        .await
        .unwrap_or_else(|e| panic!("POST {}: {e}", d.path))
}

async fn deliveries_are_stored_once_each(route: Route) {
    let servers = replicas(route).await;
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let (token, org) = servers[0].owner_with_org("Replicas").await;
    let (id, secret) = remote::connect_github(&servers[1], &token, &org).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(48));

    // A duplicate storm: one delivery sent 300 times, round robin.
    let storm = Arc::new(Hook::new(P::GitHub, &secret).build(&org, &id));
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (client, storm, gate, port) =
            (client.clone(), storm.clone(), gate.clone(), ports[i % 3]);
        sends.spawn(async move {
            let _slot = gate.acquire_owned().await.unwrap();
            post(&client, port, &storm).await
        });
    }
    let answers = sends.join_all().await;
    assert!(
        answers.iter().all(|s| (200..300).contains(s)),
        "every send of the storm is answered 2xx: {answers:?}"
    );
    assert_eq!(
        remote::stored_ids(&servers[2], &token, &org, &id)
            .await
            .len(),
        1
    );

    // 3,000 distinct deliveries, round robin.
    let deliveries: Vec<_> = (0..3000)
        .map(|_| Arc::new(Hook::new(P::GitHub, &secret).build(&org, &id)))
        .collect();
    let mut sends = tokio::task::JoinSet::new();
    for (i, d) in deliveries.iter().enumerate() {
        let (client, d, gate, port) = (client.clone(), d.clone(), gate.clone(), ports[i % 3]);
        sends.spawn(async move {
            let _slot = gate.acquire_owned().await.unwrap();
            post(&client, port, &d).await
        });
    }
    let answers = sends.join_all().await;
    let failed = answers.iter().filter(|s| !(200..300).contains(*s)).count();
    assert_eq!(failed, 0, "every distinct delivery is accepted");
    let ids = remote::stored_ids(&servers[2], &token, &org, &id).await;
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        (ids.len(), distinct.len()),
        (3001, 3001),
        "each stored once"
    );
}

async fn reservations_never_overspend(route: Route) {
    let servers = replicas(route).await;
    let (token, org) = servers[0].owner_with_org("Replicated budget").await;
    BudgetClient::on(servers[1].channel.clone())
        .set_budget(with_auth(
            SetBudgetRequest {
                kind: BudgetKind::AiCost.into(),
                limit: 100,
                period: BudgetPeriod::Month.into(),
            },
            &token,
            Some(&org),
        ))
        .await
        .expect("the owner sets a limit");
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (channel, token, org) = (servers[i % 3].channel.clone(), token.clone(), org.clone());
        calls.spawn(async move {
            let request = ReserveBudgetRequest {
                kind: BudgetKind::AiCost.into(),
                amount: 10,
                idempotency_key: format!("call-{i}"),
                customer_id: String::new(),
            };
            BudgetClient::on(channel)
                .reserve_budget(with_auth(request, &token, Some(&org)))
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        });
    }
    let answers = calls.join_all().await;
    let admitted = answers.iter().filter(|a| a.is_ok()).count();
    let exhausted = answers
        .iter()
        .filter(|a| **a == Err(Code::ResourceExhausted))
        .count();
    assert_eq!((admitted, exhausted), (10, 290), "{answers:?}");
}

async fn failed_sign_ins_lock_everywhere(route: Route) {
    let servers = replicas(route).await;
    let (email, password) = (unique_email(), strong_password());
    AuthClient::on(servers[0].channel.clone())
        .sign_up(SignUpRequest {
            email: email.clone(),
            password: password.clone(),
            display_name: String::new(),
        })
        .await
        .expect("sign up");
    let login = |i: usize, password: &str| {
        let mut client = AuthClient::on(servers[i % 3].channel.clone());
        let request = LoginRequest {
            email: email.clone(),
            password: password.to_owned(),
        };
        async move { client.login(request).await.map(|_| ()) }
    };
    for attempt in 0..5 {
        let wrong = login(attempt, "Not-the-password-42").await;
        assert_eq!(
            wrong.map_err(|s| s.code()),
            Err(Code::Unauthenticated),
            "attempt {attempt}, on replica {}",
            attempt % 3
        );
    }
    for replica in 0..3 {
        let locked = login(replica, &password).await.unwrap_err();
        assert_eq!(
            locked.code(),
            Code::ResourceExhausted,
            "replica {replica}: {locked:?}"
        );
    }
}

async fn expiring_token_is_refreshed_once(route: Route) {
    use ochre_sdk::v1::{
        CompleteOAuthConnectRequest, GetIntegrationTokenRequest, StartOAuthConnectRequest,
    };

    use crate::oauth::provider::{CLIENT_ID, CLIENT_SECRET, provider};

    let p = provider().await;
    let clients = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        clients.path(),
        format!(
            "[github]\nclient_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n\
             authorize_url = \"http://{0}/authorize\"\ntoken_url = \"http://{0}/token\"\n",
            p.addr
        ),
    )
    .unwrap();
    let path = clients.path().to_str().unwrap().to_owned();
    let servers = replicas_with(route, 3, &[("OCHRE_OAUTH_CLIENTS", path.as_str())]).await;
    let (token, org) = servers[0].owner_with_org("Replicated OAuth").await;

    // The flow itself crosses replicas: started on one, completed on another.
    p.memory.lock().unwrap().first_expires_in = Some(60);
    let started = IntegrationClient::on(servers[0].channel.clone())
        .start_o_auth_connect(with_auth(
            StartOAuthConnectRequest {
                provider: "github".into(),
                return_to: "/".into(),
            },
            &token,
            Some(&org),
        ))
        .await
        .expect("start")
        .into_inner();
    let code = p.approve(&started.authorize_url);
    let id = IntegrationClient::on(servers[1].channel.clone())
        .complete_o_auth_connect(with_auth(
            CompleteOAuthConnectRequest {
                state: started.state,
                code,
            },
            &token,
            Some(&org),
        ))
        .await
        .expect("complete")
        .into_inner()
        .integration
        .expect("the integration")
        .id;
    assert_eq!(p.memory.lock().unwrap().refresh_calls, 0);

    // 60 s left is inside the refresh margin: 30 readers at once, 10 a replica.
    let mut reads = tokio::task::JoinSet::new();
    for i in 0..30 {
        let (channel, token, org, id) = (
            servers[i % 3].channel.clone(),
            token.clone(),
            org.clone(),
            id.clone(),
        );
        reads.spawn(async move {
            IntegrationClient::on(channel)
                .get_integration_token(with_auth(
                    GetIntegrationTokenRequest {
                        integration_id: id,
                        field: "access_token".into(),
                    },
                    &token,
                    Some(&org),
                ))
                .await
                .map(|r| r.into_inner().value)
        });
    }
    let tokens: Vec<String> = reads
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("a reader got the token"))
        .collect();
    assert_eq!(
        p.memory.lock().unwrap().refresh_calls,
        1,
        "one refresh between the three replicas"
    );
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "every reader got the one refreshed token"
    );
}
