//! Certificates made for a test (rcgen): a CA of its own, and server
//! certificates for `localhost` and `127.0.0.1` that it signs, written as
//! PEM files (chain: server certificate, then the CA) the way an operator
//! points `OCHRE_TLS_CERT` and `OCHRE_TLS_KEY` at them.

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A test's certificate authority and the directory its files go to.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// The files of one issued server certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Issued {
    /// `OCHRE_TLS_CERT` and `OCHRE_TLS_KEY` for these files.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OCHRE_TLS_CERT", self.cert.display().to_string()),
            ("OCHRE_TLS_KEY", self.key.display().to_string()),
        ]
    }
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("Ochre FAKE test CA {name}"));
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki {
            dir: tempfile::tempdir().unwrap(),
            ca,
        }
    }

    /// The CA certificate (PEM), what clients trust.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// Issues a server certificate into `<stem>.crt` and `<stem>.key`.
    pub fn issue(&self, stem: &str) -> Issued {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        let issued = Issued {
            cert: self.dir.path().join(format!("{stem}.crt")),
            key: self.dir.path().join(format!("{stem}.key")),
        };
        std::fs::write(&issued.cert, format!("{}{}", cert.pem(), self.ca.pem())).unwrap();
        std::fs::write(&issued.key, key.serialize_pem()).unwrap();
        issued
    }

    /// A path in this PKI's directory (for files a test spoils).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// How a tonic client reaches a server with a certificate of this CA.
    pub fn client(&self) -> tonic::transport::ClientTlsConfig {
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(self.ca_pem()))
            .domain_name("localhost")
    }
}
