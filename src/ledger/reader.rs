//! [`LedgerReader`]: records read back from a JSON-lines ledger, one at a
//! time, each problem located by file and line.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::ledger::record::LedgerRecord;

/// Reads a ledger file line by line, without holding more than one line.
///
/// Blank lines are skipped. A line that is not a [`LedgerRecord`] yields
/// [`LedgerReadError::Malformed`] with its file and line number, and reading
/// goes on with the next line; an I/O error ends the iteration.
///
/// ```
/// use spendguard::ledger::{LedgerReadError, LedgerReader};
///
/// let text = concat!(
///     r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"openai","model":"gpt-4o","cost_nanos":10,"cost_source":"reported","decision":"allowed"}"#, "\n",
///     r#"{"ts":"2026-11-25T06:31:00Z","provider":"openai","model":"gpt-4o","cost_nanos":"ten"}"#, "\n",
/// );
/// let mut lines = LedgerReader::new(text.as_bytes(), "ledger.jsonl");
/// assert_eq!(lines.next().unwrap()?.cost.nanos(), 10);
/// let error = lines.next().unwrap().unwrap_err();
/// assert!(error.to_string().starts_with("ledger.jsonl:2: "));
/// assert!(error.is_malformed_line());
/// assert!(lines.next().is_none());
/// # Ok::<(), LedgerReadError>(())
/// ```
#[derive(Debug)]
pub struct LedgerReader<R> {
    source: R,
    path: PathBuf,
    line: u64,
    bytes_read: u64,
    buffer: Vec<u8>,
    done: bool,
}

/// Why a ledger, or one line of it, could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerReadError {
    /// The file could not be opened.
    #[error("cannot read {}: {source}; check the path", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Reading failed part-way; nothing after `line` was read.
    #[error("{}:{line}: reading stopped: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The line being read.
        line: u64,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// One line is not a ledger record; the lines after it are still read.
    #[error("{}:{line}: {problem} (column {column})", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: u64,
        /// The 1-based column where reading stopped.
        column: usize,
        /// What is wrong, from the JSON reader.
        problem: String,
    },
}

impl LedgerReadError {
    /// `true` for a line that can be skipped: reading goes on after it.
    pub fn is_malformed_line(&self) -> bool {
        matches!(self, LedgerReadError::Malformed { .. })
    }
}

impl LedgerReader<BufReader<File>> {
    /// Opens the ledger at `path`.
    ///
    /// # Errors
    /// [`LedgerReadError::Open`] if the file cannot be opened.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerReadError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| LedgerReadError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(LedgerReader::new(
            BufReader::with_capacity(1 << 16, file),
            path,
        ))
    }
}

impl<R: BufRead> LedgerReader<R> {
    /// Reads a ledger from `source`, naming it `path` in errors.
    pub fn new(source: R, path: impl Into<PathBuf>) -> Self {
        LedgerReader {
            source,
            path: path.into(),
            line: 0,
            bytes_read: 0,
            buffer: Vec::with_capacity(512),
            done: false,
        }
    }

    /// The name errors give the ledger.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes consumed so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }
}

impl<R: BufRead> Iterator for LedgerReader<R> {
    type Item = Result<LedgerRecord, LedgerReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buffer.clear();
            self.line += 1;
            match self.source.read_until(b'\n', &mut self.buffer) {
                Ok(0) => self.done = true,
                Ok(read) => {
                    self.bytes_read += read as u64;
                    if self.buffer.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    let text = self.buffer.trim_ascii_end();
                    return Some(serde_json::from_slice(text).map_err(|error| {
                        LedgerReadError::Malformed {
                            path: self.path.clone(),
                            line: self.line,
                            column: error.column(),
                            problem: without_location(&error),
                        }
                    }));
                }
                Err(source) => {
                    self.done = true;
                    return Some(Err(LedgerReadError::Read {
                        path: self.path.clone(),
                        line: self.line,
                        source,
                    }));
                }
            }
        }
        None
    }
}

/// The JSON reader's message without its " at line 1 column N": each line
/// is read alone, so its line is always 1 and the file's line is given
/// instead.
fn without_location(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let location = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&location) {
        Some(bare) => bare.to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"ts":"2026-11-25T06:30:19.123Z","provider":"openai","model":"gpt-4o","cost_nanos":10,"cost_source":"reported","decision":"allowed"}"#;

    #[test]
    fn blank_lines_are_skipped_and_numbering_counts_them() {
        let text = format!("{GOOD}\n\n   \n{{\"ts\":\n{GOOD}");
        let read: Vec<_> = LedgerReader::new(text.as_bytes(), "l").collect();
        assert_eq!(read.len(), 3);
        assert!(read[0].is_ok());
        let error = read[1].as_ref().unwrap_err();
        assert!(
            error.to_string().starts_with("l:4: EOF while parsing"),
            "{error}"
        );
        assert!(read[2].is_ok(), "a last line without a newline is read");
    }

    #[test]
    fn a_missing_file_is_one_open_error() {
        let error = LedgerReader::open("/nonexistent/ledger.jsonl").unwrap_err();
        assert!(!error.is_malformed_line());
        assert!(error
            .to_string()
            .starts_with("cannot read /nonexistent/ledger.jsonl: "));
    }

    #[test]
    fn invalid_utf8_is_a_malformed_line() {
        let mut bytes = GOOD.as_bytes().to_vec();
        let model = GOOD.find("gpt-4o").unwrap();
        bytes[model] = 0xff;
        bytes.push(b'\n');
        let mut reader = LedgerReader::new(bytes.as_slice(), "l");
        assert!(reader.next().unwrap().unwrap_err().is_malformed_line());
        assert_eq!(reader.bytes_read(), bytes.len() as u64);
    }

    proptest::proptest! {
        /// Every line of any ledger is a record or a malformed-line error
        /// naming it; the reader never panics and always ends.
        #[test]
        fn any_ledger_reads_as_records_or_malformed_lines(
            bytes in crate::mutated::bytes(&[format!("{GOOD}\n{GOOD}\n").as_bytes()]),
        ) {
            let lines = bytes.split(|&b| b == b'\n').count();
            let mut reader = LedgerReader::new(bytes.as_slice(), "l");
            let mut read = 0;
            for line in reader.by_ref() {
                read += 1;
                if let Err(error) = line {
                    proptest::prop_assert!(error.is_malformed_line());
                }
            }
            proptest::prop_assert!(read <= lines);
            proptest::prop_assert_eq!(reader.bytes_read(), bytes.len() as u64);
        }
    }
}
