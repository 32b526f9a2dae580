//! The `ochre` binary, for tests that run it as an operator would.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

/// The `ochre` binary: `OCHRE_BIN` (set by `make test`, which builds it
/// first), else this workspace's, built once per process when stale.
pub fn ochre_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os("OCHRE_BIN") {
                return PathBuf::from(bin);
            }
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "--quiet", "--workspace", "--bins"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(status.success(), "cargo build of the ochre binary failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
            target.join("debug/ochre")
        })
        .clone()
}

/// Every secret `ochre serve` needs, freshly made, as environment
/// variables (`Command::envs`): for a server of a test's own database.
pub fn fresh_secrets() -> [(&'static str, String); 6] {
    [
        ("OCHRE_BYOK_ENC_KEY", crate::random_key()),
        ("OCHRE_SURVEY_TOKEN_SECRET", crate::random_secret(32)),
        ("OCHRE_SESSION_SECRET", crate::random_secret(32)),
        ("OCHRE_OAUTH_STATE_SECRET", crate::random_secret(32)),
        ("OCHRE_CRON_SECRET", crate::random_secret(32)),
        ("OCHRE_AUDIT_SIGNING_KEY", crate::random_key()),
    ]
}

/// `ochre` as an operator runs it against `app`'s database: the three role
/// URLs and the app's own secrets, nothing else from the environment.
pub fn ochre_against(app: &crate::TestApp) -> tokio::process::Command {
    use secrecy::ExposeSecret as _;
    let url = |role| {
        app.cluster
            .url(role, &app.database)
            .expose_secret()
            .to_owned()
    };
    let mut command = tokio::process::Command::new(ochre_bin());
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url(ochre_server::pg::OWNER_ROLE))
        .env("OCHRE_APP_DATABASE_URL", url(ochre_server::pg::APP_ROLE))
        .env(
            "OCHRE_SERVICE_DATABASE_URL",
            url(ochre_server::pg::SERVICE_ROLE),
        )
        .env("OCHRE_BYOK_ENC_KEY", &app.byok_key)
        .env("OCHRE_SURVEY_TOKEN_SECRET", &app.survey_secret)
        .env("OCHRE_SESSION_SECRET", &app.session_secret)
        .env("OCHRE_OAUTH_STATE_SECRET", &app.oauth_state_secret)
        .env("OCHRE_CRON_SECRET", &app.cron_secret)
        .env("OCHRE_AUDIT_SIGNING_KEY", &app.audit_key);
    command
}
