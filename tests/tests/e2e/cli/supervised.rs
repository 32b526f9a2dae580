//! The embedded cluster, supervised: its postmaster SIGKILLed under a
//! running `ochre serve`, the server says NOT_SERVING, starts it again on
//! its own, and serves again with everything committed before the crash.

use std::time::{Duration, Instant};

use ochre_sdk::v1::{CreateOrgRequest, ListMyOrgsRequest, LoginRequest};
use ochre_tests::{
    clients::{AuthClient, GrpcClient as _, HealthClient, OrgClient},
    identity::{strong_password, unique_email, with_auth},
};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use super::{data_dir, free_port, serve, stop_cleanly, wait_serving};

async fn health(port: u16) -> Option<ServingStatus> {
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .ok()?;
    HealthClient::on(channel)
        .check(HealthCheckRequest::default())
        .await
        .ok()
        .map(|r| r.into_inner().status())
}

#[tokio::test]
async fn a_killed_embedded_postgres_is_started_again_and_nothing_committed_is_lost() {
    let data = data_dir();
    let port = free_port();
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    // Committed before the crash: an account and its org.
    let (email, password) = (unique_email(), strong_password());
    AuthClient::on(channel.clone())
        .sign_up(ochre_sdk::v1::SignUpRequest {
            email: email.clone(),
            password: password.clone(),
            display_name: String::new(),
        })
        .await
        .expect("sign up");
    let login = || {
        let request = LoginRequest {
            email: email.clone(),
            password: password.clone(),
        };
        let mut client = AuthClient::on(channel.clone());
        async move { client.login(request).await }
    };
    let token = login()
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    let org = OrgClient::on(channel.clone())
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Survivor".to_owned(),
                ..Default::default()
            },
            &token,
            None,
        ))
        .await
        .expect("create org")
        .into_inner()
        .org
        .expect("the org")
        .id;

    let pid_file = data.path().join("postgres/data/postmaster.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    // Health says so, then the server starts its cluster again.
    let killed = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut saw_not_serving = false;
    loop {
        match health(port).await {
            Some(ServingStatus::Serving) if saw_not_serving => break,
            Some(ServingStatus::Serving) => {}
            _ => saw_not_serving = true,
        }
        assert!(
            Instant::now() < deadline,
            "not serving again within 60 s of the crash"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let back = killed.elapsed();
    eprintln!("the embedded Postgres killed: SERVING again after {back:?}");
    assert!(
        back < Duration::from_secs(20),
        "SERVING again after {back:?}"
    );
    assert!(child.try_wait().unwrap().is_none(), "ochre kept running");

    // Nothing committed was lost: the account signs in, its org is there.
    // (A pooled connection from before the crash fails its first use with
    // UNAVAILABLE, which a client retries, as the SDK does.)
    let mut token = None;
    for _ in 0..30 {
        match login().await {
            Ok(r) => {
                token = Some(r.into_inner().tokens.unwrap().access_token);
                break;
            }
            Err(s) if s.code() == tonic::Code::Unavailable => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(s) => panic!("sign in after the crash: {s:?}"),
        }
    }
    let token = token.expect("signed in again after the crash");
    let orgs = OrgClient::on(channel.clone())
        .list_my_orgs(with_auth(ListMyOrgsRequest::default(), &token, None))
        .await
        .expect("list orgs")
        .into_inner();
    assert!(
        orgs.memberships
            .iter()
            .any(|m| m.org.as_ref().is_some_and(|o| o.id == org)),
        "{orgs:?}"
    );
    stop_cleanly(&mut child);
    assert!(!ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));
}
