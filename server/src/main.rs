//! `ochre`: the command line of the Ochre security core.

use std::{path::PathBuf, process::ExitCode};

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use ochre_server::{
    app::{
        Application,
        commands::{
            export_org, migrate_only, migration_status, purge_expired, purge_receipts, rotate_keys,
            verify_audit,
        },
    },
    config::{Config, Layers, LogFormat, settings},
    db::service::purge::PurgeRun,
    telemetry,
};

/// mimalloc instead of the system allocator: the request path allocates
/// and frees many small buffers (HTTP/2 frames, protobuf, rows), where
/// glibc's malloc took about a tenth of the server's CPU (perf, read-path).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "ochre",
    version,
    about = "The Ochre security core: gRPC, gRPC-web and webhooks"
)]
struct Cli {
    /// A TOML configuration file (keys are the OCHRE_* names in lower case,
    /// without the prefix); environment variables override it.
    #[arg(long, global = true, env = "OCHRE_CONFIG")]
    config: Option<PathBuf>,
    /// Log JSON lines instead of human-readable ones.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC, gRPC-web, health and reflection on OCHRE_LISTEN_ADDR.
    /// Exits 2 on a configuration error, 1 when it cannot start (for
    /// example another `ochre serve` runs on the same OCHRE_DATA_DIR).
    Serve,
    /// Apply pending database migrations and exit (uses the embedded
    /// cluster of a running `ochre serve` on the same data directory).
    Migrate {
        /// Print the applied and pending migrations instead; migrates
        /// nothing. Exits 0 whenever the status could be read.
        #[arg(long)]
        status: bool,
    },
    /// The configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Delete what has expired for good (the `POST /cron/purge-expired` job):
    /// expired sessions, states and tickets, and every workspace whose
    /// deletion grace has passed (in batches; safe to interrupt and run
    /// again). Prints what it did.
    Purge {
        /// Judge the grace periods as of this time (RFC 3339) instead of
        /// now. A later time purges workspaces before their announced date:
        /// for tests and for an operator acting on a verified request.
        #[arg(long)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
        /// Rows deleted per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i32).range(1..=100_000))]
        batch_size: i32,
        /// Stop after this many transactions (the rest is left for the next run).
        #[arg(long)]
        max_steps: Option<u64>,
        /// Print the receipts of purged workspaces (JSON lines) instead.
        #[arg(long, conflicts_with_all = ["as_of", "max_steps"])]
        receipts: bool,
    },
    /// Vault key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Export an org's data (the `ExportWorkspace` archive: manifest.json
    /// and one NDJSON file per table, secrets never included) to a ZIP file.
    Export {
        /// The org's id.
        #[arg(long)]
        org: uuid::Uuid,
        /// The file to write (refused if it exists, unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective value of every
    /// setting (secrets only as set/unset): exit 0 when valid, 2 (naming the
    /// variable) when not. Starts nothing and writes nothing.
    Check,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify an org's hash chain from the database rows alone: prints the
    /// head, or the first sequence number that does not verify (exit 1).
    Verify {
        /// The org's id.
        #[arg(long)]
        org: uuid::Uuid,
        /// The checkpoint public key to trust (32 bytes, base64, as
        /// `GetAuditPublicKey` serves it); by default the configured
        /// OCHRE_AUDIT_SIGNING_KEY's.
        #[arg(long, value_parser = parse_public_key)]
        public_key: Option<PublicKey>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-encrypt every secret under OCHRE_BYOK_ENC_KEY, reading old ones with
    /// OCHRE_BYOK_ENC_KEY_PREVIOUS. Safe to interrupt and run again.
    Rotate {
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: u64,
    },
}

fn main() -> ExitCode {
    let matches = Cli::command()
        .after_long_help(settings::help_text())
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let config_error = |e: &dyn std::fmt::Display| {
        tracing::error!("{e}");
        telemetry::flush();
        eprintln!(
            "ochre: configuration error: {}",
            telemetry::redact::redact(&e.to_string())
        );
        ExitCode::from(2)
    };
    // The file and the environment are read first, so that the log format
    // and filter of either take effect before anything is logged.
    let layers = match Layers::from_process(cli.config.clone()) {
        Ok(l) => l,
        Err(e) => return config_error(&e),
    };
    let format = if cli.log_json {
        LogFormat::Json
    } else {
        LogFormat::of_layers(&layers)
    };
    let filter = layers
        .get("OCHRE_LOG")
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| telemetry::DEFAULT_FILTER.to_owned());
    if let Command::Config {
        command: ConfigCommand::Check,
    } = cli.command
    {
        telemetry::init_with(format, &filter, std::io::stderr);
        return match Config::check_layers(&layers) {
            Ok(config) => {
                report_line(&config.describe(&layers));
                report_line("ochre config check: the configuration is valid");
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        };
    }
    let loaded = Config::from_layers(&layers);
    // Spans are exported while serving only.
    let otlp = loaded
        .as_ref()
        .ok()
        .filter(|_| matches!(cli.command, Command::Serve))
        .and_then(|c| c.otlp.as_ref());
    // Held to the end of `main`: dropping it writes out the queued lines.
    let _log = telemetry::init(format, &filter, otlp);
    let config = match loaded {
        Ok(c) => {
            telemetry::redact::register_config(&c);
            c
        }
        Err(e) => return config_error(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ochre: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve => Application::build(config).await?.run_until_stopped().await,
            Command::Migrate { status: false } => migrate_only(&config).await,
            Command::Migrate { status: true } => {
                let status = migration_status(&config).await?;
                for name in &status.applied {
                    report_line(&format!("applied  {name}"));
                }
                for name in &status.pending {
                    report_line(&format!("pending  {name}"));
                }
                for name in &status.unknown {
                    report_line(&format!("unknown  {name} (applied by a newer ochre)"));
                }
                report_line(&format!(
                    "ochre migrate --status: {} applied, {} pending, {} unknown: {}",
                    status.applied.len(),
                    status.pending.len(),
                    status.unknown.len(),
                    if status.is_current() {
                        "current"
                    } else if status.unknown.is_empty() {
                        "run `ochre migrate`"
                    } else {
                        "this binary is older than the database"
                    }
                ));
                Ok(())
            }
            Command::Config { .. } => Ok(()),
            Command::Purge { receipts: true, .. } => {
                for receipt in purge_receipts(&config).await? {
                    report_line(&serde_json::to_string(&receipt).unwrap_or_default());
                }
                Ok(())
            }
            Command::Purge {
                as_of,
                batch_size,
                max_steps,
                ..
            } => {
                let run = PurgeRun {
                    now: as_of.unwrap_or_else(chrono::Utc::now),
                    batch: batch_size,
                    max_steps,
                };
                let counts = purge_expired(&config, run).await?;
                tracing::info!(%counts, "purge finished");
                report_line(&format!("ochre purge: {counts}"));
                Ok(())
            }
            Command::Export { org, out, force } => {
                let org = ochre_server::ids::OrgId::from_uuid(org);
                let counts = export_org(&config, org, &out, force).await?;
                report_line(&format!(
                    "ochre export: org {org} written to {}: {counts}",
                    out.display()
                ));
                Ok(())
            }
            Command::Audit {
                command: AuditCommand::Verify { org, public_key },
            } => {
                let org = ochre_server::ids::OrgId::from_uuid(org);
                match verify_audit(&config, org, public_key.map(|k| k.0)).await? {
                    Ok(v) => {
                        let hash: String = v.head.hash.iter().map(|b| format!("{b:02x}")).collect();
                        report_line(&format!(
                            "ochre audit verify: org {org}: ok, {} events, checkpointed to {}, head {hash}",
                            v.head.seq, v.checkpointed
                        ));
                        Ok(())
                    }
                    Err(broken) => {
                        report_line(&format!(
                            "ochre audit verify: org {org}: broken at seq {}: {broken}",
                            broken.seq()
                        ));
                        Err(ochre_server::StartupError::Io(std::io::Error::other(
                            "the audit chain does not verify",
                        )))
                    }
                }
            }
            Command::Keys {
                command: KeysCommand::Rotate { batch_size },
            } => {
                let report = rotate_keys(&config, batch_size).await?;
                tracing::info!(%report, "key rotation finished");
                report_line(&format!("ochre keys rotate: {report}"));
                if report.failed > 0 {
                    return Err(ochre_server::StartupError::Io(std::io::Error::other(
                        "some secrets are under a key this server does not have",
                    )));
                }
                Ok(())
            }
        }
    });
    telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            telemetry::flush();
            eprintln!("ochre: {}", telemetry::redact::redact(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}

/// A command's result line on standard output.
/// A 32-byte Ed25519 public key given on the command line.
#[derive(Debug, Clone, Copy)]
struct PublicKey([u8; 32]);

fn parse_public_key(value: &str) -> Result<PublicKey, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| "not base64".to_owned())?;
    <[u8; 32]>::try_from(bytes)
        .map(PublicKey)
        .map_err(|_| "an Ed25519 public key is 32 bytes".to_owned())
}

#[allow(clippy::print_stdout)]
fn report_line(line: &str) {
    println!("{line}");
}
