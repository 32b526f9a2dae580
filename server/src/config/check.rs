//! `ochre config check`: the effective configuration as text, every
//! setting of the table with its value or default and where it came from;
//! secrets only as `set`/`unset`, never their value or length.

use std::path::Path;

use super::{layers::Layers, secrets, settings::SETTINGS};

/// Why the data directory cannot hold the embedded cluster, if it cannot
/// (`pg_ctl` runs a shell; the Unix socket path is short).
pub fn embedded_dir_problem(data_dir: &Path) -> Option<&'static str> {
    crate::pg::path_problem(&data_dir.join("postgres"))
}

/// Every setting of the table, one line each: its value and where it came
/// from, or its default; a secret only as set or unset (`data_dir` and
/// `dev_mode`: where development secrets would come from).
pub fn render(layers: &Layers, data_dir: &Path, dev_mode: bool) -> String {
    let mut out = String::new();
    let width = SETTINGS.iter().map(|s| s.var.len()).max().unwrap_or(0);
    for s in SETTINGS {
        let source = layers.source(s.var);
        let shown = match (s.secret, source) {
            (true, Some(src)) => format!("set ({src})"),
            (true, None) if dev_mode && secrets::REQUIRED.iter().any(|r| r.var == s.var) => {
                format!(
                    "set (development mode: {})",
                    secrets::dev_secrets_path(data_dir).display()
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
    out
}
