//! Several ledgers read as one stream in time order, holding one record
//! per file.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::time::Duration;

use crate::ledger::{LedgerReadError, LedgerReader, LedgerRecord};

/// How many malformed lines are kept to show; the rest are only counted.
const SHOWN_MALFORMED: usize = 10;

/// The ledgers' records, earliest first. Each file is expected in time
/// order (the order a guard appends); files are interleaved by time.
pub(crate) struct LedgerMerge {
    sources: Vec<Source>,
    /// (time of the source's next record, source index), earliest on top.
    heap: BinaryHeap<Reverse<(Duration, usize)>>,
    total_bytes: u64,
}

struct Source {
    reader: LedgerReader<BufReader<File>>,
    next: Option<LedgerRecord>,
}

/// Lines that were not records: counted, the first few kept to show.
#[derive(Debug, Default)]
pub(crate) struct Skipped {
    pub(crate) count: u64,
    pub(crate) shown: Vec<LedgerReadError>,
}

impl Skipped {
    fn note(&mut self, error: LedgerReadError) {
        self.count += 1;
        if self.shown.len() < SHOWN_MALFORMED {
            self.shown.push(error);
        }
    }
}

impl LedgerMerge {
    /// Opens every file before reading any, so a missing one fails first.
    pub(crate) fn open(paths: &[PathBuf], skipped: &mut Skipped) -> Result<Self, LedgerReadError> {
        let mut sources = Vec::with_capacity(paths.len());
        let mut total_bytes = 0;
        for path in paths {
            total_bytes += std::fs::metadata(path).map_or(0, |meta| meta.len());
            sources.push(Source {
                reader: LedgerReader::open(path)?,
                next: None,
            });
        }
        let mut merge = LedgerMerge {
            sources,
            heap: BinaryHeap::with_capacity(paths.len()),
            total_bytes,
        };
        for index in 0..merge.sources.len() {
            merge.refill(index, skipped)?;
        }
        Ok(merge)
    }

    /// The earliest record not yet returned; malformed lines on the way
    /// are noted in `skipped`.
    pub(crate) fn next(
        &mut self,
        skipped: &mut Skipped,
    ) -> Result<Option<LedgerRecord>, LedgerReadError> {
        let Some(Reverse((_, index))) = self.heap.pop() else {
            return Ok(None);
        };
        let record = self.sources[index].next.take();
        self.refill(index, skipped)?;
        Ok(record)
    }

    /// Bytes of all files together, for progress.
    pub(crate) fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Bytes read so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.sources.iter().map(|s| s.reader.bytes_read()).sum()
    }

    /// Reads source `index`'s next record and queues it by time.
    fn refill(&mut self, index: usize, skipped: &mut Skipped) -> Result<(), LedgerReadError> {
        let source = &mut self.sources[index];
        for read in source.reader.by_ref() {
            match read {
                Ok(record) => {
                    self.heap.push(Reverse((record.ts.unix(), index)));
                    source.next = Some(record);
                    return Ok(());
                }
                Err(error) if error.is_malformed_line() => skipped.note(error),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

/// The file names for a progress label: one name, or how many.
pub(crate) fn describe(paths: &[PathBuf]) -> String {
    match paths {
        [one] => one.display().to_string(),
        many => format!("{} ledgers", many.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(ts: &str, model: &str) -> String {
        format!(
            r#"{{"ts":"{ts}","provider":"p","model":"{model}","cost_nanos":1,"cost_source":"reported","decision":"allowed"}}"#
        )
    }

    #[test]
    fn files_are_interleaved_by_time_and_bad_lines_noted() {
        let dir = std::env::temp_dir();
        let a = dir.join(format!("spendguard-merge-a-{}.jsonl", std::process::id()));
        let b = dir.join(format!("spendguard-merge-b-{}.jsonl", std::process::id()));
        std::fs::write(
            &a,
            [
                line("2026-01-01T00:00:00Z", "a1"),
                "oops".into(),
                line("2026-01-01T00:02:00Z", "a2"),
            ]
            .join("\n"),
        )
        .unwrap();
        std::fs::write(&b, line("2026-01-01T00:01:00Z", "b1")).unwrap();
        let mut skipped = Skipped::default();
        let mut merge = LedgerMerge::open(&[a.clone(), b.clone()], &mut skipped).unwrap();
        let mut models = Vec::new();
        while let Some(record) = merge.next(&mut skipped).unwrap() {
            models.push(record.model);
        }
        assert_eq!(models, ["a1", "b1", "a2"]);
        assert_eq!(skipped.count, 1);
        let shown = skipped.shown[0].to_string();
        assert!(
            shown.ends_with(".jsonl:2: expected value (column 1)"),
            "{shown}"
        );
        assert_eq!(merge.bytes_read(), merge.total_bytes());
        std::fs::remove_file(a).unwrap();
        std::fs::remove_file(b).unwrap();
    }
}
