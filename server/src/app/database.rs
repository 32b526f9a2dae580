//! Where the database is: the operator's URLs, or the embedded cluster
//! started (and bootstrapped) under the data directory, whose roles connect
//! over its private Unix socket.

use secrecy::SecretString;

use super::error::StartupError;
use crate::{
    config::{Config, DatabaseConfig},
    pg::{self, Cluster, DbCredentials},
};

/// The database of the embedded cluster.
pub const EMBEDDED_DATABASE: &str = "ochre";

/// Connection URLs resolved from the configuration.
#[derive(Debug)]
pub(super) struct DbUrls {
    pub(super) owner: SecretString,
    pub(super) app: SecretString,
    pub(super) service: SecretString,
}

/// Starts the embedded cluster when configured and returns the URLs.
/// With the embedded cluster, `purpose` decides what happens when another
/// `ochre` runs it already (see [`Cluster::open`]).
pub(super) async fn resolve_database(
    config: &Config,
    purpose: pg::Purpose,
) -> Result<(DbUrls, Option<Cluster>), StartupError> {
    match &config.database {
        DatabaseConfig::External {
            owner_url,
            app_url,
            service_url,
        } => Ok((
            DbUrls {
                owner: owner_url.clone(),
                app: app_url.clone(),
                service: service_url.clone(),
            },
            None,
        )),
        DatabaseConfig::Embedded => {
            let cluster = Cluster::open(
                &config.data_dir.join("postgres"),
                config.pg_bin_dir.as_deref(),
                purpose,
            )
            .await?;
            crate::telemetry::redact::register_database_url(&cluster.superuser_url("postgres"));
            let result = async {
                let creds = DbCredentials::load_or_generate(
                    &config.data_dir.join("secrets").join("db-roles.toml"),
                )?;
                pg::bootstrap(
                    &cluster.superuser_url("postgres"),
                    &creds,
                    EMBEDDED_DATABASE,
                )
                .await?;
                Ok::<_, StartupError>(DbUrls {
                    owner: cluster.socket_url(
                        pg::OWNER_ROLE,
                        secrecy::ExposeSecret::expose_secret(&creds.owner),
                        EMBEDDED_DATABASE,
                    ),
                    app: cluster.socket_url(
                        pg::APP_ROLE,
                        secrecy::ExposeSecret::expose_secret(&creds.app),
                        EMBEDDED_DATABASE,
                    ),
                    service: cluster.socket_url(
                        pg::SERVICE_ROLE,
                        secrecy::ExposeSecret::expose_secret(&creds.service),
                        EMBEDDED_DATABASE,
                    ),
                })
            }
            .await;
            match result {
                Ok(urls) => Ok((urls, Some(cluster))),
                Err(e) => {
                    let _ = cluster.stop().await;
                    Err(e)
                }
            }
        }
    }
}
