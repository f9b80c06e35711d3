//! [`Tags`]: who a call is for, so limits can attach to each of them.

use std::fmt;
use std::sync::Arc;

/// A kind of tag a call can carry and a limit can attach to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TagKind {
    /// A label for the API key the call uses (never the key itself).
    Key,
    /// The agent making the call.
    Agent,
    /// The customer the work is for.
    Customer,
    /// The project.
    Project,
    /// The task (a [`TaskBudget`](crate::TaskBudget)'s name by default).
    Task,
    /// The release (deploy) of the code making the call, e.g. `v1.4.2` or a
    /// commit: `spendguard report` ties spend changes to it.
    Release,
}

impl TagKind {
    /// Every kind, in the order counters name them.
    pub const ALL: [TagKind; 6] = [
        TagKind::Key,
        TagKind::Agent,
        TagKind::Customer,
        TagKind::Project,
        TagKind::Task,
        TagKind::Release,
    ];

    /// The short name used in counter names and ledgers: `key`, `agent`,
    /// `customer`, `project`, `task` or `release`.
    pub const fn name(self) -> &'static str {
        match self {
            TagKind::Key => "key",
            TagKind::Agent => "agent",
            TagKind::Customer => "customer",
            TagKind::Project => "project",
            TagKind::Task => "task",
            TagKind::Release => "release",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for TagKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The tags of a call: any of key label, agent, customer, project, task and
/// release.
/// Cheap to clone.
///
/// ```
/// use spendguard::tags::{TagKind, Tags};
///
/// let tags = Tags::new().agent("researcher").customer("acme");
/// assert_eq!(tags.get(TagKind::Agent), Some("researcher"));
/// assert_eq!(tags.get(TagKind::Key), None);
/// assert_eq!(tags.to_string(), "agent=researcher customer=acme");
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Tags {
    values: [Option<Arc<str>>; TagKind::ALL.len()],
}

impl Tags {
    /// No tags.
    pub fn new() -> Self {
        Tags::default()
    }

    /// Sets a tag; an empty value removes it.
    #[must_use]
    pub fn with(mut self, kind: TagKind, value: impl AsRef<str>) -> Self {
        self.set(kind, value);
        self
    }

    /// Sets a tag in place; an empty value removes it.
    pub fn set(&mut self, kind: TagKind, value: impl AsRef<str>) {
        let value = value.as_ref();
        self.values[kind.index()] = (!value.is_empty()).then(|| Arc::from(value));
    }

    /// The API key's label.
    #[must_use]
    pub fn key(self, label: impl AsRef<str>) -> Self {
        self.with(TagKind::Key, label)
    }

    /// The agent.
    #[must_use]
    pub fn agent(self, name: impl AsRef<str>) -> Self {
        self.with(TagKind::Agent, name)
    }

    /// The customer.
    #[must_use]
    pub fn customer(self, name: impl AsRef<str>) -> Self {
        self.with(TagKind::Customer, name)
    }

    /// The project.
    #[must_use]
    pub fn project(self, name: impl AsRef<str>) -> Self {
        self.with(TagKind::Project, name)
    }

    /// The task.
    #[must_use]
    pub fn task(self, name: impl AsRef<str>) -> Self {
        self.with(TagKind::Task, name)
    }

    /// The release (deploy) making the call: `v1.4.2`, a commit hash.
    #[must_use]
    pub fn release(self, name: impl AsRef<str>) -> Self {
        self.with(TagKind::Release, name)
    }

    /// A tag's value.
    pub fn get(&self, kind: TagKind) -> Option<&str> {
        self.values[kind.index()].as_deref()
    }

    /// These tags, with `other`'s filled in where these have none.
    #[must_use]
    pub fn or(&self, other: &Tags) -> Tags {
        let mut merged = self.clone();
        for (mine, theirs) in merged.values.iter_mut().zip(&other.values) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        merged
    }

    /// The tags that are set, in [`TagKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (TagKind, &str)> {
        TagKind::ALL
            .into_iter()
            .filter_map(|kind| self.get(kind).map(|value| (kind, value)))
    }
}

impl fmt::Display for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (kind, value)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{kind}={value}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_what_is_set() {
        let call = Tags::new().agent("a");
        let defaults = Tags::new().agent("b").key("prod");
        assert_eq!(call.or(&defaults), Tags::new().agent("a").key("prod"));
    }

    #[test]
    fn an_empty_value_is_no_tag() {
        assert_eq!(Tags::new().agent("a").agent(""), Tags::new());
    }
}
