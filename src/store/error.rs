//! [`StoreError`]: a store that could not answer.

/// A [`SpendStore`](super::SpendStore) could not answer. The guard fails
/// closed on it: the call is refused, never let through unmetered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store's server could not be reached or stopped answering.
    #[error(
        "the spend store at {store} is unreachable ({detail}); calls are refused until it is back"
    )]
    Unreachable {
        /// Where the store is, with any password removed.
        store: String,
        /// What failed.
        detail: String,
    },
    /// A file the store keeps could not be read or written.
    #[error("the spend store file {path} could not be used: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store answered with something it should never hold.
    #[error("the spend store at {store} holds data this version cannot read: {detail}")]
    Corrupt {
        /// Where the store is.
        store: String,
        /// What was wrong.
        detail: String,
    },
    /// A store setting that cannot work.
    #[error("the spend store cannot be set up: {0}")]
    Config(String),
}
