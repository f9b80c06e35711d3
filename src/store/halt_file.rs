//! [`HaltFile`]: a kill switch that is a path on disk. Creating the path
//! halts every process on the host that watches it.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::halt::Halt;
use crate::store::StoreError;

/// A halt flag kept as a file: while the file exists, spend is halted.
///
/// The file holds the [`Halt`] as JSON (who, why, when). Any file at the
/// path counts, even an empty one made with `touch`, so a person in a
/// hurry needs nothing but a shell.
///
/// ```
/// use spendguard::halt::Halt;
/// use spendguard::store::HaltFile;
///
/// let dir = std::env::temp_dir().join(format!("spendguard-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let flag = HaltFile::new(dir.join("HALT"));
/// assert_eq!(flag.read()?, None);
/// flag.write(&Halt::new("ops@alice", "bill spike on the nightly job"))?;
/// assert_eq!(flag.read()?.map(|h| h.reason), Some("bill spike on the nightly job".into()));
/// assert!(flag.remove()?.is_some());
/// assert_eq!(flag.read()?, None);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaltFile {
    path: PathBuf,
}

impl HaltFile {
    /// A flag at `path`; nothing is created until [`write`](HaltFile::write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        HaltFile { path: path.into() }
    }

    /// The flag's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the flag is set: one `stat`, cheap enough for every call.
    pub fn is_set(&self) -> bool {
        self.path.exists()
    }

    /// The halt, if the file exists. A file whose contents cannot be read
    /// as a halt still halts: it reads as a halt by `unknown` naming the file.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file exists but cannot be read.
    pub fn read(&self) -> Result<Option<Halt>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Halt::new(
                    "unknown",
                    format!("the halt file {} exists", self.path.display()),
                )
            }))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.io(source)),
        }
    }

    /// Sets the flag: writes the halt beside the path and renames it into
    /// place, so a reader never sees half a file.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file cannot be written.
    pub fn write(&self, halt: &Halt) -> Result<(), StoreError> {
        let mut temp = self.path.clone().into_os_string();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        let json = serde_json::to_vec(halt).map_err(|e| self.io(std::io::Error::other(e)))?;
        let written = std::fs::File::create(&temp)
            .and_then(|mut file| file.write_all(&json).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temp, &self.path));
        written.map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            self.io(source)
        })
    }

    /// Clears the flag; returns the halt that was set, if any.
    ///
    /// # Errors
    /// [`StoreError::Io`] if the file exists but cannot be removed.
    pub fn remove(&self) -> Result<Option<Halt>, StoreError> {
        let halt = self.read()?;
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(halt),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(self.io(source)),
        }
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_flag(name: &str) -> HaltFile {
        let dir =
            std::env::temp_dir().join(format!("spendguard-halt-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        HaltFile::new(dir.join("HALT"))
    }

    #[test]
    fn an_empty_file_made_by_touch_still_halts() {
        let flag = temp_flag("touch");
        std::fs::write(flag.path(), b"").unwrap();
        let halt = flag.read().unwrap().expect("halted");
        assert_eq!(halt.by, "unknown");
        assert!(halt.reason.contains("HALT"));
        flag.remove().unwrap();
        assert!(!flag.is_set());
    }

    #[test]
    fn removing_an_absent_flag_is_not_an_error() {
        assert_eq!(temp_flag("absent").remove().unwrap(), None);
    }

    #[test]
    fn a_flag_in_a_missing_directory_cannot_be_written() {
        let flag = HaltFile::new("/nonexistent-spendguard-dir/HALT");
        assert!(matches!(
            flag.write(&Halt::new("me", "test")),
            Err(StoreError::Io { .. })
        ));
    }
}
