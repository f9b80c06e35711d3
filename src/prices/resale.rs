//! Names a gateway gives to models it resells at the maker's own price,
//! rewritten to the maker's spelling.
//!
//! OpenRouter names models `maker/model` (`anthropic/claude-sonnet-4.5`,
//! `x-ai/grok-4.3`, `google/gemini-2.5-pro`), LiteLLM's convention adds
//! `openrouter/` in front, and OpenRouter charges the underlying provider's
//! price. That price is the maker's own only for closed-weight models,
//! which are served by their maker (or its clouds at the same list price):
//! OpenAI's (except the open-weight gpt-oss), Anthropic's Claude, Google's
//! Gemini and xAI's Grok. Open-weight models on OpenRouter are served by
//! many hosts at many prices, so they are never priced this way; name the
//! host instead.

use crate::prices::resolve::{strip_prefix_ignore_case, Resolution};

/// OpenRouter's name, as LiteLLM writes it.
const OPENROUTER: &str = "openrouter/";

/// OpenRouter's variant of a model without its moderation layer: the same
/// model at the same price. Other variants (`:batch`, `:free`, `:nitro`,
/// `:thinking`...) are priced differently and are not rewritten.
const SAME_PRICE_VARIANT: &str = ":beta";

/// Closed-weight makers as OpenRouter names them: the maker slug, the start
/// every model of theirs has, a start that is excluded, and the prefix the
/// maker's own entries are listed under.
const CLOSED_MAKERS: &[(&str, &str, Option<&str>, &str)] = &[
    ("openai/", "", Some("gpt-oss"), "openai/"),
    ("anthropic/", "claude-", None, "anthropic/"),
    ("google/", "gemini-", None, "gemini/"),
    ("x-ai/", "grok-", None, "xai/"),
];

/// A gateway's name rewritten to the maker's, and the steps that did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MakerSpelling {
    pub(crate) name: String,
    pub(crate) steps: Vec<Resolution>,
}

/// The maker's spelling of an OpenRouter name of a closed-weight model, or
/// `None` when `name` is not one or is already spelled the maker's way.
pub(crate) fn maker_spelling(name: &str) -> Option<MakerSpelling> {
    let mut steps = Vec::new();
    let mut rest = name;
    if let Some(after) = strip_prefix_ignore_case(rest, OPENROUTER) {
        steps.push(Resolution::Resold {
            gateway: name[..OPENROUTER.len()].to_owned(),
        });
        rest = after;
    }
    if let Some(base) = rest.strip_suffix(SAME_PRICE_VARIANT) {
        steps.push(Resolution::VariantRemoved {
            suffix: SAME_PRICE_VARIANT.to_owned(),
        });
        rest = base;
    }
    let (slug, start, excluded, listed_prefix) = CLOSED_MAKERS
        .iter()
        .find(|(slug, ..)| strip_prefix_ignore_case(rest, slug).is_some())?;
    let model = &rest[slug.len()..];
    if model.contains(':')
        || !model.starts_with(start)
        || excluded.is_some_and(|excluded| model.starts_with(excluded))
    {
        return None;
    }
    if slug != listed_prefix {
        steps.push(Resolution::ProviderPrefixRemoved {
            prefix: rest[..slug.len()].to_owned(),
        });
        steps.push(Resolution::ProviderPrefixAdded {
            prefix: (*listed_prefix).to_owned(),
        });
    }
    let model = if *start == "claude-" {
        let dashed = dashed_version(model);
        if dashed != model {
            steps.push(Resolution::VersionDotsAsDashes);
        }
        dashed
    } else {
        model.to_owned()
    };
    (!steps.is_empty()).then(|| MakerSpelling {
        name: format!("{listed_prefix}{model}"),
        steps,
    })
}

/// `claude-sonnet-4.5` as Anthropic writes it, `claude-sonnet-4-5`: a dot
/// between two digits becomes a dash.
fn dashed_version(model: &str) -> String {
    let bytes = model.as_bytes();
    model
        .char_indices()
        .map(|(at, c)| {
            let between_digits = at > 0
                && bytes[at - 1].is_ascii_digit()
                && bytes.get(at + 1).is_some_and(u8::is_ascii_digit);
            if c == '.' && between_digits {
                '-'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spelled(name: &str) -> Option<String> {
        maker_spelling(name).map(|spelling| spelling.name)
    }

    #[test]
    fn closed_makers_are_respelled() {
        assert_eq!(
            spelled("openrouter/anthropic/claude-sonnet-4.5"),
            Some("anthropic/claude-sonnet-4-5".into())
        );
        assert_eq!(
            spelled("anthropic/claude-haiku-4.5-20251001:beta"),
            Some("anthropic/claude-haiku-4-5-20251001".into())
        );
        assert_eq!(spelled("x-ai/grok-4.3"), Some("xai/grok-4.3".into()));
        assert_eq!(
            spelled("openrouter/google/gemini-2.5-pro"),
            Some("gemini/gemini-2.5-pro".into())
        );
        assert_eq!(
            spelled("openrouter/openai/gpt-5.4"),
            Some("openai/gpt-5.4".into())
        );
    }

    #[test]
    fn open_weights_other_variants_and_maker_names_are_not() {
        for name in [
            "openrouter/openai/gpt-oss-120b",
            "openrouter/google/gemma-3-27b-it",
            "openrouter/meta-llama/llama-3.3-70b-instruct",
            "openrouter/anthropic/claude-sonnet-4.5:batch",
            "x-ai/grok-4.3:free",
            "deepseek/deepseek-chat",
            // Already the maker's spelling: nothing to rewrite.
            "openai/gpt-4o",
            "anthropic/claude-sonnet-4-5",
        ] {
            assert_eq!(spelled(name), None, "{name}");
        }
    }

    #[test]
    fn every_step_is_reported() {
        let spelling = maker_spelling("openrouter/x-ai/grok-4.20:beta").unwrap();
        assert_eq!(
            spelling.steps,
            [
                Resolution::Resold {
                    gateway: "openrouter/".into()
                },
                Resolution::VariantRemoved {
                    suffix: ":beta".into()
                },
                Resolution::ProviderPrefixRemoved {
                    prefix: "x-ai/".into()
                },
                Resolution::ProviderPrefixAdded {
                    prefix: "xai/".into()
                },
            ]
        );
    }

    #[test]
    fn only_dots_between_digits_become_dashes() {
        assert_eq!(dashed_version("claude-3.5-sonnet"), "claude-3-5-sonnet");
        assert_eq!(dashed_version("claude-x.y.1"), "claude-x.y.1");
    }
}
