//! [`Server`]: which Redis a store talks to, named without its password,
//! and what its errors mean for a caller.

use redis::{
    ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo, RedisError, ServerErrorKind,
};

use crate::store::redis::cluster_url::ClusterUrl;
use crate::store::StoreError;

/// The server's name for errors and `Debug` (`redis://host:port/db`), and
/// its password, kept only to scrub it from any error text that might echo
/// it.
#[derive(Clone)]
pub(super) struct Server {
    name: String,
    password: Option<String>,
}

impl Server {
    pub(super) fn new(info: &ConnectionInfo) -> Self {
        let db = info.redis_settings().db();
        let name = match info.addr() {
            ConnectionAddr::Unix(path) => format!("redis+unix://{}?db={db}", path.display()),
            ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{host}:{port}/{db}"),
            addr => format!("redis://{addr}/{db}"),
        };
        Server {
            name,
            password: info
                .redis_settings()
                .password()
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        }
    }

    /// A cluster, named by its seed nodes; its password is the first
    /// node's (the cluster client takes that one for all).
    pub(super) fn cluster(url: &ClusterUrl) -> Result<Self, RedisError> {
        let password = match url.nodes.first() {
            Some(node) => node
                .as_str()
                .into_connection_info()?
                .redis_settings()
                .password()
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
            None => None,
        };
        Ok(Server {
            name: url.name.clone(),
            password,
        })
    }

    /// `redis://host:port/db`, never with credentials.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The error for a failed round trip.
    pub(super) fn unreachable(&self, error: &RedisError) -> StoreError {
        StoreError::Unreachable {
            store: self.name.clone(),
            detail: self.describe(error),
        }
    }

    /// What went wrong, without the password.
    pub(super) fn describe(&self, error: &RedisError) -> String {
        self.scrub(error.to_string())
    }

    /// The error for data or a reply the store cannot read.
    pub(super) fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt {
            store: self.name.clone(),
            detail: self.scrub(detail),
        }
    }

    fn scrub(&self, text: String) -> String {
        match &self.password {
            Some(password) if text.contains(password.as_str()) => text.replace(password, "***"),
            _ => text,
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// Whether `error` means the server could not be reached or cannot serve
/// right now, as opposed to a server that answered and refused (a wrong
/// password, a missing permission, a script error). Only the first kind
/// sends a fail-open store to its local fallback.
pub(super) fn is_outage(error: &RedisError) -> bool {
    error.is_io_error()
        || matches!(
            error.kind(),
            ErrorKind::Server(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
            )
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_has_no_credentials() {
        let info = "redis://ops:hunter2@cache.internal:6380/3"
            .into_connection_info()
            .unwrap();
        let server = Server::new(&info);
        assert_eq!(server.name(), "redis://cache.internal:6380/3");
        assert_eq!(format!("{server:?}"), "redis://cache.internal:6380/3");
        let socket = "redis+unix:///run/redis.sock?db=2&pass=hunter2"
            .into_connection_info()
            .unwrap();
        assert_eq!(
            Server::new(&socket).name(),
            "redis+unix:///run/redis.sock?db=2"
        );
        let tls = "rediss://:hunter2@cache.internal:6380/1"
            .into_connection_info()
            .unwrap();
        assert_eq!(Server::new(&tls).name(), "rediss://cache.internal:6380/1");
    }

    #[test]
    fn a_cluster_is_named_by_its_nodes_and_its_password_kept_to_scrub() {
        let url = ClusterUrl::parse("redis+cluster://:hunter2@h1:7000,h2:7001")
            .unwrap()
            .unwrap();
        let server = Server::cluster(&url).unwrap();
        assert_eq!(server.name(), "redis+cluster://h1:7000,h2:7001");
        let error = server.corrupt("echo hunter2".into()).to_string();
        assert!(error.ends_with("echo ***"), "{error}");
    }

    #[test]
    fn a_password_echoed_in_an_error_is_scrubbed() {
        let info = "redis://:hunter2@localhost".into_connection_info().unwrap();
        let error = Server::new(&info).corrupt("bad reply: hunter2".into());
        assert_eq!(
            error.to_string(),
            "the spend store at redis://localhost:6379/0 holds data this version cannot read: bad reply: ***"
        );
    }

    #[test]
    fn refused_connections_are_outages_and_script_errors_are_not() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_outage(&refused));
        let script = RedisError::from((ErrorKind::Server(ServerErrorKind::ResponseError), "ERR"));
        assert!(!is_outage(&script));
    }
}
