//! The Redis store over TLS: a `redis-server --tls-port … --port 0` of the
//! test's own on loopback, with a throwaway CA, server and client
//! certificates made here (rcgen), a password, and clients required to
//! present a certificate. The store connects with the CA and its client
//! certificate, and fails with a clear error without them; neither the
//! password nor a certificate's path or key shows in an error or `Debug`.

use crate::support::redis_server::{unique_prefix, RedisServer};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use spendguard::store::{Claim, Lease, RedisStore, Reserved, SpendStore, StoreError, WindowRef};
use spendguard::Usd;

pub(super) const PASSWORD: &str = "tls-hunter2";
const NOW: Duration = Duration::from_secs(1_795_608_000);

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as
/// PEM files in a directory of their own.
pub(super) struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    pub(super) fn make() -> Certificates {
        let dir = std::env::temp_dir().join(format!(
            "spendguard-tls-{}-{}",
            std::process::id(),
            unique_prefix("tls").rsplit(':').next().unwrap()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name
            .push(DnType::CommonName, "spendguard test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf = |name: &str, usage| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf("redis", ExtendedKeyUsagePurpose::ServerAuth);
        let (client_cert, client_key) = leaf("worker", ExtendedKeyUsagePurpose::ClientAuth);
        for (name, pem) in [
            ("ca.pem", ca_cert.pem()),
            ("server.pem", server_cert),
            ("server.key", server_key),
            ("client.pem", client_cert),
            ("client.key", client_key),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
        Certificates { dir }
    }

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(super) fn server_args(&self) -> Vec<String> {
        let arg = |flag: &str, name: &str| [flag.to_owned(), path_text(&self.path(name))];
        [
            arg("--tls-cert-file", "server.pem"),
            arg("--tls-key-file", "server.key"),
            arg("--tls-ca-cert-file", "ca.pem"),
            ["--tls-auth-clients".into(), "yes".into()],
            ["--requirepass".into(), PASSWORD.into()],
        ]
        .concat()
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(super) fn path_text(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

fn tls_server(certificates: &Certificates) -> Option<RedisServer> {
    RedisServer::own_tls(&certificates.server_args(), |port| {
        format!("rediss://:{PASSWORD}@127.0.0.1:{port}/0")
    })
}

/// Nothing secret in `text`: not the password, not a path, not a key.
pub(super) fn assert_no_secrets(text: &str, certificates: &Certificates) {
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(!text.contains(&path_text(&certificates.dir)), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[tokio::test]
async fn a_store_with_the_ca_and_a_client_certificate_reserves_over_tls() {
    let certificates = Certificates::make();
    let Some(server) = tls_server(&certificates) else {
        return;
    };
    let builder = RedisStore::builder(server.url())
        .key_prefix(unique_prefix("tls"))
        .tls_ca_file(certificates.path("ca.pem"))
        .tls_client_files(
            certificates.path("client.pem"),
            certificates.path("client.key"),
        );
    assert_no_secrets(&format!("{builder:?}"), &certificates);
    let store = builder.connect().await.expect("the TLS server accepts us");
    assert!(
        store.server().starts_with("rediss://127.0.0.1:"),
        "{}",
        store.server()
    );
    assert_no_secrets(&format!("{store:?}"), &certificates);
    let claim = [Claim::new(
        WindowRef::calendar(Arc::from("k|all"), 0, None),
        Usd::from_cents(100),
        Usd::from_cents(60),
    )];
    let lease = Lease::new(1, Arc::from("tls/1"), NOW, NOW + Duration::from_secs(60));
    assert!(matches!(
        store.reserve(&claim, &lease, NOW).await.unwrap(),
        Reserved::Granted { .. }
    ));

    // The same certificates given as PEM text work too.
    let pem = |name| std::fs::read(certificates.path(name)).unwrap();
    let from_pem = RedisStore::builder(server.url())
        .tls_ca_pem(pem("ca.pem"))
        .tls_client_pem(pem("client.pem"), pem("client.key"));
    assert_no_secrets(&format!("{from_pem:?}"), &certificates);
    from_pem
        .connect()
        .await
        .expect("PEM text works as files do");
}

#[tokio::test]
async fn without_its_client_certificate_or_the_ca_the_store_is_refused_clearly() {
    let certificates = Certificates::make();
    let Some(server) = tls_server(&certificates) else {
        return;
    };
    let no_client = RedisStore::builder(server.url())
        .timeout(Duration::from_secs(2))
        .tls_ca_file(certificates.path("ca.pem"))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(no_client, StoreError::Unreachable { .. }),
        "{no_client}"
    );
    assert_no_secrets(&no_client.to_string(), &certificates);

    // The system's CAs do not know the throwaway one.
    let no_ca = RedisStore::builder(server.url())
        .timeout(Duration::from_secs(2))
        .tls_client_files(
            certificates.path("client.pem"),
            certificates.path("client.key"),
        )
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(no_ca, StoreError::Unreachable { .. }), "{no_ca}");
    assert_no_secrets(&no_ca.to_string(), &certificates);

    // A missing file is named by its role, not its path.
    let missing = RedisStore::builder(server.url())
        .tls_ca_file(certificates.path("nowhere.pem"))
        .connect()
        .await
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("the Redis TLS CA certificate file could not be read"),
        "{missing}"
    );
    assert_no_secrets(&missing.to_string(), &certificates);

    // TLS settings with a plain URL are a mistake, not a silent downgrade.
    let plain = RedisStore::builder(format!("redis://:{PASSWORD}@127.0.0.1:1/0"))
        .tls_ca_file(certificates.path("ca.pem"))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(plain, StoreError::Config(_)), "{plain}");
    assert_no_secrets(&plain.to_string(), &certificates);
}
