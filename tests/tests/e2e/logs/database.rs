//! Database errors reach the log by SQLSTATE and the names they cite,
//! never by a message or detail that quotes a row's values.

use ochre_sdk::v1::UpsertCustomerRequest;
use ochre_tests::{cluster::cluster, prelude::*, process::ServerProcess};
use sea_orm::ConnectionTrait as _;

#[tokio::test]
async fn an_internal_database_error_that_quotes_a_value_is_logged_without_it() {
    let server = ServerProcess::start(&[("OCHRE_LOG", "debug")]).await;
    let (token, org) = server.owner_with_org("Acme").await;
    // A trigger that fails every customer write with a message quoting the
    // row (as a unique violation's detail or a data error would).
    let superuser = cluster().await.connect_superuser(&server.database).await;
    superuser
        .execute_unprepared(
            "CREATE FUNCTION leak_row() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'row holds %', NEW.name USING ERRCODE = 'XX000'; END $$;
             CREATE TRIGGER leak_row BEFORE INSERT ON customers
             FOR EACH ROW EXECUTE FUNCTION leak_row();",
        )
        .await
        .unwrap();
    let name = format!("Zebulon {}", random_secret(9));
    let status = upsert_named(&server, &token, &org, &name)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(status.message(), "internal error");
    assert!(!status.message().contains(&name));
    let log = server.stop();
    let line = log
        .lines()
        .find(|l| l.contains("internal error"))
        .expect("the internal error is logged");
    assert!(line.contains("SQLSTATE XX000"), "{line}");
    assert!(!log.contains(&name), "the row's value leaked: {line}");
    assert!(
        !log.contains("row holds"),
        "the raised message leaked: {line}"
    );
}

/// No driver logs a statement with its bound values (a session proof, an
/// API key), whatever the filter asks: the app pool's own driver logs
/// nothing, and tokio-postgres (which did, at DEBUG) stays silenced.
#[tokio::test]
async fn the_drivers_statement_log_stays_off_whatever_the_filter_asks() {
    let server = ServerProcess::start(&[(
        "OCHRE_LOG",
        "debug,tokio_postgres=trace,tokio_postgres::query=trace",
    )])
    .await;
    let (token, org) = server.owner_with_org("Acme").await;
    let name = format!("Zebulon {}", random_secret(9));
    upsert_named(&server, &token, &org, &name)
        .await
        .expect("the customer is saved");
    let log = server.stop();
    assert!(log.contains("UpsertCustomer"), "the server logged at DEBUG");
    let driver: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("tokio_postgres"))
        .collect();
    assert!(driver.is_empty(), "the driver logged: {driver:?}");
    assert!(!log.contains(&name), "a bound value reached the log");
}

/// Saves a customer named `name` as the org's owner.
async fn upsert_named(
    server: &ServerProcess,
    token: &str,
    org: &str,
    name: &str,
) -> Result<(), tonic::Status> {
    CustomerClient::on(server.channel.clone())
        .upsert_customer(with_auth(
            UpsertCustomerRequest {
                email: unique_email(),
                name: name.to_owned(),
                ..Default::default()
            },
            token,
            Some(org),
        ))
        .await
        .map(|_| ())
}
