//! Native TLS: the certificate chain and key of `OCHRE_TLS_CERT` and
//! `OCHRE_TLS_KEY` (PEM files), served through a resolver that a SIGHUP
//! swaps to a freshly read pair without touching the listener. A reload
//! that fails keeps the certificate in use and logs an error.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};

use tokio_rustls::rustls::{
    self, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// The certificate variable.
pub const CERT_VAR: &str = "OCHRE_TLS_CERT";
/// The private key variable.
pub const KEY_VAR: &str = "OCHRE_TLS_KEY";

/// Why a certificate or key file was refused: the variable naming the file,
/// and a reason that never quotes the file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFileError {
    pub var: &'static str,
    pub reason: String,
}

impl std::fmt::Display for TlsFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.var, self.reason)
    }
}

/// The configured certificate and key files, validated by reading them.
#[derive(Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    loaded: Arc<CertifiedKey>,
}

/// The paths only: never the key, nor the certificate bytes.
impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl TlsFiles {
    /// Reads and checks the pair (a certificate chain, then a private key
    /// that ring can sign with and that matches the first certificate).
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsFileError> {
        let loaded = Arc::new(read_pair(cert, key)?);
        Ok(TlsFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            loaded,
        })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(var: &'static str, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| TlsFileError {
        var,
        reason: format!("cannot read the file: {}", e.kind()),
    })
}

fn read_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsFileError> {
    let bad = |var, reason: &str| TlsFileError {
        var,
        reason: reason.to_owned(),
    };
    let cert_pem = read(CERT_VAR, cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad(CERT_VAR, "the file is not valid PEM"))?;
    if chain.is_empty() {
        return Err(bad(CERT_VAR, "the file holds no PEM CERTIFICATE block"));
    }
    let key_pem = read(KEY_VAR, key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|_| bad(KEY_VAR, "the file holds no PEM private key"))?;
    CertifiedKey::from_der(chain, private, &provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => bad(
            KEY_VAR,
            "the key does not belong to the first certificate of OCHRE_TLS_CERT",
        ),
        rustls::Error::InvalidCertificate(_) => {
            bad(CERT_VAR, "the first certificate cannot be parsed")
        }
        _ => bad(
            KEY_VAR,
            "not a usable private key (RSA, ECDSA P-256/P-384 or Ed25519)",
        ),
    })
}

/// The certificate in use, swapped whole on reload.
pub struct ReloadingCert {
    current: RwLock<Arc<CertifiedKey>>,
    files: TlsFiles,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    pub fn new(files: TlsFiles) -> Self {
        ReloadingCert {
            current: RwLock::new(files.loaded.clone()),
            files,
        }
    }

    /// Reads the files again; on success new handshakes use the new pair,
    /// on failure the old one stays.
    pub fn reload(&self) -> Result<(), TlsFileError> {
        let fresh = Arc::new(read_pair(&self.files.cert, &self.files.key)?);
        match self.current.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = match self.current.read() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        Some(current.clone())
    }
}

/// The TLS side of the listener: a server configuration over a reloading
/// certificate.
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: Arc<ServerConfig>,
    pub cert: Arc<ReloadingCert>,
}

impl Tls {
    /// TLS 1.2 and 1.3 (ring), no client certificates, ALPN `h2` (gRPC)
    /// then `http/1.1` (gRPC-web, webhooks, operator routes).
    pub fn new(files: TlsFiles) -> Result<Self, rustls::Error> {
        let cert = Arc::new(ReloadingCert::new(files));
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(cert.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            cert,
        })
    }
}

/// The task reloading the certificate on every SIGHUP; dropping it stops
/// the task.
#[derive(Debug)]
pub struct SighupReload(tokio::task::JoinHandle<()>);

impl Drop for SighupReload {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts reloading `cert` on SIGHUP (without a certificate a SIGHUP is
/// logged and otherwise ignored). The handler is installed before this
/// returns, so a SIGHUP sent once the server is up never falls back to the
/// default action (terminating the process).
pub fn reload_on_sighup(cert: Option<Arc<ReloadingCert>>) -> std::io::Result<SighupReload> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(SighupReload(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(cert) = &cert else {
                tracing::info!("SIGHUP: no TLS certificate configured, nothing to reload");
                continue;
            };
            match cert.reload() {
                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                Err(e) => tracing::error!(
                    error = %e,
                    "SIGHUP: TLS certificate reload failed; the previous certificate stays in use"
                ),
            }
        }
    })))
}
