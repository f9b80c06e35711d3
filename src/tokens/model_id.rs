//! Model ids as callers write them, reduced to the bare model name.

/// Reduces a model id to its bare, lower-case model name.
///
/// Routers and clouds wrap the same model in different ids: `openai/gpt-4o`,
/// `azure/gpt-4o`, `openrouter/openai/gpt-4o:online`, `models/gemini-2.5-pro`,
/// `ft:gpt-4o-mini-2024-07-18:acme::abc123`, `llama3.1:8b`. The tokenizer
/// depends only on the model, so everything up to the last `/`, a fine-tune's
/// `ft:` wrapper and any `:tag` are dropped.
pub(crate) fn bare_model_name(model: &str) -> String {
    let lower = model.trim().to_ascii_lowercase();
    let last_segment = lower.rsplit('/').next().unwrap_or_default();
    let unwrapped = last_segment.strip_prefix("ft:").unwrap_or(last_segment);
    let bare = unwrapped.split(':').next().unwrap_or_default();
    bare.to_owned()
}

#[cfg(test)]
mod tests {
    use super::bare_model_name;

    #[test]
    fn wrappers_are_removed() {
        assert_eq!(bare_model_name("gpt-4o"), "gpt-4o");
        assert_eq!(bare_model_name("openai/gpt-4o"), "gpt-4o");
        assert_eq!(
            bare_model_name("azure/gpt-4o-2024-08-06"),
            "gpt-4o-2024-08-06"
        );
        assert_eq!(bare_model_name("openrouter/openai/GPT-4o:online"), "gpt-4o");
        assert_eq!(
            bare_model_name("ft:gpt-4o-mini-2024-07-18:acme::abc123"),
            "gpt-4o-mini-2024-07-18"
        );
        assert_eq!(bare_model_name("models/gemini-2.5-pro"), "gemini-2.5-pro");
        assert_eq!(
            bare_model_name("us.anthropic.claude-sonnet-4-20250514-v1:0"),
            "us.anthropic.claude-sonnet-4-20250514-v1"
        );
        assert_eq!(bare_model_name(" gpt-oss:20b "), "gpt-oss");
        assert_eq!(bare_model_name(""), "");
    }
}
