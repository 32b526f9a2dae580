//! The embedded default Postgres: generated development secrets, data that
//! survives a restart, and a start after a crash.

use std::{os::unix::fs::PermissionsExt as _, path::Path};

use super::{data_dir, free_port, serve, stop_cleanly, wait_serving};

#[tokio::test]
async fn the_embedded_default_serves_keeps_its_data_across_restarts_and_survives_a_crash() {
    let data = data_dir();
    let port = free_port();

    // First start: development secrets are generated (0600) and the embedded
    // cluster is initialised, migrated and served.
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    let secrets_file = data.path().join("secrets/dev-secrets.toml");
    let mode = std::fs::metadata(&secrets_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "generated secrets must be private");
    let first_secrets = std::fs::read_to_string(&secrets_file).unwrap();
    assert!(data.path().join("postgres/data/PG_VERSION").exists());

    // The server's roles connect over the cluster's private Unix socket
    // (no client address), never over loopback TCP; the socket still asks
    // them for their password.
    let transports = psql(
        data.path(),
        "SELECT DISTINCT coalesce(host(client_addr), 'socket') AS v FROM pg_stat_activity \
          WHERE usename IN ('ochre_owner', 'ochre_app', 'ochre_service')",
    )
    .await;
    assert_eq!(transports, vec!["socket".to_owned()]);
    let cluster = ochre_server::pg::Cluster::attach(&data.path().join("postgres"))
        .unwrap()
        .expect("cluster running");
    let wrong = cluster.socket_url("ochre_app", "not-the-password", "ochre");
    let refused =
        sea_orm::Database::connect(secrecy::ExposeSecret::expose_secret(&wrong).to_owned())
            .await
            .expect_err("a wrong password over the socket is refused");
    assert!(
        refused
            .to_string()
            .contains("password authentication failed"),
        "{refused}"
    );
    let hba = data.path().join("postgres/pg_hba.conf");
    let mode = std::fs::metadata(&hba).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the cluster's pg_hba.conf is private");

    // Write something through the cluster's superuser so a restart can be checked.
    let marker = uuid::Uuid::now_v7();
    psql(
        data.path(),
        &format!(
            "CREATE TABLE restart_probe (v uuid); INSERT INTO restart_probe VALUES ('{marker}')"
        ),
    )
    .await;

    // SIGTERM: drains, stops the cluster, exits 0.
    stop_cleanly(&mut child);
    assert!(!ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));

    // Second start: same secrets, same data.
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    assert_eq!(
        std::fs::read_to_string(&secrets_file).unwrap(),
        first_secrets
    );
    let rows = psql(data.path(), "SELECT v::text AS v FROM restart_probe").await;
    assert_eq!(rows, vec![marker.to_string()]);

    // A crash (SIGKILL) leaves the cluster running; the next start copes.
    child.kill().unwrap();
    child.wait().unwrap();
    let mut child = serve(data.path(), port);
    wait_serving(port, &mut child).await;
    stop_cleanly(&mut child);
    assert!(!ochre_server::pg::Cluster::is_running(
        &data.path().join("postgres")
    ));
}

/// Runs SQL in the embedded cluster as its superuser (over loopback).
async fn psql(data: &Path, sql: &str) -> Vec<String> {
    use sea_orm::ConnectionTrait as _;
    use secrecy::ExposeSecret as _;
    let cluster = ochre_server::pg::Cluster::attach(&data.join("postgres"))
        .unwrap()
        .expect("cluster running");
    let db = sea_orm::Database::connect(cluster.superuser_url("ochre").expose_secret().to_owned())
        .await
        .unwrap();
    let mut out = Vec::new();
    if sql.trim_start().starts_with("SELECT") {
        for row in db
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .unwrap()
        {
            out.push(row.try_get::<String>("", "v").unwrap());
        }
    } else {
        db.execute_unprepared(sql).await.unwrap();
    }
    db.close().await.ok();
    out
}
