//! The Redis store on a Redis Cluster the test starts itself: six
//! `redis-server --cluster-enabled yes` on loopback (three primaries, each
//! with a replica) joined by `redis-cli --cluster create`. Reservations
//! across four limits settle to the nano-dollar; a fleet's keys share one
//! slot; and when the primary holding that slot is killed mid-run, its
//! calls are refused with a typed error, never counted twice, while the
//! other primaries' fleets go on, and calls succeed again by themselves
//! once its replica has taken over.
//!
//! Without `redis-server` each test says so and passes, unless
//! `SPENDGUARD_REQUIRE_REDIS` is set (CI), where that is a failure.

use crate::support::redis_server::{free_port, unique_prefix};

use crate::windows::{all_time, day, rolling, NOW};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use spendguard::store::{
    Claim, Lease, RedisStore, Reserved, Settlement, SpendStore, StoreError, WindowRef, WindowUsage,
};
use spendguard::Usd;

/// How long a node may be silent before the others take it for failed:
/// short, so a replica takes over within seconds.
const NODE_TIMEOUT_MS: u64 = 1_000;

/// Nodes in temporary directories, killed and removed when dropped.
struct Cluster {
    dir: PathBuf,
    ports: Vec<u16>,
    children: Vec<Option<Child>>,
    /// How each node is reached: plain TCP, or TLS with certificates.
    tls: Option<Tls>,
}

/// A TLS cluster's settings: each node's and `redis-cli`'s arguments.
struct Tls {
    server: Vec<String>,
    cli: Vec<String>,
}

/// Which cluster a test runs on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Three primaries, each with a replica, over plain TCP.
    WithReplicas,
    /// Three primaries over TLS, no replicas.
    Tls,
}

impl Cluster {
    /// Three primaries and three replicas, every slot served and every
    /// replica in sync; `None` (having said why) if `redis-server` cannot
    /// be run, which fails instead under `SPENDGUARD_REQUIRE_REDIS`.
    fn start() -> Option<Cluster> {
        Cluster::start_as(Shape::WithReplicas, None)
    }

    /// A cluster of `shape`, TLS with `tls`'s arguments.
    fn start_as(shape: Shape, tls: Option<Tls>) -> Option<Cluster> {
        match Cluster::try_start(shape, tls) {
            Ok(cluster) => Some(cluster),
            Err(reason) => {
                assert!(
                    std::env::var_os("SPENDGUARD_REQUIRE_REDIS").is_none(),
                    "SPENDGUARD_REQUIRE_REDIS is set but no Redis Cluster could be started: {reason}"
                );
                eprintln!("skipped: no Redis Cluster to test against ({reason})");
                None
            }
        }
    }

    fn try_start(shape: Shape, tls: Option<Tls>) -> Result<Cluster, String> {
        let dir = std::env::temp_dir().join(format!(
            "spendguard-cluster-{}",
            unique_prefix("c").rsplit(':').next().unwrap_or("0")
        ));
        let mut cluster = Cluster {
            dir,
            ports: Vec::new(),
            children: Vec::new(),
            tls,
        };
        let (nodes, replicas) = match shape {
            Shape::WithReplicas => (6, "1"),
            Shape::Tls => (3, "0"),
        };
        for _ in 0..nodes {
            cluster.spawn_node()?;
        }
        for port in cluster.ports.clone() {
            wait_for(&format!("node {port} to answer PING"), || {
                cluster
                    .cli(port, &["PING"])
                    .is_ok_and(|r| r.trim() == "PONG")
            })?;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(cluster.tls.iter().flat_map(|t| &t.cli))
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", replicas, "--cluster-yes"])
            .output()
            .map_err(|e| format!("`redis-cli` could not be run: {e}"))?;
        if !created.status.success() {
            return Err(format!(
                "`redis-cli --cluster create` failed: {}",
                String::from_utf8_lossy(&created.stdout)
            ));
        }
        for port in cluster.ports.clone() {
            wait_for(&format!("node {port} to see the cluster ok"), || {
                cluster
                    .cli(port, &["CLUSTER", "INFO"])
                    .is_ok_and(|r| r.contains("cluster_state:ok"))
            })?;
        }
        for port in cluster.replicas() {
            wait_for(&format!("replica {port} to be in sync"), || {
                cluster
                    .cli(port, &["INFO", "replication"])
                    .is_ok_and(|r| r.contains("master_link_status:up"))
            })?;
        }
        Ok(cluster)
    }

    fn spawn_node(&mut self) -> Result<(), String> {
        let port = free_port();
        let dir = self.dir.join(port.to_string());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port_text = port.to_string();
        let ports = match &self.tls {
            None => vec!["--port", &port_text],
            Some(_) => vec![
                "--tls-port",
                &port_text,
                "--port",
                "0",
                "--tls-cluster",
                "yes",
            ],
        };
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1"])
            .args(ports)
            .args(self.tls.iter().flat_map(|t| &t.server))
            .args(["--cluster-enabled", "yes"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
            // The slots of live primaries stay served while one is down
            // (Redis's default stops the whole cluster until a failover).
            .args(["--cluster-require-full-coverage", "no"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("`redis-server` could not be started: {e}"))?;
        self.ports.push(port);
        self.children.push(Some(child));
        Ok(())
    }

    /// A URL naming two of the nodes: the client finds the rest.
    fn url(&self) -> String {
        format!(
            "redis+cluster://127.0.0.1:{},127.0.0.1:{}",
            self.ports[0], self.ports[1]
        )
    }

    /// `redis-cli -p port args…`'s output.
    fn cli(&self, port: u16, args: &[&str]) -> Result<String, String> {
        let out = Command::new("redis-cli")
            .args(self.tls.iter().flat_map(|t| &t.cli))
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .map_err(|e| format!("`redis-cli` could not be run: {e}"))?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The ports of the nodes that are replicas now.
    fn replicas(&self) -> Vec<u16> {
        self.ports
            .iter()
            .copied()
            .filter(|p| {
                self.cli(*p, &["ROLE"])
                    .is_ok_and(|r| r.starts_with("slave"))
            })
            .collect()
    }

    /// The port of the primary serving `key`'s slot, asking a live node;
    /// `None` while no live primary does.
    fn primary_of(&self, key: &str, ask: u16) -> Option<u16> {
        let slot: u16 = self
            .cli(ask, &["CLUSTER", "KEYSLOT", key])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let nodes = self.cli(ask, &["CLUSTER", "NODES"]).unwrap();
        nodes
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let serves = fields.iter().skip(8).any(|range| {
                    let (low, high) = range.split_once('-').unwrap_or((range, range));
                    matches!((low.parse::<u16>(), high.parse::<u16>()),
                        (Ok(low), Ok(high)) if (low..=high).contains(&slot))
                });
                let address = fields.get(1)?.split('@').next()?;
                serves.then(|| address.rsplit(':').next()?.parse().ok())?
            })
    }

    /// Makes sure everything `port` (a primary) has written, the keys in
    /// `key`'s slot included, has reached its replica.
    fn sync_replica(&self, port: u16, key: &str) {
        let mut session = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        // WAIT counts this connection's writes, and so everything before.
        writeln!(
            session.stdin.take().unwrap(),
            "SET {key}:synced 1\nWAIT 1 5000"
        )
        .unwrap();
        let out = session.wait_with_output().unwrap();
        let reply = String::from_utf8_lossy(&out.stdout);
        assert!(reply.lines().nth(1) == Some("1"), "WAIT answered {reply}");
    }

    /// Kills the node on `port` (SIGKILL, as a crash).
    fn kill(&mut self, port: u16) {
        let index = self.ports.iter().position(|p| *p == port).unwrap();
        if let Some(mut child) = self.children[index].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().filter_map(Option::take) {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for(what: &str, ready: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("timed out waiting for {what}"))
}

async fn store_on(cluster: &Cluster, prefix: &str) -> RedisStore {
    RedisStore::builder(cluster.url())
        .key_prefix(prefix)
        .timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("the test cluster is reachable")
}

/// Four limits, as a fleet's global, key, agent and customer caps.
fn limits() -> Vec<(WindowRef, Usd)> {
    vec![
        (all_time("global|all"), Usd::from_cents(100_000)),
        (day("key=prod|day", 20_782), Usd::from_cents(50_000)),
        (rolling("agent=a|rolling", 500), Usd::from_cents(40_000)),
        (all_time("customer=acme|all"), Usd::from_cents(30_000)),
    ]
}

/// What one call did to the store.
enum Call {
    /// Granted and settled at this cost.
    Settled(Usd),
    /// Refused because the store could not be reached.
    Unreachable,
    /// Granted, then its settlements could not be recorded: its worst case
    /// stays held.
    Unsettled(Vec<Settlement>),
    /// Refused by a limit.
    Refused,
}

/// One call across `limits`: reserve `worst`, settle `cost`.
async fn call(store: &RedisStore, limits: &[(WindowRef, Usd)], id: u64, worst: Usd) -> Call {
    let claims: Vec<Claim> = limits
        .iter()
        .map(|(w, max)| Claim::new(w.clone(), *max, worst))
        .collect();
    let lease = Lease::new(
        id,
        Arc::from("cluster"),
        NOW,
        NOW + Duration::from_secs(600),
    );
    let ticket = match store.reserve(&claims, &lease, NOW).await {
        Ok(Reserved::Granted { usage, ticket }) => {
            for (u, (_, max)) in usage.iter().zip(limits) {
                assert!(u.committed() <= *max, "{u:?} over {max}");
            }
            ticket
        }
        Ok(Reserved::Refused { .. }) => return Call::Refused,
        Ok(other) => panic!("nobody halted: {other:?}"),
        Err(StoreError::Unreachable { .. }) => return Call::Unreachable,
        Err(other) => panic!("a reservation failed with {other}"),
    };
    let cost = Usd::from_nanos(worst.nanos() - 1_234 - id % 97);
    let settlements: Vec<Settlement> = limits
        .iter()
        .map(|(w, _)| Settlement::new(w.clone(), worst, cost, ticket, id))
        .collect();
    match store.settle(&settlements, NOW).await {
        Ok(_) => Call::Settled(cost),
        Err(StoreError::Unreachable { .. }) => Call::Unsettled(settlements),
        Err(other) => panic!("a settlement failed with {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_on_a_cluster_settles_to_the_nano_dollar_in_one_slot() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let prefix = unique_prefix("cluster-fleet");
    let store = Arc::new(store_on(&cluster, &prefix).await);
    assert_eq!(store.server(), cluster.url());
    let limits = limits();
    let tasks: Vec<_> = (0..16u64)
        .map(|task| {
            let store = Arc::clone(&store);
            let limits = limits.clone();
            tokio::spawn(async move {
                let mut settled = Usd::ZERO;
                for n in 0..20 {
                    let worst = Usd::from_nanos(1_000_000_000 + task * 1_000 + n);
                    match call(&store, &limits, task << 32 | n, worst).await {
                        Call::Settled(cost) => settled += cost,
                        Call::Refused => {}
                        Call::Unreachable | Call::Unsettled(_) => panic!("the cluster is up"),
                    }
                }
                settled
            })
        })
        .collect();
    let mut total = Usd::ZERO;
    for task in tasks {
        total += task.await.unwrap();
    }
    let windows: Vec<WindowRef> = limits.iter().map(|(w, _)| w.clone()).collect();
    let usage = store.usage(&windows).await.unwrap();
    for u in &usage {
        assert_eq!(*u, WindowUsage::new(total, Usd::ZERO));
    }
    // The tightest cap ($300) was reached: some calls were refused.
    assert!(
        total > Usd::from_cents(29_000) && total <= Usd::from_cents(30_000),
        "{total}"
    );
    // Every key of the fleet, the halt key too, is in the prefix's slot.
    let slot = cluster
        .cli(
            cluster.ports[0],
            &["CLUSTER", "KEYSLOT", &format!("{{{prefix}}}")],
        )
        .unwrap();
    let owner = cluster
        .primary_of(&format!("{{{prefix}}}"), cluster.ports[0])
        .unwrap();
    let keys = cluster
        .cli(owner, &["KEYS", &format!("{{{prefix}}}:*")])
        .unwrap();
    assert!(keys.lines().count() >= 4, "{keys}");
    for key in keys.lines() {
        let in_slot = cluster.cli(owner, &["CLUSTER", "KEYSLOT", key]).unwrap();
        assert_eq!(in_slot, slot, "{key}");
    }
    // A halt reaches every reservation's script.
    use spendguard::halt::Halt;
    use spendguard::store::HaltFlag;
    store.halt(&Halt::at("ops", "test", NOW)).await.unwrap();
    let claims = [Claim::new(
        limits[0].0.clone(),
        limits[0].1,
        Usd::from_cents(1),
    )];
    let lease = Lease::new(7, Arc::from("cluster"), NOW, NOW + Duration::from_secs(60));
    assert!(matches!(
        store.reserve(&claims, &lease, NOW).await.unwrap(),
        Reserved::Halted(_)
    ));
    assert!(store.resume().await.unwrap().is_some());
    assert_eq!(store.counters().await.unwrap().len(), 4);
    // A claim on an upper bound is granted only far from its limit, in the
    // same script: one that fits but not twice over is near, holding
    // nothing anywhere.
    let roomy = (all_time("bound-roomy|all"), Usd::from_cents(10_000));
    let tight = (all_time("bound-tight|all"), Usd::from_cents(100));
    let far = |amount| -> Vec<Claim> {
        [&roomy, &tight]
            .iter()
            .map(|(w, max)| Claim::new(w.clone(), *max, Usd::from_cents(amount)).far_from_limit())
            .collect()
    };
    let lease = Lease::new(8, Arc::from("cluster"), NOW, NOW + Duration::from_secs(60));
    assert_eq!(
        store.reserve(&far(60), &lease, NOW).await.unwrap(),
        Reserved::NearLimit {
            claim: 1,
            usage: WindowUsage::default()
        }
    );
    let windows = [roomy.0.clone(), tight.0.clone()];
    assert_eq!(
        store.usage(&windows).await.unwrap(),
        [WindowUsage::default(), WindowUsage::default()]
    );
    assert!(matches!(
        store.reserve(&far(50), &lease, NOW).await.unwrap(),
        Reserved::Granted { .. }
    ));
}

/// The outcome of one task's calls while the cluster fails over.
#[derive(Default)]
struct Tally {
    settled: Usd,
    unreachable: u64,
    /// Worst cases of reservations refused as unreachable: each may have
    /// been held before its reply was lost.
    unknown: Usd,
    /// Each unsettled call's settlements.
    unsettled: Vec<Vec<Settlement>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_primary_fails_its_calls_closed_and_its_replica_takes_over() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let victim_prefix = unique_prefix("failover");
    let victim = cluster
        .primary_of(&format!("{{{victim_prefix}}}"), cluster.ports[0])
        .unwrap();
    // A node to ask about the cluster that stays up.
    let ask = cluster
        .ports
        .iter()
        .copied()
        .find(|p| *p != victim)
        .unwrap();
    // A fleet whose slot is on another primary.
    let bystander_prefix = (0..)
        .map(|n| format!("{victim_prefix}:other{n}"))
        .find(|p| cluster.primary_of(&format!("{{{p}}}"), ask) != Some(victim))
        .unwrap();
    let store = Arc::new(store_on(&cluster, &victim_prefix).await);
    let bystander = Arc::new(store_on(&cluster, &bystander_prefix).await);
    let limits = limits();

    // Before the failure: a few calls, copied to the replica.
    let mut before = Usd::ZERO;
    for n in 0..20 {
        match call(&store, &limits, 1 << 40 | n, Usd::from_cents(10)).await {
            Call::Settled(cost) => before += cost,
            _ => panic!("the cluster is up"),
        }
    }
    cluster.sync_replica(victim, &format!("{{{victim_prefix}}}"));

    // Calls that succeeded after their task saw the outage.
    let recovered_calls = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let store = Arc::clone(&store);
            let limits = limits.clone();
            let (recovered_calls, stop) = (Arc::clone(&recovered_calls), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    n += 1;
                    let worst = Usd::from_nanos(1_000_000 + n);
                    match call(&store, &limits, task << 32 | n, worst).await {
                        Call::Settled(cost) => {
                            tally.settled += cost;
                            if tally.unreachable > 0 {
                                recovered_calls.fetch_add(1, Ordering::AcqRel);
                            }
                        }
                        Call::Unreachable => {
                            tally.unreachable += 1;
                            tally.unknown += worst;
                        }
                        Call::Unsettled(settlement) => tally.unsettled.push(settlement),
                        Call::Refused => panic!("no cap is near"),
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                tally
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    cluster.kill(victim);

    // The other primaries' fleets are served all along.
    let mut bystander_settled = Usd::ZERO;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut n = 0;
    let recovered = loop {
        n += 1;
        match call(&bystander, &limits, 2 << 40 | n, Usd::from_cents(1)).await {
            Call::Settled(cost) => bystander_settled += cost,
            Call::Unreachable => panic!("a primary that is up was unreachable for its fleet"),
            Call::Unsettled(_) => panic!("a primary that is up refused a settlement"),
            Call::Refused => panic!("no cap is near"),
        }
        let new_primary = cluster.primary_of(&format!("{{{victim_prefix}}}"), ask);
        let victim_after = cluster
            .cli(ask, &["CLUSTER", "INFO"])
            .is_ok_and(|r| r.contains("cluster_state:ok"))
            && new_primary.is_some_and(|p| p != victim);
        if victim_after || Instant::now() > deadline {
            break victim_after;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(recovered, "no replica took over within a minute");
    assert!(bystander_settled > Usd::ZERO);
    // The fleet's own calls find the new primary by themselves.
    let deadline = Instant::now() + Duration::from_secs(30);
    while recovered_calls.load(Ordering::Acquire) < 8 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Release);

    let mut total = Tally::default();
    for task in tasks {
        let tally = task.await.unwrap();
        total.settled += tally.settled;
        total.unreachable += tally.unreachable;
        total.unknown += tally.unknown;
        total.unsettled.extend(tally.unsettled);
    }
    // Fails closed: calls on the dead primary's slot were refused …
    assert!(total.unreachable > 0, "no call saw the primary fail");
    // … and recovers by itself: the same store's calls succeed again.
    assert!(
        recovered_calls.load(Ordering::Acquire) > 0,
        "no call succeeded after the replica took over"
    );
    // Settlements refused during the outage are recorded now.
    for settlements in &total.unsettled {
        store.settle(settlements, NOW).await.unwrap();
    }
    let windows: Vec<WindowRef> = limits.iter().map(|(w, _)| w.clone()).collect();
    let usage = store.usage(&windows).await.unwrap();
    for u in &usage {
        // Never counted twice: spend is at most what was settled …
        assert!(u.spent <= before + total.settled + unsettled_costs(&total.unsettled));
        // … and what was copied to the replica before the failure is kept.
        assert!(
            u.spent >= before,
            "{u:?} lost spend from before the failure"
        );
        // Holds left are at most the reservations whose replies were lost.
        assert!(u.held <= total.unknown, "{u:?} holds more than was unknown");
    }
}

/// What the calls whose settlements were retried cost.
fn unsettled_costs(calls: &[Vec<Settlement>]) -> Usd {
    calls
        .iter()
        .filter_map(|c| c.first())
        .map(|s| s.spent)
        .sum()
}

/// A cluster whose nodes speak only TLS, to clients and to each other,
/// and want a client certificate and a password.
#[tokio::test]
async fn a_cluster_over_tls_serves_a_store_with_the_ca_and_a_client_certificate() {
    use super::redis_tls::{assert_no_secrets, path_text, Certificates, PASSWORD};
    let certificates = Certificates::make();
    let file = |name: &str| path_text(&certificates.path(name));
    let mut server = certificates.server_args();
    // The nodes present the client certificate to one another.
    server.extend([
        "--tls-client-cert-file".into(),
        file("client.pem"),
        "--tls-client-key-file".into(),
        file("client.key"),
    ]);
    let cli = [
        "--tls",
        "--cacert",
        &file("ca.pem"),
        "--cert",
        &file("client.pem"),
        "--key",
        &file("client.key"),
        "-a",
        PASSWORD,
        "--no-auth-warning",
    ]
    .map(str::to_owned)
    .to_vec();
    let Some(cluster) = Cluster::start_as(Shape::Tls, Some(Tls { server, cli })) else {
        return;
    };
    let nodes = format!(
        "127.0.0.1:{},127.0.0.1:{}",
        cluster.ports[0], cluster.ports[1]
    );
    let url = format!("rediss+cluster://:{PASSWORD}@{nodes}");
    let prefix = unique_prefix("cluster-tls");

    // Without the CA the nodes' certificates are not trusted.
    let untrusted = RedisStore::builder(&url)
        .key_prefix(&prefix)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(untrusted, StoreError::Unreachable { .. }),
        "{untrusted}"
    );
    assert_no_secrets(&untrusted.to_string(), &certificates);

    // TLS settings for a cluster URL that is not TLS say so.
    let plain = RedisStore::builder(format!("redis+cluster://{nodes}"))
        .tls_ca_file(certificates.path("ca.pem"))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&plain, StoreError::Config(m) if m.contains("rediss+cluster://")),
        "{plain}"
    );

    let builder = RedisStore::builder(&url)
        .key_prefix(&prefix)
        .tls_ca_file(certificates.path("ca.pem"))
        .tls_client_files(
            certificates.path("client.pem"),
            certificates.path("client.key"),
        );
    assert_no_secrets(&format!("{builder:?}"), &certificates);
    let store = builder.connect().await.expect("the TLS cluster accepts us");
    assert_eq!(store.server(), format!("rediss+cluster://{nodes}"));
    assert_no_secrets(&format!("{store:?}"), &certificates);
    let limits = limits();
    let mut settled = Usd::ZERO;
    for n in 0..5 {
        match call(&store, &limits, n + 1, Usd::from_cents(10)).await {
            Call::Settled(cost) => settled += cost,
            _ => panic!("the TLS cluster is up"),
        }
    }
    let windows: Vec<WindowRef> = limits.iter().map(|(w, _)| w.clone()).collect();
    for u in store.usage(&windows).await.unwrap() {
        assert_eq!(u, WindowUsage::new(settled, Usd::ZERO));
    }
}
