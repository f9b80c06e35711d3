//! How a model name a caller uses finds a listed id: the rewrites tried, in
//! order, and how the answer reports them.
//!
//! Names reach spendguard in many spellings: `gpt-4o`, `openai/gpt-4o`,
//! `GPT-4o`, `gpt-4o-2024-08-06`, `models/gemini-2.5-pro`,
//! `vertex_ai/claude-sonnet-4-5@20250929`. The price list itself has keys
//! with and without provider prefixes. [`PriceTable::resolve`] tries the most
//! specific spelling first and stops at the first listed id; every rewrite it
//! needed is reported as a [`Resolution`] step, so a caller can log it, warn
//! on it, or refuse anything but [`Resolution::Exact`].
//!
//! [`PriceTable::resolve`]: crate::PriceTable::resolve

use std::fmt;
use std::sync::Arc;

use crate::prices::model_price::ModelPrice;
use crate::prices::version::PriceTableVersion;

/// One step from the name asked for to the listed id that priced it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Resolution {
    /// The name is a listed id, exactly as written.
    Exact,
    /// The name matched a listed id only when compared case-insensitively.
    CaseFolded,
    /// A provider prefix was added: `grok-4` is listed as `xai/grok-4`.
    ProviderPrefixAdded {
        /// The prefix added, with its slash.
        prefix: String,
    },
    /// A provider prefix was removed: `openai/gpt-4o` is listed as `gpt-4o`.
    /// The listed entry is sold by that provider (or one spendguard treats
    /// as the same seller, see the README).
    ProviderPrefixRemoved {
        /// The prefix removed, with its slash.
        prefix: String,
    },
    /// An unlisted dated snapshot (`-2025-08-07`, `-20250929`, `@20250929`)
    /// or `-latest` was priced as the undated id. A new snapshot can have a
    /// new price; check it if this matters to you.
    SnapshotToBase {
        /// The suffix removed.
        suffix: String,
    },
    /// The name is another name for a listed id: an `alias_of` entry of
    /// the price list, or an alias set with
    /// [`PriceTable::alias`](crate::PriceTable::alias).
    Alias {
        /// The alias, as it is listed.
        alias: String,
    },
    /// A gateway's prefix was removed from a closed-weight model the
    /// gateway resells at the maker's own price (`openrouter/`).
    Resold {
        /// The gateway's prefix, with its slash.
        gateway: String,
    },
    /// A gateway's same-price variant suffix was removed (OpenRouter's
    /// `:beta`, the model without the gateway's moderation).
    VariantRemoved {
        /// The suffix removed.
        suffix: String,
    },
    /// A Claude version written with dots was written with dashes, as
    /// Anthropic writes it (`claude-sonnet-4.5` → `claude-sonnet-4-5`).
    VersionDotsAsDashes,
    /// Nothing matched and the table's opt-in fallback price was used.
    Fallback,
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolution::Exact => f.write_str("exact"),
            Resolution::CaseFolded => f.write_str("case-folded"),
            Resolution::ProviderPrefixAdded { prefix } => {
                write!(f, "provider prefix \"{prefix}\" added")
            }
            Resolution::ProviderPrefixRemoved { prefix } => {
                write!(f, "provider prefix \"{prefix}\" removed")
            }
            Resolution::SnapshotToBase { suffix } => {
                write!(f, "snapshot \"{suffix}\" priced as the undated model")
            }
            Resolution::Alias { alias } => write!(f, "alias \"{alias}\""),
            Resolution::Resold { gateway } => {
                write!(f, "resold by \"{gateway}\" at the maker's price")
            }
            Resolution::VariantRemoved { suffix } => {
                write!(f, "same-price variant \"{suffix}\" removed")
            }
            Resolution::VersionDotsAsDashes => f.write_str("version dots written as dashes"),
            Resolution::Fallback => f.write_str("fallback price"),
        }
    }
}

/// The answer to a lookup: the price, and how the name found it.
///
/// Cloning the price is one atomic increment, so a budget can hold it across
/// an HTTP call while the table is replaced.
///
/// ```
/// use spendguard::PriceTable;
/// use spendguard::prices::Resolution;
///
/// let table = PriceTable::bundled();
/// let found = table.resolve("openai/gpt-4o-2099-01-01")?;
/// assert_eq!(found.listed_id(), "gpt-4o");
/// assert_eq!(
///     found.steps(),
///     [
///         Resolution::ProviderPrefixRemoved { prefix: "openai/".into() },
///         Resolution::SnapshotToBase { suffix: "-2099-01-01".into() },
///     ]
/// );
/// let price = found.into_price(); // Arc<ModelPrice>
/// assert_eq!(price.model(), "gpt-4o");
/// # Ok::<(), spendguard::prices::PriceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    price: Arc<ModelPrice>,
    /// Empty for an exact match, so the common lookup allocates nothing.
    steps: Vec<Resolution>,
    /// The data the price came from.
    table_version: PriceTableVersion,
}

/// The steps of an exact match.
const EXACT: &[Resolution] = &[Resolution::Exact];

impl Resolved {
    pub(crate) fn new(
        price: Arc<ModelPrice>,
        steps: Vec<Resolution>,
        table_version: PriceTableVersion,
    ) -> Self {
        Resolved {
            price,
            steps,
            table_version,
        }
    }

    /// The version of the table the price came from, which receipts and
    /// ledger lines name.
    ///
    /// ```
    /// use spendguard::PriceTable;
    ///
    /// let found = PriceTable::bundled().resolve("gpt-4o")?;
    /// assert!(found.table_version().label().starts_with("litellm "));
    /// # Ok::<(), spendguard::prices::PriceError>(())
    /// ```
    pub fn table_version(&self) -> &PriceTableVersion {
        &self.table_version
    }

    /// The price to bill by.
    pub fn price(&self) -> &Arc<ModelPrice> {
        &self.price
    }

    /// The price to bill by, owned.
    pub fn into_price(self) -> Arc<ModelPrice> {
        self.price
    }

    /// The listed id that priced the name (for a fallback, the fallback
    /// price's own name).
    pub fn listed_id(&self) -> &str {
        self.price.model()
    }

    /// Every rewrite, in the order applied; `[Exact]` when there was none.
    pub fn steps(&self) -> &[Resolution] {
        if self.steps.is_empty() {
            EXACT
        } else {
            &self.steps
        }
    }

    /// `true` when the name is a listed id exactly as written.
    pub fn is_exact(&self) -> bool {
        self.steps.is_empty()
    }

    /// `true` when no listed id matched and the fallback price was used.
    pub fn is_fallback(&self) -> bool {
        self.steps.contains(&Resolution::Fallback)
    }
}

impl fmt::Display for Resolved {
    /// `gpt-4o (provider prefix "openai/" removed, snapshot "-2099-01-01"
    /// priced as the undated model)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.listed_id())?;
        for (position, step) in self.steps().iter().enumerate() {
            if position > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{step}")?;
        }
        f.write_str(")")
    }
}

/// A spelling of the name to look up, and the steps that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    pub(crate) name: String,
    pub(crate) steps: Vec<Resolution>,
    /// For a name whose provider prefix was removed: the providers the
    /// listed entry must be sold by.
    pub(crate) sellers: Option<&'static [&'static str]>,
}

/// Provider prefixes spendguard removes, each with the sellers an entry
/// must be listed under to match without it (see [`sold_by`]). Longest
/// first, so a route prefix (`bedrock/converse/`) wins over its provider.
const REMOVABLE_PREFIXES: &[(&str, &[&str])] = &[
    ("bedrock/converse/", BEDROCK),
    ("bedrock/invoke/", BEDROCK),
    ("openai/", &["openai", "text-completion-openai"]),
    ("anthropic/", &["anthropic"]),
    ("gemini/", GEMINI),
    ("vertex_ai/", &["vertex_ai"]),
    ("bedrock/", BEDROCK),
    ("azure/", &["azure", "azure_text"]),
    ("azure_ai/", &["azure_ai"]),
    ("xai/", &["xai"]),
    ("mistral/", &["mistral"]),
    ("deepseek/", &["deepseek"]),
    ("groq/", &["groq"]),
    ("cohere/", &["cohere", "cohere_chat"]),
];

/// Google sells each Gemini model at one list price on the Gemini API and on
/// Vertex AI, and LiteLLM lists many bare `gemini-*` ids under Vertex.
const GEMINI: &[&str] = &["gemini", "vertex_ai-language-models"];
const BEDROCK: &[&str] = &["bedrock", "bedrock_converse"];

/// `true` when an entry listed under `provider` (LiteLLM's
/// `litellm_provider`) is sold by one of `sellers`: the same name, or a
/// sub-catalogue of it (`vertex_ai-anthropic_models` is `vertex_ai`).
pub(crate) fn sold_by(sellers: &[&str], provider: &str) -> bool {
    sellers.iter().any(|seller| {
        provider
            .strip_prefix(seller)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    })
}

/// Prefixes spendguard adds to a bare name: the model makers' own APIs, in
/// this order. Resellers and clouds (Azure, Bedrock, Vertex, Groq...) are
/// never guessed, because their price is a different offer; name them.
const ADDABLE_PREFIXES: &[&str] = &[
    "openai/",
    "anthropic/",
    "gemini/",
    "xai/",
    "mistral/",
    "deepseek/",
    "cohere/",
    "moonshot/",
    "zai/",
    "minimax/",
    "dashscope/",
];

/// The Gemini API names models `models/gemini-2.5-pro`.
const GEMINI_API_RESOURCE: &str = "models/";

/// The spellings to try after the name as written, most specific first:
/// with a provider prefix removed or added, then the same again with an
/// unlisted snapshot suffix removed.
pub(crate) fn candidates(name: &str) -> impl Iterator<Item = Candidate> {
    let original = Candidate {
        name: name.to_owned(),
        steps: Vec::new(),
        sellers: None,
    };
    let base = split_snapshot(name).map(|(base, suffix)| Candidate {
        name: base.to_owned(),
        steps: vec![Resolution::SnapshotToBase {
            suffix: suffix.to_owned(),
        }],
        sellers: None,
    });
    provider_rewrites(original).chain(
        base.into_iter()
            .flat_map(|base| std::iter::once(base.clone()).chain(provider_rewrites(base))),
    )
}

/// The name with its provider prefix removed, or with a maker's prefix
/// added when it has none; built one at a time, as the lookup asks.
fn provider_rewrites(form: Candidate) -> Box<dyn Iterator<Item = Candidate>> {
    let with_step = move |form: &Candidate, name: String, step: Resolution, sellers| {
        let mut steps = form.steps.clone();
        steps.insert(0, step);
        Candidate {
            name,
            steps,
            sellers,
        }
    };
    if let Some(rest) = strip_prefix_ignore_case(&form.name, GEMINI_API_RESOURCE) {
        let removed = Resolution::ProviderPrefixRemoved {
            prefix: form.name[..GEMINI_API_RESOURCE.len()].to_owned(),
        };
        let mut as_gemini = with_step(&form, format!("gemini/{rest}"), removed.clone(), None);
        as_gemini.steps.insert(
            1,
            Resolution::ProviderPrefixAdded {
                prefix: "gemini/".into(),
            },
        );
        let bare = with_step(&form, rest.to_owned(), removed, Some(GEMINI));
        return Box::new([as_gemini, bare].into_iter());
    }
    if let Some((prefix, sellers)) = REMOVABLE_PREFIXES
        .iter()
        .find(|(prefix, _)| strip_prefix_ignore_case(&form.name, prefix).is_some())
    {
        let (written, rest) = form.name.split_at(prefix.len());
        let step = Resolution::ProviderPrefixRemoved {
            prefix: written.to_owned(),
        };
        return Box::new(std::iter::once(with_step(
            &form,
            rest.to_owned(),
            step,
            Some(sellers),
        )));
    }
    if form.name.contains('/') {
        return Box::new(std::iter::empty());
    }
    Box::new(ADDABLE_PREFIXES.iter().map(move |prefix| {
        let step = Resolution::ProviderPrefixAdded {
            prefix: (*prefix).to_owned(),
        };
        with_step(&form, format!("{prefix}{}", form.name), step, None)
    }))
}

pub(crate) fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// Splits a snapshot suffix off the last path segment: `-YYYY-MM-DD`,
/// `-YYYYMMDD`, `@YYYYMMDD` or `-latest`. Only plausible dates count, so
/// version numbers stay part of the name.
pub(crate) fn split_snapshot(name: &str) -> Option<(&str, &str)> {
    let segment = &name[name.rfind('/').map_or(0, |slash| slash + 1)..];
    let tail = |len: usize| {
        segment
            .len()
            .checked_sub(len)
            .filter(|&start| start > 0)
            .and_then(|start| segment.get(start..))
    };
    let suffix_len = if tail(7).is_some_and(|t| t.eq_ignore_ascii_case("-latest")) {
        7
    } else if tail(11).is_some_and(|t| t.starts_with('-') && is_dashed_date(&t[1..])) {
        11
    } else if tail(9)
        .is_some_and(|t| (t.starts_with('-') || t.starts_with('@')) && is_date(&t[1..]))
    {
        9
    } else {
        return None;
    };
    Some(name.split_at(name.len() - suffix_len))
}

/// `YYYY-MM-DD` with a year of this century, a month and a day.
fn is_dashed_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && is_date_parts(&text[..4], &text[5..7], &text[8..])
}

/// `YYYYMMDD` with a year of this century, a month and a day.
fn is_date(text: &str) -> bool {
    text.len() == 8
        && text.is_char_boundary(4)
        && text.is_char_boundary(6)
        && is_date_parts(&text[..4], &text[4..6], &text[6..])
}

fn is_date_parts(year: &str, month: &str, day: &str) -> bool {
    let number = |digits: &str| {
        digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse::<u32>().ok())
            .flatten()
    };
    number(year).is_some_and(|y| (2000..2100).contains(&y))
        && number(month).is_some_and(|m| (1..=12).contains(&m))
        && number(day).is_some_and(|d| (1..=31).contains(&d))
}

/// Up to three listed names closest to `name`, best first: the smallest
/// edit distance to the name as asked or to its bare form (provider prefix
/// and snapshot removed), ties broken by closeness in length, then
/// alphabetically. Names further than a
/// third of their length away are not suggested.
pub(crate) fn suggestions<'a>(name: &str, listed: impl Iterator<Item = &'a str>) -> Vec<String> {
    let asked = name.to_ascii_lowercase();
    let mut bare = asked.as_str();
    if let Some((_, rest)) = bare.split_once('/') {
        bare = rest;
    }
    if let Some((base, _)) = split_snapshot(bare) {
        bare = base;
    }
    let forms: Vec<&str> = if bare == asked {
        vec![asked.as_str()]
    } else {
        vec![asked.as_str(), bare]
    };
    let mut ranked: Vec<(usize, usize, &str)> = listed
        .filter_map(|listed| {
            let lower = listed.to_ascii_lowercase();
            forms
                .iter()
                .filter_map(|form| {
                    let limit = (form.len().max(lower.len()) / 3).max(2);
                    edit_distance_within(form, &lower, limit)
                })
                .min()
                .map(|distance| (distance, asked.len().abs_diff(lower.len()), listed))
        })
        .collect();
    ranked.sort_unstable();
    ranked.dedup_by(|a, b| a.2 == b.2);
    ranked
        .into_iter()
        .take(3)
        .map(|(_, _, listed)| listed.to_owned())
        .collect()
}

/// Levenshtein distance between `a` and `b` by bytes, or `None` when it is
/// above `limit` (checked cheaply first by length).
fn edit_distance_within(a: &str, b: &str, limit: usize) -> Option<usize> {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &byte_a) in a.iter().enumerate() {
        current[0] = i + 1;
        let mut row_min = current[0];
        for (j, &byte_b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(byte_a != byte_b);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
            row_min = row_min.min(current[j + 1]);
        }
        if row_min > limit {
            return None;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    let distance = previous[b.len()];
    (distance <= limit).then_some(distance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_split_only_on_plausible_dates() {
        assert_eq!(
            split_snapshot("gpt-4o-2024-08-06"),
            Some(("gpt-4o", "-2024-08-06"))
        );
        assert_eq!(
            split_snapshot("claude-sonnet-4-5-20250929"),
            Some(("claude-sonnet-4-5", "-20250929"))
        );
        assert_eq!(
            split_snapshot("vertex_ai/claude-sonnet-4-5@20250929"),
            Some(("vertex_ai/claude-sonnet-4-5", "@20250929"))
        );
        assert_eq!(
            split_snapshot("claude-3-7-sonnet-latest"),
            Some(("claude-3-7-sonnet", "-latest"))
        );
        assert_eq!(split_snapshot("model-12345678"), None);
        assert_eq!(split_snapshot("gpt-4o-2024-13-06"), None);
        assert_eq!(split_snapshot("-latest"), None);
        assert_eq!(split_snapshot("gpt-4o"), None);
        assert_eq!(split_snapshot("a/-20250101"), None);
    }

    #[test]
    fn candidates_go_from_specific_to_general() {
        let names: Vec<String> = candidates("openai/gpt-4o-2099-01-01")
            .map(|candidate| candidate.name)
            .collect();
        assert_eq!(names, ["gpt-4o-2099-01-01", "openai/gpt-4o", "gpt-4o"]);
    }

    #[test]
    fn bare_names_try_makers_prefixes_but_never_clouds() {
        let names: Vec<String> = candidates("grok-4")
            .map(|candidate| candidate.name)
            .collect();
        assert!(names.contains(&"xai/grok-4".to_owned()));
        assert!(!names.iter().any(|name| name.starts_with("azure/")
            || name.starts_with("bedrock/")
            || name.starts_with("vertex_ai/")));
    }

    #[test]
    fn gemini_api_resource_names_become_gemini_ids() {
        let found: Vec<Candidate> = candidates("models/gemini-2.5-pro").collect();
        assert_eq!(found[0].name, "gemini/gemini-2.5-pro");
        assert_eq!(
            found[0].steps,
            [
                Resolution::ProviderPrefixRemoved {
                    prefix: "models/".into()
                },
                Resolution::ProviderPrefixAdded {
                    prefix: "gemini/".into()
                },
            ]
        );
        assert_eq!(found[1].name, "gemini-2.5-pro");
        assert_eq!(found[1].sellers, Some(GEMINI));
    }

    #[test]
    fn sellers_include_sub_catalogues() {
        assert!(sold_by(&["vertex_ai"], "vertex_ai-anthropic_models"));
        assert!(sold_by(BEDROCK, "bedrock_converse"));
        assert!(!sold_by(BEDROCK, "bedrock_mantle"));
        assert!(!sold_by(&["openai"], "openai_like"));
    }

    #[test]
    fn prefix_matching_ignores_case_but_reports_the_prefix_as_written() {
        let found: Vec<Candidate> = candidates("OpenAI/gpt-4o").collect();
        assert_eq!(found[0].name, "gpt-4o");
        assert_eq!(
            found[0].steps,
            [Resolution::ProviderPrefixRemoved {
                prefix: "OpenAI/".into()
            }]
        );
    }

    #[test]
    fn suggestions_rank_by_edit_distance() {
        let listed = ["gpt-4o", "gpt-4", "gpt-4o-mini", "claude-sonnet-4-5", "o3"];
        assert_eq!(
            suggestions("gpt-4p", listed.into_iter()),
            ["gpt-4o", "gpt-4"]
        );
        assert_eq!(
            suggestions("anthropic/claude-sonet-4-5-20991231", listed.into_iter()),
            ["claude-sonnet-4-5"]
        );
        assert!(suggestions("zzzzzzzz", listed.into_iter()).is_empty());
    }

    #[test]
    fn edit_distance() {
        assert_eq!(edit_distance_within("kitten", "sitting", 5), Some(3));
        assert_eq!(edit_distance_within("kitten", "sitting", 2), None);
        assert_eq!(edit_distance_within("", "abc", 3), Some(3));
    }
}
