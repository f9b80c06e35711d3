//! One spelling per model on both sides: a request names `gpt-4o`, the
//! provider's export the snapshot that served it, `gpt-4o-2024-08-06`.

/// The model as both sides are compared: lower case, without a provider
/// prefix (`openai/`) or a dated snapshot suffix (`-2024-08-06`,
/// `-20250929`, `@20250929`).
pub(crate) fn comparable(model: &str) -> String {
    let lower = model.trim().to_ascii_lowercase();
    let bare = lower.rsplit('/').next().unwrap_or(&lower);
    without_snapshot(bare).to_owned()
}

fn without_snapshot(name: &str) -> &str {
    let bytes = name.as_bytes();
    let is_digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    let n = bytes.len();
    // `-YYYY-MM-DD`
    if n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && is_digits(n - 10..n - 6)
        && is_digits(n - 5..n - 3)
        && is_digits(n - 2..n)
    {
        return &name[..n - 11];
    }
    // `-YYYYMMDD` or `@YYYYMMDD`, a year of this century.
    if n > 9
        && matches!(bytes[n - 9], b'-' | b'@')
        && is_digits(n - 8..n)
        && name[n - 8..].starts_with("20")
    {
        return &name[..n - 9];
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_and_prefixes_fold_into_the_model() {
        assert_eq!(comparable("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(comparable("openai/GPT-4o"), "gpt-4o");
        assert_eq!(
            comparable("claude-sonnet-4-5-20250929"),
            "claude-sonnet-4-5"
        );
        assert_eq!(
            comparable("claude-sonnet-4-5@20250929"),
            "claude-sonnet-4-5"
        );
        assert_eq!(comparable("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(
            comparable("claude-3-5-haiku"),
            "claude-3-5-haiku",
            "versions stay"
        );
        assert_eq!(comparable("model-12345678"), "model-12345678", "not a date");
    }
}
