//! Reading request bodies: OpenAI Chat Completions and Anthropic Messages
//! here, Gemini in [`super::gemini`].

use serde_json::Value;

use crate::json_kind::json_kind;

use super::chat_input::ChatInput;
use super::gemini;
use super::message::{Message, Part};
use super::shape::{
    expect_array, expect_object, optional_str, required_str, FieldPath, RequestShapeError,
};
use super::tool::Tool;

/// Message fields read for what they are rather than counted as plain text.
const MESSAGE_KEYS: [&str; 5] = ["role", "name", "content", "tool_calls", "function_call"];

/// Reads the messages and tools of a request body in OpenAI's, Anthropic's or
/// Gemini's shape.
pub(crate) fn read_body(body: &Value) -> Result<ChatInput, RequestShapeError> {
    let Value::Object(body) = body else {
        return Err(RequestShapeError::NotAnObject {
            found: json_kind(body),
        });
    };
    if body.contains_key("contents") {
        return gemini::read_body(body);
    }
    let Some(messages_value) = body.get("messages") else {
        return Err(RequestShapeError::NothingToCount);
    };
    let messages_path = FieldPath::Root("messages");
    let listed = expect_array(messages_value, &messages_path, "an array of messages")?;
    let mut messages = Vec::with_capacity(listed.len() + 1);
    // Anthropic keeps the system prompt outside `messages`.
    if let Some(system) = body.get("system") {
        let parts = read_content(system, &FieldPath::Root("system"))?;
        if !parts.is_empty() {
            messages.push(Message::from_parts("system", parts));
        }
    }
    for (index, message) in listed.iter().enumerate() {
        messages.push(read_message(message, &messages_path.index(index))?);
    }
    let mut tools = Vec::new();
    // `functions` is OpenAI's older spelling of `tools`.
    for key in ["tools", "functions"] {
        let Some(value) = body.get(key).filter(|value| !value.is_null()) else {
            continue;
        };
        let path = FieldPath::Root(key);
        let entries = expect_array(value, &path, "an array of tool definitions")?;
        for (index, entry) in entries.iter().enumerate() {
            tools.push(Tool::from_entry(entry, &path.index(index))?);
        }
    }
    Ok(ChatInput { messages, tools })
}

/// Reads one message in OpenAI's or Anthropic's shape, or a Gemini
/// `Content` (`role` and `parts`).
pub(crate) fn read_message(
    message: &Value,
    path: &FieldPath<'_>,
) -> Result<Message, RequestShapeError> {
    let object = expect_object(message, path, "a message object with `role` and `content`")?;
    if object.contains_key("parts") && !object.contains_key("content") {
        return gemini::read_content(object, path);
    }
    let role = required_str(object, "role", path)?;
    let name = optional_str(object, "name", path)?;
    let mut parts = match object.get("content") {
        Some(content) => read_content(content, &path.key("content"))?,
        None => Vec::new(),
    };
    if let Some(calls) = object.get("tool_calls") {
        read_tool_calls(calls, &path.key("tool_calls"), &mut parts)?;
    }
    if let Some(call) = object.get("function_call").filter(|call| !call.is_null()) {
        parts.push(read_function_call(call, &path.key("function_call"))?);
    }
    // OpenAI's cookbook counts every other string field of a message
    // (`tool_call_id`, `refusal`) as text.
    let other_text = object
        .iter()
        .filter(|(key, _)| !MESSAGE_KEYS.contains(&key.as_str()))
        .filter_map(|(_, value)| value.as_str());
    parts.extend(other_text.map(|text| Part::Text(text.to_owned())));
    let message = Message::from_parts(role, parts);
    Ok(match name {
        Some(name) => message.with_name(name),
        None => message,
    })
}

/// Reads message content: a string, an array of parts, or `null`.
fn read_content(content: &Value, path: &FieldPath<'_>) -> Result<Vec<Part>, RequestShapeError> {
    match content {
        Value::Null => Ok(Vec::new()),
        Value::String(text) => Ok(vec![Part::Text(text.clone())]),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                read_part(item, &path.index(index), &mut parts)?;
            }
            Ok(parts)
        }
        other => Err(path.wrong_type("a string or an array of content parts", other)),
    }
}

/// Reads one typed content part of OpenAI's or Anthropic's shape into
/// `parts`.
fn read_part(
    part: &Value,
    path: &FieldPath<'_>,
    parts: &mut Vec<Part>,
) -> Result<(), RequestShapeError> {
    let object = expect_object(part, path, "a content part object with a `type`")?;
    let kind = required_str(object, "type", path)?;
    let text_field = |key| required_str(object, key, path).map(|text| Part::Text(text.to_owned()));
    match kind {
        "text" | "input_text" | "output_text" => parts.push(text_field("text")?),
        "refusal" => parts.push(text_field("refusal")?),
        "thinking" => parts.push(text_field("thinking")?),
        // Encrypted reasoning handed back in a tool-use loop is billed as
        // input; its ciphertext is the only measure of its size available,
        // and a generous one.
        "redacted_thinking" => parts.push(text_field("data")?),
        "image_url" | "image" | "input_image" => parts.push(Part::Image),
        "tool_use" | "server_tool_use" => parts.push(Part::ToolCall {
            name: required_str(object, "name", path)?.to_owned(),
            arguments: object
                .get("input")
                .map(Value::to_string)
                .unwrap_or_default(),
        }),
        "tool_result" => {
            if let Some(content) = object.get("content") {
                parts.extend(read_content(content, &path.key("content"))?);
            }
        }
        other => return Err(path.uncountable(other)),
    }
    Ok(())
}

/// Reads an assistant message's `tool_calls` into `parts`.
fn read_tool_calls(
    calls: &Value,
    path: &FieldPath<'_>,
    parts: &mut Vec<Part>,
) -> Result<(), RequestShapeError> {
    if calls.is_null() {
        return Ok(());
    }
    for (index, call) in expect_array(calls, path, "an array of tool calls")?
        .iter()
        .enumerate()
    {
        let call_path = path.index(index);
        let call = expect_object(call, &call_path, "a tool call object")?;
        let function_path = call_path.key("function");
        let function = call
            .get("function")
            .ok_or_else(|| function_path.missing())?;
        parts.push(read_function_call(function, &function_path)?);
    }
    Ok(())
}

/// Reads `{"name": ..., "arguments": ...}`; arguments are JSON text in
/// OpenAI's API, but an object is accepted too.
fn read_function_call(call: &Value, path: &FieldPath<'_>) -> Result<Part, RequestShapeError> {
    let call = expect_object(call, path, "a function call object")?;
    let arguments = match call.get("arguments") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    Ok(Part::ToolCall {
        name: required_str(call, "name", path)?.to_owned(),
        arguments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: Value) -> Result<ChatInput, RequestShapeError> {
        read_body(&body)
    }

    #[test]
    fn openai_messages_with_every_kind_of_content() {
        let input = read(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "name": "ada", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "A cat."}
            ]
        }))
        .unwrap();
        let expected = vec![
            Message::system("Be brief."),
            Message::from_parts(
                "user",
                vec![Part::Text("What is this?".into()), Part::Image],
            )
            .with_name("ada"),
            Message::from_parts(
                "assistant",
                vec![Part::ToolCall {
                    name: "lookup".into(),
                    arguments: r#"{"q":"cat"}"#.into(),
                }],
            ),
            Message::from_parts(
                "tool",
                vec![Part::Text("A cat.".into()), Part::Text("call_1".into())],
            ),
        ];
        assert_eq!(input.messages, expected);
        assert!(input.tools.is_empty());
    }

    #[test]
    fn anthropic_system_and_blocks() {
        let input = read(json!({
            "model": "claude-sonnet-4-5",
            "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Use the tool.", "signature": "sig"},
                    {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "Sunny"}]}
                ]}
            ],
            "tools": [{"name": "weather", "description": "Weather.", "input_schema": {"type": "object"}}]
        }))
        .unwrap();
        assert_eq!(
            input.messages,
            vec![
                Message::system("Be brief."),
                Message::user("Weather in Paris?"),
                Message::from_parts(
                    "assistant",
                    vec![
                        Part::Text("Use the tool.".into()),
                        Part::ToolCall {
                            name: "weather".into(),
                            arguments: r#"{"city":"Paris"}"#.into()
                        }
                    ]
                ),
                Message::from_parts("user", vec![Part::Text("Sunny".into())]),
            ]
        );
        assert_eq!(input.tools.len(), 1);
    }

    #[test]
    fn an_empty_request_has_no_messages() {
        let input = read(json!({"messages": []})).unwrap();
        assert!(input.messages.is_empty());
    }

    #[test]
    fn bad_shapes_name_the_field() {
        let cases = [
            (
                json!([]),
                RequestShapeError::NotAnObject { found: "an array" },
            ),
            (
                json!({"model": "gpt-4o"}),
                RequestShapeError::NothingToCount,
            ),
            (
                json!({"messages": {"role": "user"}}),
                RequestShapeError::WrongType {
                    field: "messages".into(),
                    expected: "an array of messages",
                    found: "an object",
                },
            ),
            (
                json!({"messages": [{"content": "hi"}]}),
                RequestShapeError::Missing {
                    field: "messages[0].role".into(),
                },
            ),
            (
                json!({"messages": [{"role": "user", "content": 42}]}),
                RequestShapeError::WrongType {
                    field: "messages[0].content".into(),
                    expected: "a string or an array of content parts",
                    found: "a number",
                },
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "text"}]}]}),
                RequestShapeError::Missing {
                    field: "messages[0].content[0].text".into(),
                },
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
                RequestShapeError::UncountablePart {
                    field: "messages[0].content[0]".into(),
                    kind: "input_audio".into(),
                },
            ),
            (
                json!({"messages": [{"role": "user", "name": 3, "content": "hi"}]}),
                RequestShapeError::WrongType {
                    field: "messages[0].name".into(),
                    expected: "a string",
                    found: "a number",
                },
            ),
            (
                json!({"messages": [], "tools": [{"type": "function", "function": {"parameters": {}}}]}),
                RequestShapeError::Missing {
                    field: "tools[0].function.name".into(),
                },
            ),
            (
                json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "x"}]}]}),
                RequestShapeError::Missing {
                    field: "messages[0].tool_calls[0].function".into(),
                },
            ),
            (
                json!({"messages": [], "system": 1}),
                RequestShapeError::WrongType {
                    field: "system".into(),
                    expected: "a string or an array of content parts",
                    found: "a number",
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(read(body.clone()), Err(expected), "{body}");
        }
    }
}
