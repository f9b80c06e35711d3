//! Token estimates as a budget sees them: request bodies in, a count and its
//! exactness out, and a typed error (never a panic, never a zero) for bodies
//! that are not what they claim to be.

use proptest::prelude::*;
use serde_json::{json, Value};
use spendguard::tokens::{
    count_request, count_text, Conversation, EstimatedFamily, Exactness, Message, Part,
    RequestShapeError, TokenCounter, Tool,
};

/// OpenAI's cookbook conversation, which its API bills at 124 prompt tokens
/// on gpt-4o and 129 on gpt-4.
fn cookbook_body() -> Value {
    json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
            {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
            {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
            {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
            {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
            {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
        ],
        "temperature": 0.2,
        "max_tokens": 256
    })
}

#[test]
fn openai_requests_are_counted_exactly_whatever_the_model_id_looks_like() {
    let body = cookbook_body();
    for model in [
        "gpt-4o",
        "gpt-4o-2024-08-06",
        "openai/gpt-4o",
        "azure/gpt-4o",
        "ft:gpt-4o-mini-2024-07-18:acme::abc123",
    ] {
        let count = count_request(model, &body).unwrap();
        assert_eq!(count.tokens, 124, "{model}");
        assert_eq!(count.exactness, Exactness::Exact, "{model}");
    }
    assert_eq!(count_request("gpt-4-0613", &body).unwrap().tokens, 129);
}

#[test]
fn gpt_4_and_gpt_4o_count_the_same_request_differently() {
    let body = json!({"messages": [{"role": "user", "content": "Здравствуйте"}]});
    // 3 framing + 1 for "user" + the text + 3 priming the reply.
    assert_eq!(count_request("gpt-4o", &body).unwrap().tokens, 7 + 1);
    assert_eq!(count_request("gpt-4", &body).unwrap().tokens, 7 + 6);
}

#[test]
fn other_providers_get_an_estimate_with_their_margin() {
    let body = cookbook_body();
    for (model, margin) in [
        ("claude-sonnet-4-5-20250929", 25),
        ("bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", 25),
        ("gemini-2.5-flash", 15),
        ("mistral-large-latest", 25),
        ("some-model-nobody-has-heard-of", 25),
    ] {
        let count = count_request(model, &body).unwrap();
        // 124 o200k_base tokens, plus the margin, rounded up.
        let expected = (124 * (100 + margin) as u64).div_ceil(100);
        assert_eq!(count.tokens, expected, "{model}");
        assert_eq!(
            count.exactness,
            Exactness::Estimate {
                margin_percent: margin
            }
        );
    }
}

#[test]
fn margins_are_tunable_per_family_and_never_touch_exact_counts() {
    let counter = TokenCounter::new()
        .with_margin_percent(EstimatedFamily::Anthropic, 50)
        .unwrap();
    let body = cookbook_body();
    assert_eq!(
        counter
            .count_request("claude-opus-4-7", &body)
            .unwrap()
            .tokens,
        186
    );
    assert_eq!(
        counter
            .count_request("gemini-2.5-pro", &body)
            .unwrap()
            .tokens,
        143
    );
    assert_eq!(counter.count_request("gpt-4o", &body).unwrap().tokens, 124);

    let too_much = TokenCounter::new().with_margin_percent(EstimatedFamily::Gemini, 1_500);
    let err = too_much.unwrap_err();
    assert!(err.to_string().contains("1500%"), "{err}");
    assert!(err.to_string().contains("Gemini"), "{err}");
}

#[test]
fn the_same_conversation_counts_the_same_in_every_providers_shape() {
    let openai = json!({"messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is the capital of France?"}
    ]});
    let anthropic = json!({
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]
    });
    let typed = [
        Message::system("Be brief."),
        Message::user("What is the capital of France?"),
    ];
    let model = "claude-haiku-4-5";
    let expected = TokenCounter::new().count_chat(model, &typed, &[]);
    assert_eq!(count_request(model, &openai).unwrap(), expected);
    assert_eq!(count_request(model, &anthropic).unwrap(), expected);

    let gemini = json!({
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}]
    });
    assert_eq!(count_request(model, &gemini).unwrap(), expected);
}

#[test]
fn tools_are_counted_and_anthropic_adds_its_tool_prompt() {
    let tool = json!({
        "name": "get_weather",
        "description": "Weather for a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}
    });
    let messages = json!([{"role": "user", "content": "Weather in Paris?"}]);
    let with = json!({"messages": messages, "tools": [tool]});
    let without = json!({"messages": messages});
    let extra = |model| {
        let counter = TokenCounter::new()
            .with_margin_percent(EstimatedFamily::Anthropic, 0)
            .unwrap()
            .with_margin_percent(EstimatedFamily::Gemini, 0)
            .unwrap();
        counter.count_request(model, &with).unwrap().tokens
            - counter.count_request(model, &without).unwrap().tokens
    };
    // Anthropic bills a hidden 346-token tool-use system prompt.
    assert_eq!(extra("claude-sonnet-4-5"), extra("gemini-2.5-pro") + 346);
    assert!(extra("gpt-4o") > 12);
    assert!(count_request("gpt-4o", &with).unwrap().is_exact());
}

#[test]
fn an_empty_request_still_costs_the_reply_primer_and_empty_text_costs_nothing() {
    let empty = count_request("gpt-4o", &json!({"messages": []})).unwrap();
    assert_eq!(empty.tokens, 3);
    assert!(empty.is_exact());
    let empty_gemini = count_request("gemini-2.5-pro", &json!({"contents": []})).unwrap();
    assert_eq!(empty_gemini.tokens, 4, "3 plus 15%, rounded up");
    assert_eq!(count_text("gpt-4o", "").tokens, 0);
    assert_eq!(count_text("claude-sonnet-4-5", "").tokens, 0);
}

#[test]
fn images_and_tool_calls_turn_an_exact_count_into_an_estimate() {
    let body = json!({"messages": [
        {"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}
    ]});
    let count = count_request("gpt-4o", &body).unwrap();
    assert_eq!(count.exactness, Exactness::Estimate { margin_percent: 0 });
    assert!(count.tokens >= 1_600);

    let with_call = json!({"messages": [
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ]}
    ]});
    assert!(!count_request("gpt-4o", &with_call).unwrap().is_exact());
}

#[test]
fn malformed_bodies_are_refused_with_the_field_named() {
    let cases = [
        (json!("hello"), None),
        (json!({"model": "gpt-4o"}), None),
        (json!({"messages": "hello"}), Some("messages")),
        (json!({"messages": [null]}), Some("messages[0]")),
        (
            json!({"messages": [{"content": "hi"}]}),
            Some("messages[0].role"),
        ),
        (
            json!({"messages": [{"role": "user", "content": {"text": "hi"}}]}),
            Some("messages[0].content"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
            Some("messages[0].content[0].type"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}),
            Some("messages[0].content[0].text"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}),
            Some("messages[0].content[0]"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}),
            Some("messages[0].content[0]"),
        ),
        (json!({"messages": [], "tools": {}}), Some("tools")),
        (
            json!({"messages": [], "tools": [{"type": "function", "function": {"description": "x"}}]}),
            Some("tools[0].function.name"),
        ),
        (
            json!({"messages": [], "tools": [{"description": "x", "input_schema": {}}]}),
            Some("tools[0].name"),
        ),
        (
            json!({"messages": [], "tools": [{"name": "f", "parameters": {"properties": {"a": 1}}}]}),
            Some("tools[0].parameters.properties.a"),
        ),
        (
            json!({"contents": [{"parts": "hi"}]}),
            Some("contents[0].parts"),
        ),
        (
            json!({"contents": [{"parts": [{"fileData": {"mimeType": "application/pdf"}}]}]}),
            Some("contents[0].parts[0]"),
        ),
    ];
    for (body, field) in cases {
        let err = count_request("gpt-4o", &body).expect_err(&body.to_string());
        let message = err.to_string();
        if let Some(field) = field {
            assert!(message.contains(&format!("`{field}`")), "{message}");
        }
    }
}

#[test]
fn errors_carry_what_a_caller_needs_to_act() {
    let body = json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]});
    assert_eq!(
        count_request("gpt-4o-audio-preview", &body),
        Err(RequestShapeError::UncountablePart {
            field: "messages[0].content[0]".into(),
            kind: "input_audio".into(),
        })
    );
    assert_eq!(
        count_request("gpt-4o", &json!({"input": "embed me"}))
            .unwrap_err()
            .to_string(),
        "the request body has neither `messages` (OpenAI, Anthropic) nor `contents` (Gemini), \
         so there is nothing to count; for an embeddings `input`, use `count_text` on each input"
    );
}

#[test]
fn a_conversation_grows_and_shrinks_in_step_with_a_full_count() {
    let body = cookbook_body();
    let messages = body["messages"].as_array().unwrap();
    let mut conversation = Conversation::with_counter("gpt-4o", TokenCounter::new());
    for message in messages {
        conversation.push_json(message).unwrap();
    }
    assert_eq!(conversation.total().tokens, 124);

    // The agent rewrites its last turn.
    conversation.pop();
    conversation
        .push_json(&json!({"role": "user", "content": "Short."}))
        .unwrap();
    let mut rewritten = body.clone();
    rewritten["messages"][5]["content"] = json!("Short.");
    assert_eq!(
        conversation.total(),
        count_request("gpt-4o", &rewritten).unwrap()
    );

    conversation.truncate(1);
    let first_only = json!({"messages": [messages[0]]});
    assert_eq!(
        conversation.total(),
        count_request("gpt-4o", &first_only).unwrap()
    );
}

#[test]
fn a_conversation_with_tools_matches_a_request_with_tools() {
    let tool_json = json!({
        "type": "function",
        "function": {"name": "search", "description": "Search.", "parameters": {
            "type": "object", "properties": {"q": {"type": "string", "description": "Query."}}
        }}
    });
    let tool = Tool::from_json(&tool_json).unwrap();
    let mut conversation = Conversation::new("gpt-4o").with_tools(&[tool]);
    conversation.push(&Message::user("Find rust crates for budgets."));
    conversation.push(&Message::from_parts(
        "assistant",
        vec![Part::ToolCall {
            name: "search".into(),
            arguments: r#"{"q":"budget"}"#.into(),
        }],
    ));
    let body = json!({
        "messages": [
            {"role": "user", "content": "Find rust crates for budgets."},
            {"role": "assistant", "tool_calls": [
                {"type": "function", "function": {"name": "search", "arguments": "{\"q\":\"budget\"}"}}
            ]}
        ],
        "tools": [tool_json]
    });
    assert_eq!(
        conversation.total(),
        count_request("gpt-4o", &body).unwrap()
    );
}

/// Any JSON value at all.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        // Keys that steer the reader down its real paths.
        prop_oneof![
            Just("text"),
            Just("image_url"),
            Just("tool_use"),
            Just("tool_result"),
            Just("function")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("messages".to_owned()),
            Just("contents".to_owned()),
            Just("role".to_owned()),
            Just("content".to_owned()),
            Just("parts".to_owned()),
            Just("type".to_owned()),
            Just("text".to_owned()),
            Just("name".to_owned()),
            Just("tools".to_owned()),
            Just("function".to_owned()),
            Just("parameters".to_owned()),
            Just("properties".to_owned()),
            Just("enum".to_owned()),
            Just("tool_calls".to_owned()),
            Just("system".to_owned()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key, inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    /// Whatever arrives, the answer is a count or a typed error; and a body
    /// that is counted always costs at least the reply primer.
    #[test]
    fn no_body_panics_or_counts_as_zero(body in any_json()) {
        if let Ok(count) = count_request("gpt-4o", &body) {
            prop_assert!(count.tokens >= 3);
        }
    }
}

mod cached_counts {
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use spendguard::tokens::{CountCache, TokenCounter};

    fn body(texts: &[String]) -> Value {
        let messages: Vec<Value> = texts
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                json!({"role": role, "content": text})
            })
            .collect();
        json!({"messages": messages})
    }

    proptest! {
        /// However a history grows, and however small the cache, a cached
        /// count is exactly the full count.
        #[test]
        fn a_cached_count_equals_the_full_count(
            texts in prop::collection::vec("[a-z .,!?]{0,40}", 1..30),
            capacity in 1usize..8,
            model in prop::sample::select(vec!["gpt-4o", "gpt-4", "claude-sonnet-4-5", "gemini-2.5-pro"]),
        ) {
            let counter = TokenCounter::new();
            let cache = CountCache::with_capacity(capacity);
            for end in 1..=texts.len() {
                let request = body(&texts[..end]);
                let cached = counter.count_request_cached(model, &request, &cache).unwrap();
                prop_assert_eq!(cached, counter.count_request(model, &request).unwrap());
            }
            prop_assert!(cache.len() <= capacity);
        }
    }

    #[test]
    fn a_message_counted_with_another_encoding_is_counted_again() {
        let counter = TokenCounter::new();
        let cache = CountCache::new();
        let request = body(&["Counting is encoding-specific: 🦀 tokens differ.".to_owned()]);
        for model in ["gpt-4o", "gpt-4", "gpt-4o"] {
            assert_eq!(
                counter
                    .count_request_cached(model, &request, &cache)
                    .unwrap(),
                counter.count_request(model, &request).unwrap(),
                "{model}"
            );
        }
        assert_eq!(cache.len(), 2, "one entry per encoding");
    }
}
