//! Operator commands never hurt a running server: `ochre purge`, `ochre
//! keys rotate`, `ochre migrate` (and `--status`) on the data directory of
//! a running `ochre serve` use its embedded cluster and stop nothing; a
//! second `serve` refuses clearly; a data directory of another PostgreSQL
//! major version is refused; an open health Watch does not hold a shutdown;
//! an operator's owner role without the right to pin callers is told the
//! one statement to run, and nothing is migrated.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use ochre_sdk::v1::{CreateOrgRequest, ListMyOrgsRequest, LoginRequest, SignUpRequest};
use ochre_tests::{identity::strong_password, ochre_bin, prelude::*, random_key};

use super::{data_dir, free_port, serve_to, stop_cleanly, wait_serving};

/// `ochre serve` on `data` (development mode), its log in `log`.
fn serve_logged(data: &Path, port: u16, log: &Path) -> Child {
    serve_to(data, port, Stdio::from(std::fs::File::create(log).unwrap()))
}

/// Runs an `ochre` command on `data`: its exit code, stdout and stderr.
async fn ochre_on(data: &Path, args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let out = tokio::process::Command::new(ochre_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OCHRE_DATA_DIR", data)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .await
        .expect("run ochre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_on_the_data_directory_of_a_running_server_never_interrupt_it() {
    let data = data_dir();
    let port = free_port();
    let log = data.path().join("serve.log");
    let mut server = serve_logged(data.path(), port, &log);
    wait_serving(port, &mut server).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let (email, password) = (unique_email(), strong_password());
    let mut auth = AuthClient::on(channel.clone());
    auth.sign_up(SignUpRequest {
        email: email.clone(),
        password: password.clone(),
        display_name: String::new(),
    })
    .await
    .unwrap();
    let token = auth
        .login(LoginRequest { email, password })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token;
    OrgClient::on(channel.clone())
        .create_org(with_auth(
            CreateOrgRequest {
                name: "Operators".into(),
                ..Default::default()
            },
            &token,
            None,
        ))
        .await
        .unwrap();

    // A caller reads through the database all along.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let caller = {
        let (stop, ok, failed, channel) = (stop.clone(), ok.clone(), failed.clone(), channel);
        tokio::spawn(async move {
            let mut first_failure = None;
            while !stop.load(Ordering::Relaxed) {
                let request = with_auth(ListMyOrgsRequest::default(), &token, None);
                match OrgClient::on(channel.clone()).list_my_orgs(request).await {
                    Ok(r) if r.get_ref().memberships.len() == 1 => {
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    other => {
                        first_failure.get_or_insert_with(|| format!("{other:?}"));
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            first_failure
        })
    };

    let previous = [("OCHRE_BYOK_ENC_KEY_PREVIOUS", random_key())];
    for (args, env, expect) in [
        (&["purge"][..], &[][..], "ochre purge:"),
        (&["keys", "rotate"][..], &previous[..], "failed 0"),
        (&["migrate"][..], &[][..], ""),
        (&["migrate", "--status"][..], &[][..], "0 pending"),
    ] {
        let (code, out, err) = ochre_on(data.path(), args, env).await;
        assert_eq!(code, 0, "ochre {args:?}: {out}{err}");
        assert!(out.contains(expect), "ochre {args:?}: {out}{err}");
        assert!(!err.contains("stopping it"), "ochre {args:?}: {err}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A second serve on the same directory refuses, naming the first.
    let (code, _, err) = ochre_on(
        data.path(),
        &["serve"],
        &[
            ("OCHRE_LISTEN_ADDR", format!("127.0.0.1:{}", free_port())),
            ("OCHRE_ADMIN_ADDR", "127.0.0.1:0".to_owned()),
        ],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("is held by another ochre process")
            && err.contains(&format!("pid {}", server.id())),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    stop.store(true, Ordering::Relaxed);
    let first_failure = caller.await.unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "the server failed calls while the commands ran: {first_failure:?}"
    );
    assert!(ok.load(Ordering::Relaxed) > 10);
    assert!(ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));
    stop_cleanly(&mut server);
    assert!(!ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("database unavailable"), "{log}");
}

#[tokio::test]
async fn a_data_directory_of_another_postgres_major_version_is_refused_naming_both() {
    let data = data_dir();
    let pg_data = data.path().join("postgres/data");
    std::fs::create_dir_all(&pg_data).unwrap();
    std::fs::write(pg_data.join("PG_VERSION"), "9\n").unwrap();
    let installed = {
        let bin = ochre_server::pg::find_bin_dir().unwrap();
        let out = Command::new(bin.join("pg_ctl"))
            .arg("--version")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split("(PostgreSQL)")
            .nth(1)
            .unwrap()
            .trim()
            .split('.')
            .next()
            .unwrap()
            .to_owned()
    };
    for args in [&["migrate"][..], &["serve"][..]] {
        let (code, _, err) = ochre_on(data.path(), args, &[]).await;
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("initialised by PostgreSQL 9,")
                && err.contains(&format!("are PostgreSQL {installed}:")),
            "{err}"
        );
    }
    assert!(!pg_data.join("postmaster.pid").exists());
}

// Multi-threaded: `stop` blocks this thread while the client's connection
// (which answers the server's GOAWAY ping) runs on a worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_health_watch_does_not_hold_the_shutdown() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let server = ochre_tests::process::ServerProcess::start(&[]).await;
    let mut watch = HealthClient::new(server.channel.clone())
        .watch(HealthCheckRequest::default())
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status, 1, "SERVING");
    let started = Instant::now();
    let log = server.stop();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the shutdown waited {took:?} for the open watch: {log}"
    );
    let mut last = None;
    while let Ok(Some(m)) = watch.message().await {
        last = Some(m.status);
    }
    assert_eq!(last, Some(2), "the watch ends on NOT_SERVING");
}

#[tokio::test]
async fn an_unmigrated_database_is_reported_as_such_not_as_unavailable_and_migrate_status_lists_it()
{
    use secrecy::ExposeSecret as _;
    let cluster = ochre_tests::cluster::cluster().await;
    let database = cluster.fresh_database(false).await;
    let url = |role| cluster.url(role, &database).expose_secret().to_owned();
    let env = [
        ("DATABASE_URL", url(ochre_server::pg::OWNER_ROLE)),
        ("OCHRE_APP_DATABASE_URL", url(ochre_server::pg::APP_ROLE)),
        (
            "OCHRE_SERVICE_DATABASE_URL",
            url(ochre_server::pg::SERVICE_ROLE),
        ),
        ("OCHRE_BYOK_ENC_KEY", random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", ochre_tests::random_secret(32)),
        ("OCHRE_SESSION_SECRET", ochre_tests::random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", ochre_tests::random_secret(32)),
        ("OCHRE_CRON_SECRET", ochre_tests::random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", random_key()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = ochre_on(dir.path(), &["migrate", "--status"], &env).await;
    assert_eq!(code, 0, "{err}");
    let known = ochre_migrations::names();
    assert!(
        out.contains(&format!("0 applied, {} pending", known.len())),
        "{out}"
    );
    for name in &known {
        assert!(out.contains(&format!("pending  {name}")), "{out}");
    }

    let port = free_port();
    let log = dir.path().join("serve.log");
    let mut server = Command::new(ochre_bin())
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("OCHRE_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("not current")
    {
        assert!(Instant::now() < deadline, "no health report in 30 s");
        assert!(server.try_wait().unwrap().is_none(), "serve exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_cleanly(&mut server);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("run `ochre migrate`"), "{text}");
    assert!(!text.contains("database unavailable"), "{text}");
}

#[tokio::test]
async fn migrating_as_an_owner_without_the_right_to_pin_callers_names_the_grant_and_changes_nothing()
 {
    use sea_orm::{ConnectionTrait as _, Database};
    use secrecy::ExposeSecret as _;
    let c = ochre_tests::cluster::cluster().await;
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let (role, db) = (format!("op_owner_{suffix}"), format!("op_db_{suffix}"));
    let password = uuid::Uuid::new_v4().simple().to_string();
    let su = Database::connect(c.superuser_url_for("postgres").expose_secret().to_owned())
        .await
        .unwrap();
    for sql in [
        format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
        format!("CREATE DATABASE {db} OWNER {role}"),
    ] {
        su.execute_unprepared(&sql).await.unwrap();
    }
    let url = format!("postgres://{role}:{password}@127.0.0.1:{}/{db}", c.port);
    let data = data_dir();
    let mut env = ochre_tests::shared_secrets();
    env.extend([
        ("DATABASE_URL", url),
        (
            "OCHRE_APP_DATABASE_URL",
            c.url("ochre_app", &db).expose_secret().to_owned(),
        ),
        (
            "OCHRE_SERVICE_DATABASE_URL",
            c.url("ochre_service", &db).expose_secret().to_owned(),
        ),
    ]);
    let (code, out, err) = ochre_on(data.path(), &["migrate"], &env).await;
    let grant = format!("GRANT SET ON PARAMETER backtrace_functions TO {role}");
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains(&grant), "{err}");
    assert!(!err.contains(&password), "{err}");
    let on_db = Database::connect(c.superuser_url_for(&db).expose_secret().to_owned())
        .await
        .unwrap();
    let left = on_db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'public' AND c.relname <> 'seaql_migrations' AND c.relkind = 'r'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(left, 0, "tables were created");
    on_db.close().await.unwrap();
    for sql in [format!("DROP DATABASE {db}"), format!("DROP ROLE {role}")] {
        su.execute_unprepared(&sql).await.unwrap();
    }
}
