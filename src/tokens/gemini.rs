//! Reading Gemini `generateContent` request bodies: `contents[].parts[]`,
//! `systemInstruction` and `tools[].functionDeclarations`.

use serde_json::{Map, Value};

use super::chat_input::ChatInput;
use super::message::{Message, Part};
use super::shape::{
    either_key, expect_array, expect_object, required_str, FieldPath, RequestShapeError,
};
use super::tool::Tool;

/// Reads the messages and tools of a Gemini request body.
///
/// Gemini's built-in tools (`googleSearch`, `codeExecution`, ...) declare no
/// schema in the request and are skipped.
pub(crate) fn read_body(body: &Map<String, Value>) -> Result<ChatInput, RequestShapeError> {
    let mut messages = Vec::new();
    if let Some((key, system)) = either_key(body, ["systemInstruction", "system_instruction"]) {
        let path = FieldPath::Root(key);
        match system {
            Value::Null => {}
            Value::String(text) => messages.push(Message::system(text.clone())),
            other => {
                let content = expect_object(other, &path, "a content object with `parts`")?;
                messages.push(Message::from_parts("system", read_parts(content, &path)?));
            }
        }
    }
    let contents_path = FieldPath::Root("contents");
    let contents = body.get("contents").unwrap_or(&Value::Null);
    for (index, content) in expect_array(contents, &contents_path, "an array of contents")?
        .iter()
        .enumerate()
    {
        let path = contents_path.index(index);
        let content = expect_object(content, &path, "a content object with `role` and `parts`")?;
        messages.push(read_content(content, &path)?);
    }
    let mut tools = Vec::new();
    let tools_path = FieldPath::Root("tools");
    if let Some(entries) = body.get("tools").filter(|tools| !tools.is_null()) {
        for (index, entry) in expect_array(entries, &tools_path, "an array of tools")?
            .iter()
            .enumerate()
        {
            let entry_path = tools_path.index(index);
            let entry = expect_object(entry, &entry_path, "a tool object")?;
            let Some((key, declarations)) =
                either_key(entry, ["functionDeclarations", "function_declarations"])
            else {
                continue;
            };
            let declarations_path = entry_path.key(key);
            for (index, declaration) in expect_array(
                declarations,
                &declarations_path,
                "an array of function declarations",
            )?
            .iter()
            .enumerate()
            {
                let path = declarations_path.index(index);
                let declaration =
                    expect_object(declaration, &path, "a function declaration object")?;
                tools.push(Tool::from_declaration(declaration, &path)?);
            }
        }
    }
    Ok(ChatInput { messages, tools })
}

/// Reads one Gemini `Content`: an optional `role` (`user` when absent, as
/// Gemini assumes) and its `parts`.
pub(crate) fn read_content(
    content: &Map<String, Value>,
    path: &FieldPath<'_>,
) -> Result<Message, RequestShapeError> {
    let role = match content.get("role") {
        None | Some(Value::Null) => "user",
        Some(Value::String(role)) => role,
        Some(other) => return Err(path.key("role").wrong_type("a string", other)),
    };
    Ok(Message::from_parts(role, read_parts(content, path)?))
}

/// Reads the `parts` array of a content object.
fn read_parts(
    content: &Map<String, Value>,
    path: &FieldPath<'_>,
) -> Result<Vec<Part>, RequestShapeError> {
    let parts_path = path.key("parts");
    let parts = content.get("parts").ok_or_else(|| parts_path.missing())?;
    expect_array(parts, &parts_path, "an array of parts")?
        .iter()
        .enumerate()
        .map(|(index, part)| read_part(part, &parts_path.index(index)))
        .collect()
}

/// Reads one part; Gemini tells parts apart by which field they carry.
fn read_part(part: &Value, path: &FieldPath<'_>) -> Result<Part, RequestShapeError> {
    let object = expect_object(part, path, "a part object")?;
    if let Some(text) = object.get("text") {
        return match text {
            Value::String(text) => Ok(Part::Text(text.clone())),
            other => Err(path.key("text").wrong_type("a string", other)),
        };
    }
    let media = either_key(object, ["inlineData", "inline_data"])
        .or_else(|| either_key(object, ["fileData", "file_data"]));
    if let Some((key, media)) = media {
        let media_path = path.key(key);
        let media = expect_object(media, &media_path, "an object with a `mimeType`")?;
        let mime_type = match either_key(media, ["mimeType", "mime_type"]) {
            Some((_, Value::String(mime_type))) => mime_type,
            Some((key, other)) => return Err(media_path.key(key).wrong_type("a string", other)),
            None => return Err(media_path.key("mimeType").missing()),
        };
        return if mime_type.starts_with("image/") {
            Ok(Part::Image)
        } else {
            Err(path.uncountable(mime_type))
        };
    }
    let call = either_key(object, ["functionCall", "function_call"])
        .map(|(key, call)| (key, call, "args"))
        .or_else(|| {
            either_key(object, ["functionResponse", "function_response"])
                .map(|(key, response)| (key, response, "response"))
        });
    if let Some((key, call, payload)) = call {
        let call_path = path.key(key);
        let call = expect_object(call, &call_path, "an object with a `name`")?;
        return Ok(Part::ToolCall {
            name: required_str(call, "name", &call_path)?.to_owned(),
            arguments: call.get(payload).map(Value::to_string).unwrap_or_default(),
        });
    }
    let code = either_key(object, ["executableCode", "executable_code"])
        .map(|(key, code)| (key, code, "code"))
        .or_else(|| {
            either_key(object, ["codeExecutionResult", "code_execution_result"])
                .map(|(key, result)| (key, result, "output"))
        });
    if let Some((key, code, field)) = code {
        let code_path = path.key(key);
        let code = expect_object(code, &code_path, "an object")?;
        let text = code.get(field).and_then(Value::as_str).unwrap_or_default();
        return Ok(Part::Text(text.to_owned()));
    }
    let kind = object.keys().next().map_or("empty", String::as_str);
    Err(path.uncountable(kind))
}

#[cfg(test)]
mod tests {
    use super::super::request::read_body as read_any_body;
    use super::*;
    use serde_json::json;

    #[test]
    fn contents_system_instruction_and_declarations() {
        let input = read_any_body(&json!({
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [
                {"role": "user", "parts": [
                    {"text": "What is this?"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
                ]},
                {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"q": "cat"}}}]},
                {"parts": [{"functionResponse": {"name": "lookup", "response": {"answer": "A cat."}}}]}
            ],
            "tools": [
                {"functionDeclarations": [{"name": "lookup", "description": "Look up.",
                                           "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]},
                {"googleSearch": {}}
            ]
        }))
        .unwrap();
        assert_eq!(
            input.messages,
            vec![
                Message::system("Be brief."),
                Message::from_parts(
                    "user",
                    vec![Part::Text("What is this?".into()), Part::Image]
                ),
                Message::from_parts(
                    "model",
                    vec![Part::ToolCall {
                        name: "lookup".into(),
                        arguments: r#"{"q":"cat"}"#.into()
                    }]
                ),
                Message::from_parts(
                    "user",
                    vec![Part::ToolCall {
                        name: "lookup".into(),
                        arguments: r#"{"answer":"A cat."}"#.into()
                    }]
                ),
            ]
        );
        assert_eq!(input.tools.len(), 1);
    }

    #[test]
    fn snake_case_fields_are_read_too() {
        let input = read_any_body(&json!({
            "system_instruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/jpeg", "data": ""}}]}],
            "tools": [{"function_declarations": [{"name": "f"}]}]
        }))
        .unwrap();
        assert_eq!(input.messages.len(), 2);
        assert_eq!(
            input.messages[1],
            Message::from_parts("user", vec![Part::Image])
        );
        assert_eq!(input.tools.len(), 1);
    }

    #[test]
    fn bad_shapes_name_the_field() {
        let cases = [
            (
                json!({"contents": {"parts": []}}),
                RequestShapeError::WrongType {
                    field: "contents".into(),
                    expected: "an array of contents",
                    found: "an object",
                },
            ),
            (
                json!({"contents": [{"role": "user"}]}),
                RequestShapeError::Missing {
                    field: "contents[0].parts".into(),
                },
            ),
            (
                json!({"contents": [{"parts": [{"text": ["a"]}]}]}),
                RequestShapeError::WrongType {
                    field: "contents[0].parts[0].text".into(),
                    expected: "a string",
                    found: "an array",
                },
            ),
            (
                json!({"contents": [{"parts": [{"inlineData": {"mimeType": "audio/wav", "data": ""}}]}]}),
                RequestShapeError::UncountablePart {
                    field: "contents[0].parts[0]".into(),
                    kind: "audio/wav".into(),
                },
            ),
            (
                json!({"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]}),
                RequestShapeError::Missing {
                    field: "tools[0].functionDeclarations[0].name".into(),
                },
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(read_any_body(&body), Err(expected), "{body}");
        }
    }
}
