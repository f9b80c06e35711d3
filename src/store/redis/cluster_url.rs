//! [`ClusterUrl`]: a `redis+cluster://` URL, read into the nodes the
//! cluster client starts from.

/// The seed nodes of a Redis Cluster, from
/// `redis+cluster://[user:password@]host:port,host:port[/0][?query]`
/// (`rediss+cluster://` for TLS). The client asks the first node that
/// answers for the rest of the cluster, so a few nodes are enough.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct ClusterUrl {
    /// One URL per node (`redis://[auth@]host:port[?query]`), each with the
    /// credentials and query of the whole.
    pub(super) nodes: Vec<String>,
    /// `redis+cluster://host:port,host:port`, without credentials.
    pub(super) name: String,
    /// Whether the nodes speak TLS (`rediss+cluster://`).
    pub(super) tls: bool,
}

/// The schemes that name a cluster, and the scheme of each node's URL.
const SCHEMES: [(&str, &str); 2] = [
    ("redis+cluster://", "redis://"),
    ("rediss+cluster://", "rediss://"),
];

impl ClusterUrl {
    /// `None` if `url` is not a cluster URL (a single server's); `Some`
    /// error naming what is wrong with one that is.
    pub(super) fn parse(url: &str) -> Option<Result<ClusterUrl, String>> {
        let (rest, node_scheme) = SCHEMES
            .iter()
            .find_map(|(scheme, node)| Some((url.strip_prefix(scheme)?, *node)))?;
        Some(ClusterUrl::read(rest, node_scheme))
    }

    fn read(rest: &str, node_scheme: &str) -> Result<ClusterUrl, String> {
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let (auth, hosts) = match authority.rsplit_once('@') {
            Some((auth, hosts)) => (Some(auth), hosts),
            None => (None, authority),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        if !matches!(path, "" | "/" | "/0") {
            return Err(format!(
                "a Redis Cluster has only database 0, but the URL's path is `{path}`; \
                 leave it out or write /0"
            ));
        }
        let hosts: Vec<&str> = hosts.split(',').collect();
        if hosts.iter().any(|h| h.is_empty()) {
            return Err(
                "a redis+cluster:// URL names its nodes as host:port,host:port, \
                 and one of them is empty"
                    .into(),
            );
        }
        let auth = auth.map_or_else(String::new, |a| format!("{a}@"));
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("/0?{query}")
        };
        Ok(ClusterUrl {
            nodes: hosts
                .iter()
                .map(|host| format!("{node_scheme}{auth}{host}{query}"))
                .collect(),
            name: format!(
                "{}+cluster://{}",
                node_scheme.trim_end_matches("://"),
                hosts.join(",")
            ),
            tls: node_scheme == "rediss://",
        })
    }
}

impl std::fmt::Debug for ClusterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The node URLs carry the password.
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_gets_the_credentials_and_query_of_the_whole() {
        let url = ClusterUrl::parse("redis+cluster://ops:pw@h1:7000,h2:7001/0?protocol=resp2")
            .unwrap()
            .unwrap();
        assert_eq!(
            url.nodes,
            [
                "redis://ops:pw@h1:7000/0?protocol=resp2",
                "redis://ops:pw@h2:7001/0?protocol=resp2"
            ]
        );
        assert_eq!(url.name, "redis+cluster://h1:7000,h2:7001");
        assert_eq!(format!("{url:?}"), "redis+cluster://h1:7000,h2:7001");
        assert!(!url.tls);
        let tls = ClusterUrl::parse("rediss+cluster://h1:7000")
            .unwrap()
            .unwrap();
        assert_eq!(tls.nodes, ["rediss://h1:7000"]);
        assert_eq!(tls.name, "rediss+cluster://h1:7000");
        assert!(tls.tls);
    }

    #[test]
    fn single_server_urls_are_not_cluster_urls() {
        assert_eq!(ClusterUrl::parse("redis://h1:7000/0"), None);
        assert_eq!(ClusterUrl::parse("rediss://h1:7000/0"), None);
        assert_eq!(ClusterUrl::parse("redis+unix:///run/r.sock"), None);
    }

    #[test]
    fn an_empty_node_or_another_database_is_refused_by_name() {
        let empty = ClusterUrl::parse("redis+cluster://h1:7000,,h2:7001")
            .unwrap()
            .unwrap_err();
        assert!(empty.contains("one of them is empty"), "{empty}");
        let none = ClusterUrl::parse("redis+cluster:///0")
            .unwrap()
            .unwrap_err();
        assert!(none.contains("empty"), "{none}");
        let db = ClusterUrl::parse("redis+cluster://h1:7000/3")
            .unwrap()
            .unwrap_err();
        assert!(db.contains("only database 0"), "{db}");
        assert!(!db.contains("h1"), "{db}");
    }
}
