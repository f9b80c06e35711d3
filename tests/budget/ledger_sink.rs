//! The JSON-lines ledger under load: every accepted record arrives, whole,
//! even from many threads and from two writers appending to one file.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use spendguard::clock::UtcDateTime;
use spendguard::ledger::{
    Decision, JsonlSink, LedgerCostSource, LedgerReader, LedgerRecord, LedgerSink, LedgerTags,
    MemorySink,
};
use spendguard::Usd;

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "spendguard-ledger-sink-{}-{name}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// A record that names its writer and sequence number in its tags.
fn numbered(writer: usize, seq: usize, reason_len: usize) -> LedgerRecord {
    let at = UtcDateTime::from_unix(Duration::from_millis(1_795_588_219_000 + seq as u64));
    LedgerRecord::new(at, "openai", "gpt-4o-mini", Decision::Allowed)
        .with_tags(
            LedgerTags::new()
                .with_agent(format!("writer-{writer}"))
                .with_task(seq.to_string()),
        )
        .with_cost(Usd::from_nanos(seq as u64), LedgerCostSource::Reported)
        .with_reason("x".repeat(reason_len))
}

/// Reads every line as a record and returns (writer, seq) pairs, failing on
/// any line that is not a whole record.
fn read_all(path: &PathBuf) -> Vec<(String, usize)> {
    LedgerReader::open(path)
        .unwrap()
        .map(|read| {
            let record = read.expect("every line is a whole record");
            let seq = record.tags.task.unwrap().parse().unwrap();
            (record.tags.agent.unwrap(), seq)
        })
        .collect()
}

#[test]
fn a_hundred_thousand_records_from_eight_threads_all_arrive() {
    const THREADS: usize = 8;
    const EACH: usize = 12_500;
    let path = temp_path("eight-threads");
    let sink = Arc::new(JsonlSink::open(&path).unwrap());
    let writers: Vec<_> = (0..THREADS)
        .map(|writer| {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || {
                for seq in 0..EACH {
                    sink.record(numbered(writer, seq, seq % 7));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    Arc::into_inner(sink).unwrap().close().unwrap();

    let lines = read_all(&path);
    assert_eq!(lines.len(), THREADS * EACH);
    let distinct: HashSet<_> = lines.iter().collect();
    assert_eq!(distinct.len(), THREADS * EACH, "no record is written twice");
    for writer in 0..THREADS {
        let name = format!("writer-{writer}");
        let seqs: Vec<usize> = lines
            .iter()
            .filter(|(agent, _)| *agent == name)
            .map(|(_, seq)| *seq)
            .collect();
        assert_eq!(seqs, (0..EACH).collect::<Vec<_>>(), "{name} in order");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn two_sinks_appending_to_one_file_never_split_a_line() {
    const EACH: usize = 5_000;
    let path = temp_path("two-sinks");
    let writers: Vec<_> = (0..2)
        .map(|writer| {
            // Two opens of one file behave as two processes would: separate
            // descriptors, each appending.
            let sink = JsonlSink::open(&path).unwrap();
            std::thread::spawn(move || {
                for seq in 0..EACH {
                    // Lines from 200 bytes to over 16 KiB, so a buffered
                    // writer would split some across writes.
                    sink.record(numbered(writer, seq, (seq * 37) % 17_000));
                }
                sink.close().unwrap();
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let lines = read_all(&path);
    assert_eq!(lines.len(), 2 * EACH);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn dropping_the_sink_writes_what_it_accepted() {
    let path = temp_path("drop");
    {
        let sink = JsonlSink::open(&path).unwrap();
        for seq in 0..3_000 {
            sink.record(numbered(0, seq, 10));
        }
    }
    assert_eq!(read_all(&path).len(), 3_000);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_sink_can_be_shared_as_a_trait_object() {
    let memory = Arc::new(MemorySink::new());
    let shared: Arc<dyn LedgerSink> = memory.clone();
    shared.record(numbered(1, 2, 0));
    shared.flush().unwrap();
    let records = memory.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].tags.task.as_deref(), Some("2"));
}
