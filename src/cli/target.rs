//! Which store `halt`, `resume` and `status` act on (`--flag`, `--store`
//! or `--redis`), opened on a runtime of the command's own.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::str::FromStr;

use crate::cli::error::CliError;
use crate::store::{MemoryStore, SpendStore};

/// The store a command acts on: exactly one of the three.
#[derive(Debug, clap::Args)]
pub(crate) struct Target {
    /// A bare halt file, as `MemoryStore::with_halt_file` watches.
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["store", "redis"],
        required_unless_present_any = ["store", "redis"]
    )]
    flag: Option<PathBuf>,
    /// A `FileStore` log; its halt file is the log's path with `.halt` appended.
    #[arg(long, value_name = "PATH", conflicts_with = "redis")]
    store: Option<PathBuf>,
    /// A `RedisStore` server, `redis://[user:password@]host[:port][/db]`
    /// (needs a spendguard built with `--features cli,redis`).
    #[arg(long, value_name = "URL")]
    redis: Option<RedisUrl>,
    /// The Redis key prefix the guards use (default: `spendguard`).
    #[arg(long, value_name = "PREFIX", conflicts_with_all = ["flag", "store"])]
    prefix: Option<String>,
}

/// A Redis URL, which may carry a password: never shown by `Debug`.
#[derive(Clone)]
pub(crate) struct RedisUrl(String);

impl FromStr for RedisUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(RedisUrl(url.to_owned()))
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisUrl(..)")
    }
}

impl Target {
    /// Whether the target keeps counters: a bare halt file keeps none.
    pub(crate) fn keeps_counters(&self) -> bool {
        self.flag.is_none()
    }

    /// The Redis key prefix.
    fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or("spendguard")
    }

    /// Opens the store. A `--store` log must exist already: a mistyped
    /// path should not quietly start a new store nobody uses.
    pub(crate) async fn open(&self) -> Result<Box<dyn SpendStore>, CliError> {
        if let Some(path) = &self.flag {
            return Ok(Box::new(MemoryStore::new().with_halt_file(path)));
        }
        if let Some(path) = &self.store {
            return open_file_store(path);
        }
        match &self.redis {
            Some(url) => open_redis(&url.0, self.prefix()).await,
            None => Err(CliError::Usage(
                "name the store: --flag PATH, --store PATH or --redis URL".into(),
            )),
        }
    }
}

impl fmt::Display for Target {
    /// `the halt file /run/HALT`, `the store spend.log`, `Redis prefix spendguard`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.flag {
            write!(f, "the halt file {}", path.display())
        } else if let Some(path) = &self.store {
            write!(f, "the store {}", path.display())
        } else {
            write!(f, "Redis prefix {}", self.prefix())
        }
    }
}

#[cfg(unix)]
fn open_file_store(path: &std::path::Path) -> Result<Box<dyn SpendStore>, CliError> {
    std::fs::metadata(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(Box::new(crate::store::FileStore::open(path)?))
}

#[cfg(not(unix))]
fn open_file_store(_path: &std::path::Path) -> Result<Box<dyn SpendStore>, CliError> {
    Err(CliError::Usage(
        "--store needs a Unix host: the file store relies on flock".into(),
    ))
}

#[cfg(feature = "redis")]
async fn open_redis(url: &str, prefix: &str) -> Result<Box<dyn SpendStore>, CliError> {
    let store = crate::store::RedisStore::builder(url)
        .key_prefix(prefix)
        .connect()
        .await?;
    Ok(Box::new(store))
}

#[cfg(not(feature = "redis"))]
async fn open_redis(_url: &str, _prefix: &str) -> Result<Box<dyn SpendStore>, CliError> {
    Err(CliError::Usage(
        "this spendguard was built without Redis support; rebuild it with `--features cli,redis` to use --redis".into(),
    ))
}

/// Runs a command's store calls on a current-thread runtime of its own.
pub(crate) fn block_on<F: Future>(work: F) -> Result<F::Output, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    Ok(runtime.block_on(work))
}

#[cfg(all(test, not(feature = "redis")))]
mod tests {
    use super::*;

    #[test]
    fn redis_without_the_feature_says_how_to_rebuild() {
        let error = block_on(open_redis("redis://127.0.0.1:6379", "spendguard"))
            .unwrap()
            .unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(error.to_string().contains("--features cli,redis"));
    }
}
