//! `ochre config check`: the effective configuration as text, every
//! setting of the table with its value or default and where it came from;
//! secrets only as `set`/`unset`, never their value or length.

use std::path::Path;

use super::{Config, DatabaseConfig, Layers, secrets, settings::SETTINGS};

/// Why the data directory cannot hold the embedded cluster, if it cannot
/// (`pg_ctl` runs a shell; the Unix socket path is short).
pub fn embedded_dir_problem(data_dir: &Path) -> Option<&'static str> {
    crate::pg::path_problem(&data_dir.join("postgres"))
}

/// The effective configuration, one line per setting.
pub fn render(config: &Config, layers: &Layers) -> String {
    let mut out = String::new();
    let width = SETTINGS.iter().map(|s| s.var.len()).max().unwrap_or(0);
    for s in SETTINGS {
        let source = layers.source(s.var);
        let shown = match (s.secret, source) {
            (true, Some(src)) => format!("set ({src})"),
            (true, None) if config.dev_mode && secrets::REQUIRED.iter().any(|r| r.var == s.var) => {
                format!(
                    "set (development mode: {})",
                    secrets::dev_secrets_path(&config.data_dir).display()
                )
            }
            (true, None) => "unset".to_owned(),
            (false, Some(src)) => {
                format!("{} ({src})", layers.get(s.var).unwrap_or_default().trim())
            }
            (false, None) => format!("{} (default)", s.default.replace('`', "")),
        };
        out.push_str(&format!("{:width$}  {shown}\n", s.var));
    }
    let database = match &config.database {
        DatabaseConfig::Embedded => format!(
            "embedded cluster in {}",
            config.data_dir.join("postgres").display()
        ),
        DatabaseConfig::External { .. } => "external (DATABASE_URL)".to_owned(),
    };
    out.push_str(&format!(
        "\neffective: listen {}, public URL {}, data directory {}, database {}, \
         migrations on start {}, log format {:?}, {} mode\n",
        config.listen_addr,
        config.public_url,
        config.data_dir.display(),
        database,
        config.migrate_on_start,
        config.log_format,
        if config.dev_mode {
            "development"
        } else {
            "production"
        },
    ));
    out
}
