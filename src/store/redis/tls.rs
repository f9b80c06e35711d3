//! [`TlsSettings`]: the custom CA and client certificate a `rediss://`
//! connection uses, kept so that neither their contents nor their paths
//! ever reach a log, an error or `Debug`.

use std::fmt;
use std::path::PathBuf;

use redis::{ClientTlsConfig, TlsCertificates};

use crate::store::StoreError;

/// PEM text, given as bytes or as a file read at connect time.
#[derive(Clone)]
pub(super) enum Pem {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Pem {
    /// The PEM bytes. A file that cannot be read is named by its role, not
    /// its path.
    fn read(&self, role: &str) -> Result<Vec<u8>, StoreError> {
        match self {
            Pem::Bytes(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path).map_err(|e| {
                StoreError::Config(format!(
                    "the Redis TLS {role} file could not be read ({})",
                    e.kind()
                ))
            }),
        }
    }
}

/// The CA to trust instead of the system's, and the client certificate
/// and key to present, if any.
#[derive(Clone, Default)]
pub(super) struct TlsSettings {
    pub(super) ca: Option<Pem>,
    pub(super) client: Option<(Pem, Pem)>,
}

impl TlsSettings {
    /// Whether anything is set: without it a `rediss://` URL trusts the
    /// system's CAs and presents no certificate.
    pub(super) fn is_set(&self) -> bool {
        self.ca.is_some() || self.client.is_some()
    }

    /// The certificates for redis-rs, files read now.
    pub(super) fn certificates(&self) -> Result<TlsCertificates, StoreError> {
        let root_cert = match &self.ca {
            Some(pem) => Some(pem.read("CA certificate")?),
            None => None,
        };
        let client_tls = match &self.client {
            Some((cert, key)) => Some(ClientTlsConfig {
                client_cert: cert.read("client certificate")?,
                client_key: key.read("client key")?,
            }),
            None => None,
        };
        Ok(TlsCertificates {
            client_tls,
            root_cert,
        })
    }
}

/// Says what is set, never what it holds or where it is.
impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("custom_ca", &self.ca.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_a_path_nor_a_key_is_shown() {
        let settings = TlsSettings {
            ca: Some(Pem::File(PathBuf::from("/secret/dir/ca.pem"))),
            client: Some((
                Pem::Bytes(b"-----BEGIN CERTIFICATE-----".to_vec()),
                Pem::Bytes(b"-----BEGIN PRIVATE KEY----- hunter2".to_vec()),
            )),
        };
        let shown = format!("{settings:?}");
        assert_eq!(
            shown,
            "TlsSettings { custom_ca: true, client_certificate: true }"
        );
        let error = settings.certificates().unwrap_err().to_string();
        assert!(!error.contains("/secret"), "{error}");
        assert!(
            error.contains("CA certificate file could not be read"),
            "{error}"
        );
    }
}
