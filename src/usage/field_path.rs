//! Where a counter sits in a provider's JSON, kept as borrowed pieces and
//! written out only when an error names it: a usage reader that finds
//! nothing wrong builds no path text at all.

use std::fmt;

/// How many keys and indexes an object path holds; the deepest object any
/// reader visits (`usageMetadata.promptTokensDetails[0]`,
/// `response.usage.input_tokens_details`) needs three.
const DEPTH: usize = 6;

/// One step into a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A key of an object.
    Key(&'static str),
    /// A position in an array.
    Index(usize),
}

/// The dotted path of a JSON object from the value a caller passed; empty
/// for that value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ObjectPath {
    steps: [Step; DEPTH],
    len: usize,
    /// Steps past [`DEPTH`] were dropped (written as `…`); no format has
    /// objects that deep.
    cut: bool,
}

impl ObjectPath {
    /// The value the caller passed.
    pub(super) const ROOT: ObjectPath = ObjectPath {
        steps: [Step::Index(0); DEPTH],
        len: 0,
        cut: false,
    };

    /// The object at `key` inside this one.
    pub(super) const fn key(self, key: &'static str) -> ObjectPath {
        self.then(Step::Key(key))
    }

    /// The object at `index` of the array at `key` inside this one.
    pub(super) const fn item(self, key: &'static str, index: usize) -> ObjectPath {
        self.key(key).then(Step::Index(index))
    }

    /// The field `key` of this object.
    pub(super) const fn field(self, key: &'static str) -> FieldPath {
        FieldPath::Field {
            object: self,
            key,
            suffix: "",
        }
    }

    const fn then(mut self, step: Step) -> ObjectPath {
        if self.len < DEPTH {
            self.steps[self.len] = step;
            self.len += 1;
        } else {
            self.cut = true;
        }
        self
    }

    fn is_root(&self) -> bool {
        self.len == 0 && !self.cut
    }
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, step) in self.steps[..self.len].iter().enumerate() {
            match step {
                Step::Key(key) if position == 0 => out.write_str(key)?,
                Step::Key(key) => write!(out, ".{key}")?,
                Step::Index(index) => write!(out, "[{index}]")?,
            }
        }
        if self.cut {
            out.write_str(".…")?;
        }
        Ok(())
    }
}

/// Where a count came from, for error messages: a field, or a difference
/// of counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FieldPath {
    /// The field `key` of the object at `object`, followed by `suffix`
    /// (such as `[modality=AUDIO].tokenCount` for a sum over a breakdown).
    Field {
        /// The object holding the field.
        object: ObjectPath,
        /// The field's key.
        key: &'static str,
        /// Text written after the key.
        suffix: &'static str,
    },
    /// A path written out in full.
    Named(&'static str),
    /// What is left of `whole` once `parts` are taken out.
    Difference(Box<FieldPath>, Box<[FieldPath]>),
}

impl FieldPath {
    /// The field `key` of the provider's `usage` object, where the typed
    /// readers (async-openai, genai, rig) find their counters.
    #[cfg(any(feature = "async-openai", feature = "genai", feature = "rig", test))]
    pub(super) const fn usage(key: &'static str) -> FieldPath {
        ObjectPath::ROOT.key("usage").field(key)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Field {
                object,
                key,
                suffix,
            } if object.is_root() => write!(out, "{key}{suffix}"),
            FieldPath::Field {
                object,
                key,
                suffix,
            } => write!(out, "{object}.{key}{suffix}"),
            FieldPath::Named(path) => out.write_str(path),
            FieldPath::Difference(whole, parts) => {
                write!(out, "{whole}")?;
                parts.iter().try_for_each(|part| write!(out, " - {part}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_as_the_readers_always_wrote_them() {
        let details = ObjectPath::ROOT.key("usage").key("prompt_tokens_details");
        assert_eq!(
            details.field("cached_tokens").to_string(),
            "usage.prompt_tokens_details.cached_tokens"
        );
        assert_eq!(ObjectPath::ROOT.field("usage").to_string(), "usage");
        let entry = ObjectPath::ROOT.item("usageMetadata", 2);
        assert_eq!(
            entry.field("tokenCount").to_string(),
            "usageMetadata[2].tokenCount"
        );
        let difference = FieldPath::Difference(
            Box::new(FieldPath::usage("prompt_tokens")),
            Box::new([FieldPath::Named("a"), FieldPath::usage("b")]),
        );
        assert_eq!(difference.to_string(), "usage.prompt_tokens - a - usage.b");
    }

    #[test]
    fn a_path_deeper_than_the_formats_go_is_marked_cut_not_a_panic() {
        let deep = (0..DEPTH + 2).fold(ObjectPath::ROOT, |path, _| path.key("k"));
        assert_eq!(deep.field("x").to_string(), "k.k.k.k.k.k.….x");
    }
}
