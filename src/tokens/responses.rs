//! OpenAI Responses API bodies (`instructions`, `input`), read as the chat
//! messages and tools the counter already knows how to count.

use serde_json::{json, Value};

/// `body` rewritten as a Chat Completions body: `instructions` becomes a
/// system message, `input` (a string or a list of items) user and assistant
/// messages, and flat function tools the nested chat shape.
pub(crate) fn responses_as_chat(body: &Value) -> Value {
    let mut messages = Vec::new();
    if let Some(instructions) = body.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    match body.get("input") {
        Some(Value::String(text)) => messages.push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => messages.extend(items.iter().map(item_as_message)),
        _ => {}
    }
    let mut counted = json!({"messages": messages});
    if let Some(tools) = body.get("tools").and_then(Value::as_array) {
        // Responses tools are flat ({"type":"function","name":…}); chat tools
        // nest the same fields under "function".
        let nested: Vec<Value> = tools
            .iter()
            .map(|tool| match tool.get("function") {
                Some(_) => tool.clone(),
                None => json!({"type": "function", "function": tool}),
            })
            .collect();
        counted["tools"] = Value::Array(nested);
    }
    counted
}

/// One Responses `input` item as a chat message: its text parts
/// (`input_text`, `output_text`) become text, anything else is counted from
/// its JSON so nothing is silently dropped.
fn item_as_message(item: &Value) -> Value {
    let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
    let content = match item.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|part| {
                part.get("text")
                    .and_then(Value::as_str)
                    .map_or_else(|| part.to_string(), str::to_owned)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        // Function calls and their outputs carry no `content`: count the item.
        _ => item.to_string(),
    };
    json!({"role": role, "content": content})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_bodies_are_counted_as_chat() {
        let body = json!({
            "model": "gpt-4o",
            "instructions": "Be brief.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}]
        });
        let counted = responses_as_chat(&body);
        assert_eq!(counted["messages"][0]["content"], "Be brief.");
        assert_eq!(counted["messages"][1]["content"], "Hi");
        assert_eq!(counted["tools"][0]["function"]["name"], "f");
    }

    #[test]
    fn items_without_content_are_counted_from_their_json() {
        let call = json!({"type": "function_call_output", "call_id": "c1", "output": "42"});
        let counted = responses_as_chat(&json!({"input": [call.clone()]}));
        assert_eq!(counted["messages"][0]["content"], call.to_string());
    }
}
