//! Deploys: when a new release started, from `--deploys FILE`, `--mark
//! TIME=LABEL`, and the first call each `release` tag appears on; and
//! which deploy came last before a spike.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::error::CliError;
use crate::cli::report::parse_time;
use crate::ledger::LedgerRecord;

/// Distinct `release` tags remembered; later ones are not markers.
const MAX_RELEASES: usize = 1_000;

/// One deploy marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Deploy {
    pub(crate) at: Duration,
    pub(crate) label: String,
}

/// A `--mark TIME=LABEL` argument.
pub(crate) fn parse_mark(text: &str) -> Result<Deploy, String> {
    let (time, label) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not TIME=LABEL, e.g. 2026-11-25T06:10:00Z=v1.4.2"))?;
    deploy(time, label)
}

fn deploy(time: &str, label: &str) -> Result<Deploy, String> {
    let label = label.trim();
    if label.is_empty() {
        return Err("the deploy has no label after its time".into());
    }
    Ok(Deploy {
        at: parse_time(time.trim())?,
        label: label.to_owned(),
    })
}

/// The deploys of a `--deploys` file: `TIME LABEL` per line; blank lines
/// and `#` comments are skipped.
pub(crate) fn read_file(path: &Path) -> Result<Vec<Deploy>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_lines(&text, path)
}

fn parse_lines(text: &str, path: &Path) -> Result<Vec<Deploy>, CliError> {
    let fail = |line: usize, problem: String| CliError::DeployLine {
        path: PathBuf::from(path),
        line,
        problem,
    };
    let mut deploys = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (time, label) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| fail(index + 1, format!("`{line}` has a time but no label")))?;
        deploys.push(deploy(time, label).map_err(|problem| fail(index + 1, problem))?);
    }
    Ok(deploys)
}

/// The first call of each `release` tag, as it streams past.
#[derive(Debug, Default)]
pub(crate) struct ReleasesSeen {
    seen: HashSet<String>,
    pub(crate) first_calls: Vec<Deploy>,
}

impl ReleasesSeen {
    /// Notes `record`'s release, if it is new. Records arrive in time
    /// order, so the first one seen is the release's first call.
    pub(crate) fn add(&mut self, record: &LedgerRecord) {
        let Some(release) = &record.tags.release else {
            return;
        };
        if self.seen.len() < MAX_RELEASES && self.seen.insert(release.clone()) {
            self.first_calls.push(Deploy {
                at: record.ts.unix(),
                label: release.clone(),
            });
        }
    }
}

/// Every marker in time order, the same label at the same minute once.
pub(crate) fn timeline(mut deploys: Vec<Deploy>) -> Vec<Deploy> {
    deploys.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.label.cmp(&b.label)));
    deploys.dedup_by(|b, a| a.label == b.label && b.at.as_secs() / 60 == a.at.as_secs() / 60);
    deploys
}

/// The last deploy before the end of `hour` (hours since the epoch).
pub(crate) fn last_before_hour_end(deploys: &[Deploy], hour: u64) -> Option<&Deploy> {
    let end = Duration::from_secs((hour + 1) * 3_600);
    deploys.iter().rev().find(|deploy| deploy.at < end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deploys_file_reads_time_and_label_and_skips_comments() {
        let text = "# deploys\n\n2026-11-25T06:10:00Z v1.4.2 (hotfix)\n2026-11-26 v1.5\n";
        let deploys = parse_lines(text, Path::new("deploys.txt")).unwrap();
        assert_eq!(deploys.len(), 2);
        assert_eq!(deploys[0].label, "v1.4.2 (hotfix)");
        assert_eq!(deploys[1].at, parse_time("2026-11-26").unwrap());
    }

    #[test]
    fn a_bad_line_names_its_file_line_and_problem() {
        let error = parse_lines("2026-11-25 v1\nv1.5\n", Path::new("d.txt")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "d.txt, line 2: `v1.5` has a time but no label; write one deploy per line as `2026-11-25T06:10:00Z v1.4.2`"
        );
        let error = parse_lines("yesterday v1\n", Path::new("d.txt")).unwrap_err();
        assert!(error.to_string().starts_with("d.txt, line 1: "), "{error}");
    }

    #[test]
    fn a_mark_is_time_equals_label() {
        let mark = parse_mark("2026-11-25T06:10:00Z=v1.4.2").unwrap();
        assert_eq!(mark.label, "v1.4.2");
        assert!(parse_mark("2026-11-25T06:10:00Z").is_err());
        assert!(parse_mark("2026-11-25T06:10:00Z= ").is_err());
    }

    #[test]
    fn a_spike_belongs_to_the_last_deploy_before_its_hour_ends() {
        let at = |t: &str| parse_time(t).unwrap();
        let deploys = timeline(vec![
            Deploy {
                at: at("2026-11-25T09:30:00Z"),
                label: "v2".into(),
            },
            Deploy {
                at: at("2026-11-25T06:10:00Z"),
                label: "v1".into(),
            },
            Deploy {
                at: at("2026-11-25T06:10:30Z"),
                label: "v1".into(),
            },
        ]);
        assert_eq!(deploys.len(), 2, "the same deploy marked twice is one");
        let hour = |t: &str| at(t).as_secs() / 3_600;
        let spike_at = |t| last_before_hour_end(&deploys, hour(t)).map(|d| d.label.as_str());
        assert_eq!(spike_at("2026-11-25T05:00:00Z"), None);
        assert_eq!(spike_at("2026-11-25T06:00:00Z"), Some("v1"));
        assert_eq!(spike_at("2026-11-25T09:00:00Z"), Some("v2"));
    }
}
