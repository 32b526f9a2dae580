//! The secret variables, and the development mode that generates them once
//! into the data directory (mode 0600) when none is configured.

use std::{
    collections::BTreeMap,
    io::Write as _,
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
};

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use super::{error::ConfigError, layers::invalid};
use crate::crypto::vault::Vault;

/// Minimum length of a text secret.
pub const MIN_SECRET_LEN: usize = 32;

/// What a secret variable must be.
#[derive(Debug)]
pub struct SecretSpec {
    pub var: &'static str,
    pub required: bool,
    /// A 32-byte key in base64 (otherwise a text secret of 32+ bytes).
    pub key32: bool,
    pub hint: &'static str,
}

/// The secrets the server cannot start without.
pub const REQUIRED: &[SecretSpec] = &[
    SecretSpec {
        var: "OCHRE_BYOK_ENC_KEY",
        required: true,
        key32: true,
        hint: " (32 random bytes in base64, e.g. `openssl rand -base64 32`)",
    },
    SecretSpec {
        var: "OCHRE_SURVEY_TOKEN_SECRET",
        required: true,
        key32: false,
        hint: " (at least 32 random bytes)",
    },
    SecretSpec {
        var: "OCHRE_SESSION_SECRET",
        required: true,
        key32: false,
        hint: " (at least 32 random bytes)",
    },
    SecretSpec {
        var: "OCHRE_OAUTH_STATE_SECRET",
        required: true,
        key32: false,
        hint: " (at least 32 random bytes)",
    },
    SecretSpec {
        var: "OCHRE_AUDIT_SIGNING_KEY",
        required: true,
        key32: true,
        hint: " (an Ed25519 secret key: 32 random bytes in base64, e.g. `openssl rand -base64 32`; signs audit checkpoints)",
    },
    SecretSpec {
        var: "OCHRE_CRON_SECRET",
        required: true,
        key32: false,
        hint: " (at least 32 random bytes; the bearer token of `POST /cron/{job}`)",
    },
];

/// The optional secrets: the previous ones, still accepted during a
/// rotation (the vault key decrypt-only, the survey secret verify-only).
pub const OPTIONAL: &[SecretSpec] = &[
    SecretSpec {
        var: "OCHRE_BYOK_ENC_KEY_PREVIOUS",
        required: false,
        key32: true,
        hint: "",
    },
    SecretSpec {
        var: "OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS",
        required: false,
        key32: false,
        hint: "",
    },
];

/// Where development mode keeps its generated secrets.
pub fn dev_secrets_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets").join("dev-secrets.toml")
}

/// Loads the development secrets, generating them on first use.
pub fn load_or_generate_dev(
    data_dir: &Path,
) -> Result<BTreeMap<&'static str, SecretString>, ConfigError> {
    let path = dev_secrets_path(data_dir);
    let err = |reason: String| ConfigError::DevSecrets {
        path: path.clone(),
        reason,
    };
    let io = |source: std::io::Error| ConfigError::DevSecretsIo {
        path: path.clone(),
        source,
    };
    if !path.exists() {
        generate(&path).map_err(io)?;
        tracing::warn!(
            path = %path.display(),
            "development mode: no secrets configured, generated new ones (mode 0600); \
             configure OCHRE_* secrets for production"
        );
    } else {
        tracing::info!(path = %path.display(), "development mode: using generated secrets");
    }
    let meta = std::fs::metadata(&path).map_err(io)?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(err(
            "the file is readable by other users: chmod 600 it".to_owned()
        ));
    }
    let text = SecretString::from(std::fs::read_to_string(&path).map_err(io)?);
    let table: toml::Table = text
        .expose_secret()
        .parse()
        .map_err(|_| err("not valid TOML".to_owned()))?;
    let mut out = BTreeMap::new();
    let mut added = String::new();
    for spec in REQUIRED {
        let key = spec.var.trim_start_matches("OCHRE_").to_ascii_lowercase();
        let value = match table.get(&key) {
            Some(v) => v
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| err(format!("`{key}` is not a string")))?,
            // A secret introduced by a newer version: generated and kept.
            None => {
                let value = new_value(spec);
                added.push_str(&format!("{key} = \"{value}\"\n"));
                value
            }
        };
        out.insert(spec.var, SecretString::from(value));
    }
    if !added.is_empty() {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io)?;
        file.write_all(added.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        zeroize::Zeroize::zeroize(&mut added);
        tracing::warn!(path = %path.display(), "development mode: generated the secrets this version added");
    }
    Ok(out)
}

/// The development secrets without writing anything: those of the data
/// directory when generated already, otherwise fresh ones held in memory
/// (what `ochre serve` would generate).
pub fn dev_preview(data_dir: &Path) -> Result<BTreeMap<&'static str, SecretString>, ConfigError> {
    if dev_secrets_path(data_dir).exists() {
        return load_or_generate_dev(data_dir);
    }
    Ok(REQUIRED
        .iter()
        .map(|spec| (spec.var, SecretString::from(new_value(spec))))
        .collect())
}

/// A fresh random value for `spec`.
fn new_value(spec: &SecretSpec) -> String {
    let mut bytes = random32();
    let value = if spec.key32 {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    } else {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([bytes, random32()].concat())
    };
    zeroize::Zeroize::zeroize(&mut bytes);
    value
}

fn generate(path: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let mut text =
        String::from("# Generated by `ochre serve` in development mode. Keep this file private.\n");
    for spec in REQUIRED {
        let key = spec.var.trim_start_matches("OCHRE_").to_ascii_lowercase();
        text.push_str(&format!("{key} = \"{}\"\n", new_value(spec)));
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    zeroize::Zeroize::zeroize(&mut text);
    Ok(())
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    b
}

/// The server's secrets, each its own variable.
#[derive(Debug)]
pub struct Secrets {
    /// `OCHRE_BYOK_ENC_KEY`: the vault key (32 bytes).
    pub byok_enc_key: SecretBox<[u8; 32]>,
    /// `OCHRE_BYOK_ENC_KEY_PREVIOUS`: decrypt-only key during rotation.
    pub byok_enc_key_previous: Option<SecretBox<[u8; 32]>>,
    /// `OCHRE_SURVEY_TOKEN_SECRET`: signs survey tokens.
    pub survey_token_secret: SecretString,
    /// `OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS`: verify-only during rotation.
    pub survey_token_secret_previous: Option<SecretString>,
    /// `OCHRE_SESSION_SECRET`: signs access tokens.
    pub session_secret: SecretString,
    /// `OCHRE_OAUTH_STATE_SECRET`: signs OAuth `state` values.
    pub oauth_state_secret: SecretString,
    /// `OCHRE_AUDIT_SIGNING_KEY`: the Ed25519 key of audit checkpoints.
    pub audit_signing_key: SecretBox<[u8; 32]>,
    /// `OCHRE_CRON_SECRET`: the bearer token of the operator routes
    /// (`POST /cron/{job}`).
    pub cron_secret: SecretString,
}

impl Secrets {
    /// The signer of audit checkpoints.
    pub fn checkpoint_signer(&self) -> crate::crypto::audit_checkpoint::CheckpointSigner {
        crate::crypto::audit_checkpoint::CheckpointSigner::new(
            self.audit_signing_key.expose_secret(),
        )
    }

    /// The vault under `OCHRE_BYOK_ENC_KEY`, with the decrypt-only previous
    /// key when `OCHRE_BYOK_ENC_KEY_PREVIOUS` is set.
    pub fn vault(&self) -> Vault {
        Vault::new(
            self.byok_enc_key.expose_secret(),
            self.byok_enc_key_previous
                .as_ref()
                .map(|k| k.expose_secret()),
        )
    }
}

pub(super) fn validate_secrets(
    values: &BTreeMap<&'static str, SecretString>,
) -> Result<Secrets, ConfigError> {
    let mut checked: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for spec in REQUIRED.iter().chain(OPTIONAL) {
        let Some(value) = values.get(spec.var) else {
            if spec.required {
                return Err(ConfigError::Missing {
                    var: spec.var,
                    hint: spec.hint,
                });
            }
            continue;
        };
        let bytes = check_secret(spec, value.expose_secret())?;
        // Equal as bytes, or as configured text (a key's base64 reused as a
        // text secret).
        let raw = value.expose_secret().trim().as_bytes();
        let same = |(var, b): &&(&'static str, Vec<u8>)| {
            *b == bytes
                || b.as_slice() == raw
                || values
                    .get(var)
                    .is_some_and(|v| v.expose_secret().trim().as_bytes() == raw)
        };
        if let Some((other, _)) = checked.iter().find(same) {
            return Err(ConfigError::Duplicate {
                a: other,
                b: spec.var,
            });
        }
        checked.push((spec.var, bytes));
    }
    let key = |var: &str| -> Option<SecretBox<[u8; 32]>> {
        let bytes = &checked.iter().find(|(v, _)| *v == var)?.1;
        let arr: [u8; 32] = bytes.as_slice().try_into().ok()?;
        Some(SecretBox::new(Box::new(arr)))
    };
    let text = |var: &'static str| -> Result<SecretString, ConfigError> {
        values
            .get(var)
            .cloned()
            .ok_or(ConfigError::Missing { var, hint: "" })
    };
    let secrets = Secrets {
        byok_enc_key: key("OCHRE_BYOK_ENC_KEY").ok_or(ConfigError::Missing {
            var: "OCHRE_BYOK_ENC_KEY",
            hint: "",
        })?,
        byok_enc_key_previous: key("OCHRE_BYOK_ENC_KEY_PREVIOUS"),
        survey_token_secret: text("OCHRE_SURVEY_TOKEN_SECRET")?,
        survey_token_secret_previous: values.get("OCHRE_SURVEY_TOKEN_SECRET_PREVIOUS").cloned(),
        session_secret: text("OCHRE_SESSION_SECRET")?,
        oauth_state_secret: text("OCHRE_OAUTH_STATE_SECRET")?,
        cron_secret: text("OCHRE_CRON_SECRET")?,
        audit_signing_key: key("OCHRE_AUDIT_SIGNING_KEY").ok_or(ConfigError::Missing {
            var: "OCHRE_AUDIT_SIGNING_KEY",
            hint: "",
        })?,
    };
    for (_, mut b) in checked {
        zeroize::Zeroize::zeroize(&mut b);
    }
    Ok(secrets)
}

/// Checks one secret and returns the bytes that must be unique.
fn check_secret(spec: &SecretSpec, value: &str) -> Result<Vec<u8>, ConfigError> {
    if spec.key32 {
        use base64::Engine as _;
        let trimmed = value.trim();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(trimmed))
            .map_err(|_| invalid(spec.var, "must be 32 bytes encoded in base64"))?;
        if decoded.len() != 32 {
            return Err(ConfigError::Invalid {
                var: spec.var,
                reason: format!(
                    "must decode to exactly 32 bytes (it decodes to {})",
                    decoded.len()
                ),
            });
        }
        if decoded.iter().all(|b| *b == decoded[0]) {
            return Err(invalid(spec.var, "is not random: every byte is the same"));
        }
        Ok(decoded)
    } else {
        if value.len() < MIN_SECRET_LEN {
            return Err(ConfigError::Invalid {
                var: spec.var,
                reason: format!(
                    "is too short: at least {} bytes are required",
                    MIN_SECRET_LEN
                ),
            });
        }
        if value.bytes().all(|b| b == value.as_bytes()[0]) {
            return Err(invalid(
                spec.var,
                "is not random: every character is the same",
            ));
        }
        Ok(value.as_bytes().to_vec())
    }
}
