//! [`JsonlSink`]: the ledger as a file of JSON lines, written by a
//! background thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::ledger::record::LedgerRecord;
use crate::ledger::sink::{LedgerError, LedgerSink};

/// How many records may wait for the writer before `record` waits too.
const QUEUE_CAPACITY: usize = 1_024;

/// Appends each record as one JSON line to a file.
///
/// [`record`](LedgerSink::record) hands the record to a writer thread
/// through a bounded queue and returns; when the queue is full it waits for
/// room (back-pressure) rather than drop anything. Each line reaches the
/// file in a single `write(2)` on a file opened with `O_APPEND`, so lines
/// never interleave, even when several processes append to the same file.
///
/// [`close`](JsonlSink::close) (or dropping the sink) writes everything
/// still queued and stops the thread: a clean shutdown loses no record that
/// `record` accepted. Write errors surface at the next
/// [`flush`](LedgerSink::flush) or at `close`; dropping the sink cannot
/// report them, so close it where you can.
///
/// ```
/// use std::time::Duration;
/// use spendguard::clock::UtcDateTime;
/// use spendguard::ledger::{Decision, JsonlSink, LedgerReader, LedgerRecord, LedgerSink};
///
/// let path = std::env::temp_dir().join(format!("spendguard-doc-{}.jsonl", std::process::id()));
/// let sink = JsonlSink::open(&path)?;
/// let at = UtcDateTime::from_unix(Duration::from_secs(1_795_588_219));
/// sink.record(LedgerRecord::new(at, "openai", "gpt-4o", Decision::Allowed));
/// sink.close()?;
///
/// let records: Vec<_> = LedgerReader::open(&path)?.collect::<Result<_, _>>()?;
/// assert_eq!(records[0].model, "gpt-4o");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JsonlSink {
    path: PathBuf,
    /// `None` once the sink is closing.
    queue: Option<SyncSender<Command>>,
    writer: Option<JoinHandle<Result<(), LedgerError>>>,
}

/// What the writer thread is asked to do, in order.
enum Command {
    Write(Box<LedgerRecord>),
    /// Answer once everything before it is written.
    Flush(SyncSender<Result<(), LedgerError>>),
}

impl JsonlSink {
    /// Opens `path` for appending (creating it if need be) and starts its
    /// writer thread.
    ///
    /// # Errors
    /// [`LedgerError::Open`] if the file cannot be opened for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|source| LedgerError::Open {
                path: path.clone(),
                source,
            })?;
        let (queue, commands) = mpsc::sync_channel(QUEUE_CAPACITY);
        let writer_path = path.clone();
        let writer = std::thread::Builder::new()
            .name("spendguard-ledger".into())
            .spawn(move || write_lines(&file, &writer_path, &commands))
            .map_err(|source| LedgerError::Open {
                path: path.clone(),
                source,
            })?;
        Ok(JsonlSink {
            path,
            queue: Some(queue),
            writer: Some(writer),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes every queued record, stops the writer and reports any write
    /// error not yet reported.
    ///
    /// # Errors
    /// [`LedgerError::Write`] if records since the last flush could not be
    /// written; [`LedgerError::WriterStopped`] if the writer died.
    pub fn close(mut self) -> Result<(), LedgerError> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<(), LedgerError> {
        // The writer drains the queue and returns once every sender is gone.
        drop(self.queue.take());
        match self.writer.take() {
            Some(writer) => writer.join().unwrap_or_else(|_| Err(self.stopped())),
            None => Ok(()),
        }
    }

    fn stopped(&self) -> LedgerError {
        LedgerError::WriterStopped {
            path: self.path.clone(),
        }
    }
}

impl LedgerSink for JsonlSink {
    fn record(&self, record: LedgerRecord) {
        if let Some(queue) = &self.queue {
            // Fails only if the writer died; the next flush says so.
            let _ = queue.send(Command::Write(Box::new(record)));
        }
    }

    fn flush(&self) -> Result<(), LedgerError> {
        let queue = self.queue.as_ref().ok_or_else(|| self.stopped())?;
        let (reply, answer) = mpsc::sync_channel(1);
        queue
            .send(Command::Flush(reply))
            .map_err(|_| self.stopped())?;
        answer.recv().map_err(|_| self.stopped())?
    }
}

impl Drop for JsonlSink {
    fn drop(&mut self) {
        // Dropping cannot report an error; `close` can.
        let _ = self.shut_down();
    }
}

/// Write errors since the last report: how many records were lost, and the
/// first error.
struct Failure {
    lost: u64,
    first: io::Error,
}

/// The writer thread: one line per record, one write per line, until every
/// sender is gone.
fn write_lines(
    mut file: &File,
    path: &Path,
    commands: &Receiver<Command>,
) -> Result<(), LedgerError> {
    let mut failure: Option<Failure> = None;
    let mut line = Vec::with_capacity(512);
    let report = |failure: &mut Option<Failure>| match failure.take() {
        None => Ok(()),
        Some(Failure { lost, first }) => Err(LedgerError::Write {
            path: path.to_path_buf(),
            lost,
            source: first,
        }),
    };
    for command in commands {
        match command {
            Command::Write(record) => {
                line.clear();
                let written = serde_json::to_writer(&mut line, &record)
                    .map_err(io::Error::other)
                    .and_then(|()| {
                        line.push(b'\n');
                        file.write_all(&line)
                    });
                if let Err(error) = written {
                    match &mut failure {
                        Some(failure) => failure.lost += 1,
                        None => {
                            failure = Some(Failure {
                                lost: 1,
                                first: error,
                            })
                        }
                    }
                }
            }
            Command::Flush(reply) => {
                // The flusher may have given up waiting; nothing to do then.
                let _ = reply.send(report(&mut failure));
            }
        }
    }
    report(&mut failure)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::UtcDateTime;
    use crate::ledger::record::Decision;

    fn record(model: &str) -> LedgerRecord {
        let at = UtcDateTime::from_unix(Duration::from_secs(1_795_588_219));
        LedgerRecord::new(at, "openai", model, Decision::Allowed)
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "spendguard-jsonl-{}-{name}.jsonl",
            std::process::id()
        ))
    }

    #[test]
    fn flush_returns_after_the_lines_are_in_the_file() {
        let path = temp_path("flush");
        let _ = std::fs::remove_file(&path);
        let sink = JsonlSink::open(&path).unwrap();
        sink.record(record("a"));
        sink.record(record("b"));
        sink.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
        sink.close().unwrap();
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_missing_directory_is_an_open_error_naming_the_path() {
        let error = JsonlSink::open("/nonexistent-spendguard-dir/ledger.jsonl").unwrap_err();
        assert!(matches!(error, LedgerError::Open { .. }));
        assert!(error
            .to_string()
            .starts_with("cannot open the ledger /nonexistent-spendguard-dir/ledger.jsonl"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn write_errors_are_counted_and_reported_once() {
        // Every write to /dev/full fails with "no space left on device".
        let sink = JsonlSink::open("/dev/full").unwrap();
        for _ in 0..3 {
            sink.record(record("a"));
        }
        let error = sink.flush().unwrap_err();
        assert!(
            matches!(error, LedgerError::Write { lost: 3, .. }),
            "{error}"
        );
        assert!(error.to_string().contains("3 ledger record(s)"));
        assert!(sink.flush().is_ok());
        sink.record(record("b"));
        assert!(matches!(
            sink.close(),
            Err(LedgerError::Write { lost: 1, .. })
        ));
    }
}
