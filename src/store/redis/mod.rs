//! [`RedisStore`]: shared limits for a fleet, kept in one Redis server.

mod cluster_url;
mod fallback;
mod keys;
mod link;
mod reply;
mod scripts;
mod server;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::{ErrorKind, IntoConnectionInfo, ProtocolVersion, RedisError, ScriptInvocation, Value};

use crate::halt::Halt;
use crate::money::Usd;
use crate::store::{
    Claim, CounterSummary, HaltFlag, Lease, Orphan, Reserved, Settled, Settlement, SpendStore,
    StoreError, WindowRef, WindowUsage,
};

use cluster_url::ClusterUrl;
use fallback::{AllowanceUsedUp, Fallback};
use keys::{KeyKind, Keys};
use link::Link;
use reply::{BadReply, ReserveReply};
use scripts::{LimitTooLarge, Scripts};
use server::Server;
use tls::{Pem, TlsSettings};

/// The ticket of a reservation held in Redis.
const REDIS_TICKET: u64 = 0;
/// The ticket of a reservation held in the fail-open fallback, so that its
/// settlement goes there too.
const FALLBACK_TICKET: u64 = 1;
/// How often the cluster client may resend a call (a redirection, a
/// reconnection) within the timeout.
const CLUSTER_RETRIES: u32 = 3;

/// Counters and the halt flag in Redis, shared by every process that
/// connects with the same key prefix: the store for a fleet.
///
/// - **One round trip per call.** A reservation is one Lua script (sent as
///   `EVALSHA`) that checks the halt key, adds up every claim's window and,
///   only if all fit, holds the amount in each: all or none, atomic
///   however many processes race. A settlement is one script too.
/// - **Keys expire after their window.** Each bucket is a hash
///   `{prefix}:c:{counter}:{bucket}` with fields `spent` and `held` (one
///   key, so one expiry and one read per bucket), kept until its window
///   ends plus [`EXPIRY_MARGIN`](RedisStore::EXPIRY_MARGIN); all-time
///   counters never expire. Expiries are relative to the guard's clock.
/// - **Halting the fleet** sets `{prefix}:halt` to the [`Halt`] as JSON.
///   Any value there halts, so `redis-cli SET spendguard:halt now` works
///   in a hurry; deleting it resumes.
/// - **Reconnects on its own.** A lost connection is re-established on the
///   next call; a call that finds the server down fails after
///   [`timeout`](RedisStoreBuilder::timeout) at most.
/// - **Fails closed.** While Redis cannot be reached every reservation is
///   refused with [`StoreError::Unreachable`], unless the store was built
///   with [`fail_open`](RedisStoreBuilder::fail_open), which grants calls
///   from a small allowance kept in this process instead.
///
/// Limits must be at most [`MAX_LIMIT`](RedisStore::MAX_LIMIT) (about $9
/// million per window), the largest Lua counts exactly. It needs a tokio
/// runtime, and one Redis server (or primary): Redis 6 or later, or Redis
/// 5 with `?protocol=resp2` in the URL (RESP3, the default, lets a dropped
/// connection be replaced before the next call); Valkey works as Redis
/// does. TLS with a `rediss://` URL (rustls; the system's CAs, or
/// [`tls_ca_pem`](RedisStoreBuilder::tls_ca_pem) and a client certificate
/// with [`tls_client_pem`](RedisStoreBuilder::tls_client_pem)), plain TCP
/// and Unix sockets.
///
/// **Redis Cluster** with a `redis+cluster://host:port,host:port` URL
/// (`rediss+cluster://` for TLS): every key of one key prefix, the halt key
/// too, carries the prefix as its hash tag (`{spendguard}:c:…`), so all of
/// a fleet's counters are in one slot and each reservation stays one
/// script. A fleet's load is on one primary; fleets with other prefixes
/// spread over the others. While that primary is down every call is
/// refused with [`StoreError::Unreachable`] (or granted from the fail-open
/// allowance), never counted twice; once a replica takes over, calls
/// succeed again without a restart. Redis replicates asynchronously: what
/// the failed primary acknowledged in its last moments and had not yet
/// passed on is gone with it.
///
/// ```no_run
/// use spendguard::guard::{SharedLimit, SpendGuard, Window};
/// use spendguard::tags::TagKind;
/// use spendguard::store::RedisStore;
/// use spendguard::Usd;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::connect("redis://cache.internal:6379/0").await?;
/// let guard = SpendGuard::builder()
///     .store(store)
///     .limit(SharedLimit::each(TagKind::Customer, Usd::from_dollars(20.0)?, Window::Day))
///     .limit(SharedLimit::global(Usd::from_dollars(2_000.0)?, Window::Month))
///     .build()?;
/// # let _ = guard;
/// # Ok(())
/// # }
/// ```
pub struct RedisStore {
    connection: Link,
    server: Server,
    keys: Keys,
    scripts: Scripts,
    fallback: Option<Fallback>,
    halted: AtomicBool,
    halt: Mutex<Option<Halt>>,
}

/// Configures a [`RedisStore`]; start with [`RedisStore::builder`].
#[must_use = "a builder does nothing until `connect` is awaited"]
pub struct RedisStoreBuilder {
    url: String,
    key_prefix: String,
    timeout: Duration,
    fail_open: Option<Usd>,
    tls: TlsSettings,
}

impl RedisStoreBuilder {
    /// Trusts this CA (PEM) for a `rediss://` server instead of the
    /// system's CAs: a private CA, or a managed service's.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// [`tls_ca_pem`](RedisStoreBuilder::tls_ca_pem) from a file, read
    /// when connecting.
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls.ca = Some(Pem::File(path.into()));
        self
    }

    /// Presents this client certificate and its private key (both PEM) to
    /// a `rediss://` server that asks for one (`tls-auth-clients yes`).
    pub fn tls_client_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.tls.client = Some((Pem::Bytes(cert.into()), Pem::Bytes(key.into())));
        self
    }

    /// [`tls_client_pem`](RedisStoreBuilder::tls_client_pem) from files,
    /// read when connecting.
    pub fn tls_client_files(
        mut self,
        cert: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.tls.client = Some((Pem::File(cert.into()), Pem::File(key.into())));
        self
    }

    /// The prefix of every key (default `spendguard`). Processes that share
    /// limits use the same prefix; a different prefix is a separate set of
    /// limits and a separate halt on the same server.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long a round trip, or an attempt to connect, may take before the
    /// server counts as unreachable (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Opts in to failing open: while Redis cannot be reached, calls are
    /// checked against counters in this process instead, where every
    /// window's limit is the smaller of its own and `fallback`. So each
    /// process may spend up to `fallback` per window (per day, per rolling
    /// hour…) of each limit during an outage, and no more.
    ///
    /// Spend during an outage is not pushed back to Redis when it returns:
    /// it stays in this process's fallback counters, which keep counting
    /// it against the allowance for the rest of the window. A reservation
    /// held in Redis before the outage that cannot be settled stays held
    /// there until its window ends. Reading usage and halting the fleet
    /// still need Redis and fail while it is away; a halt seen before the
    /// outage keeps refusing calls.
    pub fn fail_open(mut self, fallback: Usd) -> Self {
        self.fail_open = Some(fallback);
        self
    }

    /// Connects and loads the store's scripts.
    ///
    /// # Errors
    /// [`StoreError::Config`] for a URL that cannot be used, TLS settings
    /// without a `rediss://` URL or whose files cannot be read, an empty
    /// key prefix, a zero timeout, or no tokio runtime; [`StoreError::Unreachable`] if the
    /// server cannot be reached or refuses the connection (a wrong
    /// password, scripts not allowed). A fail-open store whose server is
    /// merely down connects anyway and starts on its fallback.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        self.check()?;
        let (connection, server, cluster) = match ClusterUrl::parse(&self.url) {
            Some(url) => self.cluster_link(url.map_err(StoreError::Config)?)?,
            None => self.server_link()?,
        };
        let store = RedisStore {
            connection,
            server,
            keys: Keys::new(&self.key_prefix, cluster),
            scripts: Scripts::new(),
            fallback: self.fail_open.map(Fallback::new),
            halted: AtomicBool::new(false),
            halt: Mutex::new(None),
        };
        match store.load_scripts().await {
            Ok(()) => Ok(store),
            Err(e) if store.fallback.is_some() && server::is_outage(&e) => Ok(store),
            Err(e) => Err(store.server.unreachable(&e)),
        }
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.key_prefix.is_empty() {
            return Err(StoreError::Config(
                "the Redis key prefix is empty; leave the default `spendguard` or name your fleet"
                    .into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(StoreError::Config(
                "a Redis timeout of zero fails every call; give it at least a millisecond".into(),
            ));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::Config(
                "RedisStore runs on tokio; connect it from within a tokio runtime".into(),
            ));
        }
        Ok(())
    }

    /// The link to one server: a connection manager, which reconnects.
    fn server_link(&self) -> Result<(Link, Server, bool), StoreError> {
        let info = self
            .url
            .as_str()
            .into_connection_info()
            .map_err(|e| config_error(&e))?;
        let server = Server::new(&info);
        let info = if names_protocol(&self.url) {
            info
        } else {
            // RESP3 lets the server's push of a closed connection reach the
            // connection manager, which then reconnects before the next
            // call instead of failing it.
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            info.set_redis_settings(settings)
        };
        let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        let client = if self.tls.is_set() {
            self.tls_over(tls)?;
            redis::Client::build_with_tls(info, self.tls.certificates()?)
        } else {
            redis::Client::open(info)
        }
        .map_err(|e| config_error(&e))?;
        // No retries inside the connection manager: a call during an
        // outage fails after one attempt, and the next call tries afresh.
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|e| config_error(&e))?;
        Ok((Link::Server(connection), server, false))
    }

    /// The link to a cluster: redis's cluster client, which finds the
    /// slots' primaries and follows them when they move.
    fn cluster_link(&self, url: ClusterUrl) -> Result<(Link, Server, bool), StoreError> {
        let server = Server::cluster(&url).map_err(|e| config_error(&e))?;
        // A few quick retries within the timeout: a call sent as a slot
        // moves is redirected, or refused once the timeout is spent. A
        // reservation sent twice is held once (see `reserve.lua`).
        let mut builder = ClusterClient::builder(url.nodes.iter().map(String::as_str))
            .retries(CLUSTER_RETRIES)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .connection_timeout(self.timeout)
            .response_timeout(self.timeout);
        if self.tls.is_set() {
            self.tls_over(url.tls)?;
            builder = builder.certs(self.tls.certificates()?);
        }
        let client = builder.build().map_err(|e| config_error(&e))?;
        let config = ClusterConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let connection = client.get_pending_async_connection_with_config(config);
        Ok((Link::Cluster(connection), server, true))
    }

    /// Refuses TLS settings for a URL that is not TLS.
    fn tls_over(&self, tls: bool) -> Result<(), StoreError> {
        if tls {
            return Ok(());
        }
        Err(StoreError::Config(
            "a TLS CA or client certificate is set, but the Redis URL is not \
             `rediss://` (or `rediss+cluster://`); use it to connect over TLS"
                .into(),
        ))
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let server = match ClusterUrl::parse(&self.url) {
            Some(url) => url.map_or_else(|_| None, |url| Some(url.name)),
            None => self
                .url
                .as_str()
                .into_connection_info()
                .ok()
                .map(|info| Server::new(&info).name().to_owned()),
        }
        .unwrap_or_else(|| "<a URL that does not parse>".into());
        f.debug_struct("RedisStoreBuilder")
            .field("server", &server)
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Whether the URL chooses a protocol (`?protocol=resp2` for a server older
/// than Redis 6, which has no RESP3).
fn names_protocol(url: &str) -> bool {
    url.split_once('?')
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.starts_with("protocol=")))
}

fn config_error(error: &RedisError) -> StoreError {
    let detail = error
        .detail()
        .map_or_else(String::new, |d| format!(" ({d})"));
    let what = match error.kind() {
        ErrorKind::InvalidClientConfig => "the Redis URL cannot be used",
        _ => "the Redis client cannot be set up",
    };
    // The category text, never the URL: it may hold a password.
    StoreError::Config(format!("{what}: {}{detail}", error.category()))
}

impl RedisStore {
    /// The largest limit the store checks: 2^53 − 1 nano-dollars
    /// ($9,007,199.254740991) per window, the largest integer Redis's Lua
    /// counts exactly. A claim with a larger limit is refused with
    /// [`StoreError::Config`]. Spend recorded in a bucket stops growing at
    /// 2^53, above every limit.
    pub const MAX_LIMIT: Usd = Usd::from_nanos((1 << 53) - 1);

    /// How long a bucket outlives its window (one hour). The reservation
    /// that makes a bucket sets its expiry by its own clock, so hosts whose
    /// clocks disagree by less than this never see a window's counts vanish
    /// before the window ends.
    pub const EXPIRY_MARGIN: Duration = Duration::from_secs(3_600);

    /// Connects with the defaults: key prefix `spendguard`, 1 s timeout,
    /// failing closed.
    ///
    /// # Errors
    /// As [`RedisStoreBuilder::connect`].
    pub async fn connect(url: &str) -> Result<RedisStore, StoreError> {
        RedisStore::builder(url).connect().await
    }

    /// Starts configuring a store for the server at `url`
    /// (`redis://[user:password@]host[:port][/db]`, `rediss://…` for TLS,
    /// or `redis+unix:///path?db=0`), or for the Redis Cluster at
    /// `redis+cluster://[user:password@]host:port,host:port` (a few seed
    /// nodes; the client finds the rest), `rediss+cluster://…` for TLS.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use spendguard::store::RedisStore;
    /// use spendguard::Usd;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisStore::builder("redis://:s3cret@cache.internal:6379/0")
    ///     .key_prefix("acme-agents")
    ///     .timeout(Duration::from_millis(250))
    ///     .fail_open(Usd::from_dollars(5.0)?)
    ///     .connect()
    ///     .await?;
    /// assert_eq!(store.server(), "redis://cache.internal:6379/0");
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            key_prefix: "spendguard".into(),
            timeout: Duration::from_secs(1),
            fail_open: None,
            tls: TlsSettings::default(),
        }
    }

    /// The server, as `redis://host:port/db` (a cluster as
    /// `redis+cluster://host:port,host:port`), without credentials.
    pub fn server(&self) -> &str {
        self.server.name()
    }

    /// The prefix of every key this store uses.
    pub fn key_prefix(&self) -> &str {
        self.keys.prefix()
    }

    async fn load_scripts(&self) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        for script in self.scripts.all() {
            script.prepare_invoke().load_async(&mut connection).await?;
        }
        Ok(())
    }

    /// Runs a script. A refused connection means the request never left,
    /// so it is tried once more: by then the connection manager has started
    /// a fresh connection, and a server that just came back answers.
    async fn run(&self, call: &ScriptInvocation<'_>) -> Result<Value, RedisError> {
        let mut connection = self.connection.clone();
        match call.invoke_async(&mut connection).await {
            Err(e) if e.is_connection_refusal() => call.invoke_async(&mut connection).await,
            answered => answered,
        }
    }

    async fn reserve_in_redis(
        &self,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
    ) -> Result<Result<Reserved, StoreError>, RedisError> {
        let call = match self.scripts.reserve(&self.keys, claims, lease, now) {
            Ok(call) => call,
            Err(LimitTooLarge(max)) => return Ok(Err(limit_too_large(max))),
        };
        let reply = self.run(&call).await?;
        Ok(match reply::reserve(&reply, claims.len()) {
            Ok(ReserveReply::Granted(usage)) => {
                self.saw_halt(None);
                Ok(Reserved::Granted {
                    usage,
                    ticket: REDIS_TICKET,
                })
            }
            Ok(ReserveReply::Refused { claim, usage }) => {
                self.saw_halt(None);
                Ok(Reserved::Refused { claim, usage })
            }
            Ok(ReserveReply::NearLimit { claim, usage }) => {
                self.saw_halt(None);
                Ok(Reserved::NearLimit { claim, usage })
            }
            Ok(ReserveReply::Halted(value)) => {
                let halt = self.read_halt(&value);
                self.saw_halt(Some(halt.clone()));
                Ok(Reserved::Halted(halt))
            }
            Err(BadReply(detail)) => Err(self.server.corrupt(detail)),
        })
    }

    fn reserve_in_fallback(
        &self,
        fallback: &Fallback,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
        outage: &RedisError,
    ) -> Result<Reserved, StoreError> {
        // A halt seen before the outage still holds.
        if let Some(halt) = self.halted_now() {
            return Ok(Reserved::Halted(halt));
        }
        if let Some(claim) = claims.iter().find(|c| c.max > RedisStore::MAX_LIMIT) {
            return Err(limit_too_large(claim.max));
        }
        fallback
            .reserve(claims, lease, now, FALLBACK_TICKET)
            .map_err(|AllowanceUsedUp| StoreError::Unreachable {
                store: self.server.name().to_owned(),
                detail: format!(
                    "{}; the fail-open allowance of {} per window in this process is used up",
                    self.server.describe(outage),
                    fallback.cap()
                ),
            })
    }

    async fn settle_in_redis(
        &self,
        settlements: &[&Settlement],
    ) -> Result<Vec<Settled>, StoreError> {
        let call = self.scripts.settle(&self.keys, settlements.iter().copied());
        let reply = self
            .run(&call)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        reply::settled(&reply, settlements.len()).map_err(|BadReply(d)| self.server.corrupt(d))
    }

    /// The counter and bucket of every key of `kind`, in one `SCAN` pass.
    async fn scan(&self, kind: KeyKind) -> Result<Vec<(String, u64)>, StoreError> {
        let mut connection = self.connection.clone();
        let mut found = Vec::new();
        let mut cursor = 0u64;
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(self.keys.pattern(kind))
                .arg("COUNT")
                .arg(1_000);
            let reply = connection
                .send_beside(&scan, self.keys.halt())
                .await
                .map_err(|e| self.server.unreachable(&e))?;
            let (next, keys): (u64, Vec<String>) = redis::from_redis_value(reply)
                .map_err(|e| self.server.corrupt(format!("a SCAN reply: {e}")))?;
            found.extend(
                keys.iter()
                    .filter_map(|key| self.keys.parse(kind, key))
                    .map(|(counter, bucket)| (counter.to_owned(), bucket)),
            );
            if next == 0 {
                return Ok(found);
            }
            cursor = next;
        }
    }

    /// A halt key's value: a [`Halt`] as JSON, or anything else, which
    /// still halts.
    fn read_halt(&self, value: &[u8]) -> Halt {
        serde_json::from_slice(value).unwrap_or_else(|_| {
            Halt::new(
                "unknown",
                format!("the Redis key {} is set", self.keys.halt()),
            )
        })
    }

    fn saw_halt(&self, halt: Option<Halt>) {
        // The common case, no halt before or now, takes no lock.
        if halt.is_none() && !self.halted.load(Ordering::Acquire) {
            return;
        }
        let mut current = self.halt.lock();
        self.halted.store(halt.is_some(), Ordering::Release);
        *current = halt;
    }
}

fn limit_too_large(max: Usd) -> StoreError {
    StoreError::Config(format!(
        "a limit of {max} is above the largest the Redis store counts exactly ({}); \
         split it into smaller scopes or windows",
        RedisStore::MAX_LIMIT
    ))
}

#[async_trait]
impl SpendStore for RedisStore {
    async fn reserve(
        &self,
        claims: &[Claim],
        lease: &Lease,
        now: Duration,
    ) -> Result<Reserved, StoreError> {
        match self.reserve_in_redis(claims, lease, now).await {
            Ok(decided) => decided,
            Err(e) => match &self.fallback {
                Some(fallback) if server::is_outage(&e) => {
                    self.reserve_in_fallback(fallback, claims, lease, now, &e)
                }
                _ => Err(self.server.unreachable(&e)),
            },
        }
    }

    /// One script for all the windows. A lease held in the fail-open
    /// fallback is renewed there as well.
    async fn renew(
        &self,
        windows: &[WindowRef],
        lease: &Lease,
        now: Duration,
    ) -> Result<bool, StoreError> {
        if let Some(fallback) = &self.fallback {
            if fallback.renew(windows, lease, now) {
                return Ok(true);
            }
        }
        let call = self.scripts.renew(&self.keys, windows, lease, now);
        let reply = self
            .run(&call)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        reply::renewed(&reply).map_err(|BadReply(d)| self.server.corrupt(d))
    }

    /// One `SCAN` pass over the lease sets and one over the orphan hashes;
    /// a sweep script for each bucket with leases. Orphans of the fail-open
    /// fallback are not listed.
    async fn orphans(&self, now: Duration) -> Result<Vec<Orphan>, StoreError> {
        let mut buckets = self.scan(KeyKind::Leases).await?;
        buckets.extend(self.scan(KeyKind::Orphans).await?);
        buckets.sort_unstable();
        buckets.dedup();
        let mut orphans = Vec::new();
        for (counter, bucket) in buckets {
            let call = self.scripts.sweep(&self.keys, &counter, bucket, now);
            let reply = self
                .run(&call)
                .await
                .map_err(|e| self.server.unreachable(&e))?;
            let found = reply::orphans(&reply, &counter, bucket)
                .map_err(|BadReply(d)| self.server.corrupt(d))?;
            orphans.extend(found);
        }
        Ok(orphans)
    }

    async fn settle(
        &self,
        settlements: &[Settlement],
        _now: Duration,
    ) -> Result<Vec<Settled>, StoreError> {
        let in_fallback = |s: &Settlement| s.ticket == FALLBACK_TICKET && self.fallback.is_some();
        let remote: Vec<&Settlement> = settlements.iter().filter(|s| !in_fallback(s)).collect();
        let local: Vec<Settlement> = settlements
            .iter()
            .filter(|s| in_fallback(s))
            .cloned()
            .collect();
        let mut from_redis = if remote.is_empty() {
            Vec::new()
        } else {
            self.settle_in_redis(&remote).await?
        }
        .into_iter();
        let mut from_fallback = match &self.fallback {
            Some(fallback) if !local.is_empty() => fallback.settle(&local),
            _ => Vec::new(),
        }
        .into_iter();
        // Both answer one result per settlement, so each runs out together
        // with its share.
        Ok(settlements
            .iter()
            .filter_map(|s| {
                if in_fallback(s) {
                    from_fallback.next()
                } else {
                    from_redis.next()
                }
            })
            .collect())
    }

    async fn usage(&self, windows: &[WindowRef]) -> Result<Vec<WindowUsage>, StoreError> {
        let call = self.scripts.usage(&self.keys, windows);
        let reply = self
            .run(&call)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        reply::usage(&reply, windows.len()).map_err(|BadReply(d)| self.server.corrupt(d))
    }

    /// One `SCAN` pass over the bucket keys, then the `max` and `span`
    /// fields of each counter's newest bucket in one pipeline. Buckets held
    /// only in the fail-open fallback are not listed.
    async fn counters(&self) -> Result<Vec<CounterSummary>, StoreError> {
        let mut connection = self.connection.clone();
        let mut newest: BTreeMap<String, u64> = BTreeMap::new();
        for (counter, bucket) in self.scan(KeyKind::Bucket).await? {
            let known = newest.entry(counter).or_insert(bucket);
            *known = (*known).max(bucket);
        }
        if newest.is_empty() {
            return Ok(Vec::new());
        }
        let mut fields = redis::pipe();
        for (counter, bucket) in &newest {
            fields
                .cmd("HMGET")
                .arg(self.keys.bucket(counter, *bucket))
                .arg("max")
                .arg("span");
        }
        let found: Vec<(Option<String>, Option<String>)> = fields
            .query_async(&mut connection)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        Ok(newest
            .into_iter()
            .zip(found)
            .map(|((counter, bucket), (max, span))| {
                // A bucket written by an older version has neither field.
                let max = max.and_then(|m| m.parse().ok()).map(Usd::from_nanos);
                let span = span.and_then(|s| s.parse().ok()).unwrap_or(1);
                CounterSummary::new(Arc::from(counter), bucket, span, max)
            })
            .collect())
    }
}

#[async_trait]
impl HaltFlag for RedisStore {
    async fn halt(&self, halt: &Halt) -> Result<(), StoreError> {
        let json = serde_json::to_string(halt).map_err(|e| StoreError::Config(e.to_string()))?;
        let mut connection = self.connection.clone();
        redis::cmd("SET")
            .arg(self.keys.halt())
            .arg(json)
            .query_async::<()>(&mut connection)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        self.saw_halt(Some(halt.clone()));
        Ok(())
    }

    async fn resume(&self) -> Result<Option<Halt>, StoreError> {
        let mut connection = self.connection.clone();
        let (value, _deleted): (Option<Vec<u8>>, u64) = redis::pipe()
            .atomic()
            .get(self.keys.halt())
            .del(self.keys.halt())
            .query_async(&mut connection)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        self.saw_halt(None);
        Ok(value.map(|v| self.read_halt(&v)))
    }

    async fn halted(&self) -> Result<Option<Halt>, StoreError> {
        let mut connection = self.connection.clone();
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.keys.halt())
            .query_async(&mut connection)
            .await
            .map_err(|e| self.server.unreachable(&e))?;
        let halt = value.map(|v| self.read_halt(&v));
        self.saw_halt(halt.clone());
        Ok(halt)
    }

    fn halted_now(&self) -> Option<Halt> {
        if self.halted.load(Ordering::Acquire) {
            self.halt.lock().clone()
        } else {
            None
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("key_prefix", &self.keys.prefix())
            .field("fail_open", &self.fallback.as_ref().map(Fallback::cap))
            .field("halted", &self.halted.load(Ordering::Acquire))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protocol_in_the_query_is_the_users_choice() {
        assert!(names_protocol("redis://h:6379/0?protocol=resp2"));
        assert!(names_protocol("redis+unix:///run/r.sock?db=1&protocol=2"));
        assert!(!names_protocol("redis://h:6379/0"));
        assert!(!names_protocol("redis://h/0?db_protocol=x"));
    }
}
