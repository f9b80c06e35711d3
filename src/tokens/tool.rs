//! Tool (function) definitions, and the tokens their schemas add to a prompt.

use serde_json::{Map, Value};

use super::count::RawCount;
use super::encoding::Encoding;
use super::estimate::EstimatedFamily;
use super::measure::Measure;
use super::shape::{expect_object, optional_str, required_str, FieldPath, RequestShapeError};
use super::tokenizer::Tokenizer;

/// Tokens of the system prompt Anthropic adds to every request that carries
/// tools, for current Claude models with `tool_choice` `auto` or `none`
/// (Anthropic's "tool use system prompt token count"; `any` and `tool` add
/// 313). The request never shows it, but it is billed as input.
const ANTHROPIC_TOOL_SYSTEM_PROMPT_TOKENS: u64 = 346;

/// Top-level schema keys that the cookbook's rule ignores and that carry no
/// text of their own: the list's `type`, which parameters are `required`, and
/// strict mode's `additionalProperties`. Any other top-level key (`$defs`,
/// `description`, ...) is counted as JSON.
const SCHEMA_KEYS_NOT_RENDERED: [&str; 3] = ["type", "required", "additionalProperties"];

/// The per-element constants of `num_tokens_for_tools` in OpenAI's cookbook
/// "How to count tokens with tiktoken", fitted by OpenAI to its API's counts.
struct ToolFraming {
    /// Tokens opening each function.
    func_init: u64,
    /// Tokens opening a function's parameter list.
    prop_init: u64,
    /// Tokens per parameter.
    prop_key: u64,
    /// Adjustment for a parameter with an `enum`; negative in OpenAI's fit.
    enum_init: i64,
    /// Tokens per enum value, besides the value itself.
    enum_item: u64,
    /// Tokens closing the tool list, added once.
    func_end: u64,
}

impl ToolFraming {
    /// The cookbook's constants for gpt-4o and gpt-4o-mini, used for every
    /// o200k_base model.
    const O200K: ToolFraming = ToolFraming {
        func_init: 7,
        prop_init: 3,
        prop_key: 3,
        enum_init: -3,
        enum_item: 3,
        func_end: 12,
    };
    /// The cookbook's constants for gpt-3.5-turbo and gpt-4, used for every
    /// cl100k_base model.
    const CL100K: ToolFraming = ToolFraming {
        func_init: 10,
        ..ToolFraming::O200K
    };

    const fn for_encoding(encoding: Encoding) -> &'static ToolFraming {
        match encoding {
            Encoding::O200kBase => &ToolFraming::O200K,
            Encoding::Cl100kBase => &ToolFraming::CL100K,
        }
    }
}

/// A tool (function) the model may call, as declared in a request.
///
/// ```
/// use serde_json::json;
/// use spendguard::tokens::{Message, TokenCounter, Tool};
///
/// let weather = Tool::new(
///     "get_current_weather",
///     "Get the current weather in a given location",
///     &json!({
///         "type": "object",
///         "properties": {
///             "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
///             "unit": {"type": "string", "description": "The unit of temperature to return",
///                      "enum": ["celsius", "fahrenheit"]}
///         },
///         "required": ["location"]
///     }),
/// )?;
/// let messages = [
///     Message::system("You are a helpful assistant that can answer to questions about the weather."),
///     Message::user("What's the weather like in San Francisco?"),
/// ];
/// // The figure OpenAI's cookbook reports for gpt-4o.
/// let count = TokenCounter::new().count_chat("gpt-4o", &messages, &[weather]);
/// assert_eq!(count.tokens, 101);
/// assert!(count.is_exact());
/// # Ok::<(), spendguard::tokens::RequestShapeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    /// `name:description`, the function line OpenAI's cookbook counts.
    header: String,
    /// Each top-level parameter.
    parameters: Vec<Parameter>,
    /// Top-level schema keys the cookbook's rule does not cover, as JSON.
    unmodelled: Option<String>,
    /// Name, description and the whole parameter schema as JSON text: what
    /// providers with unpublished renderings are assumed to read.
    full_text: [String; 3],
}

/// One top-level parameter of a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parameter {
    /// `name:type:description`, the parameter line OpenAI's cookbook counts.
    line: String,
    /// The values of its `enum`, if it has one.
    enum_values: Option<Vec<String>>,
    /// Schema keys the cookbook's rule does not cover (nested properties,
    /// `items`, `default`, ...), as JSON.
    unmodelled: Option<String>,
}

impl Tool {
    /// A tool with a JSON schema for its parameters (`{"type": "object",
    /// "properties": {...}}`), or `Value::Null` for none.
    ///
    /// # Errors
    /// [`RequestShapeError`] naming the field at fault (`parameters.properties`)
    /// when the schema is not an object, its `properties` are not an object of
    /// schemas, or a `description` or `enum` has the wrong type.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: &Value,
    ) -> Result<Tool, RequestShapeError> {
        Tool::build(
            &name.into(),
            &description.into(),
            parameters,
            &FieldPath::Root("parameters"),
        )
    }

    /// A tool from one entry of a request's `tools` list, in any provider's
    /// shape: OpenAI's `{"type": "function", "function": {...}}`, or a bare
    /// declaration with `name`, `description` and `parameters` (OpenAI's
    /// legacy `functions`, Gemini's `functionDeclarations`) or `input_schema`
    /// (Anthropic).
    ///
    /// # Errors
    /// [`RequestShapeError`] naming the field at fault, e.g. `tool.function.name`
    /// when the tool has no name.
    pub fn from_json(tool: &Value) -> Result<Tool, RequestShapeError> {
        Tool::from_entry(tool, &FieldPath::Root("tool"))
    }

    /// As [`Tool::from_json`], reporting errors under `path`.
    pub(crate) fn from_entry(
        tool: &Value,
        path: &FieldPath<'_>,
    ) -> Result<Tool, RequestShapeError> {
        let object = expect_object(tool, path, "a tool definition object")?;
        // OpenAI wraps a declaration in a field named after its type:
        // `{"type": "function", "function": {...}}`, `{"type": "custom", "custom": {...}}`.
        if let Some(Value::String(kind)) = object.get("type") {
            let inner_path = path.key(kind);
            if let Some(inner) = object.get(kind.as_str()) {
                let declaration =
                    expect_object(inner, &inner_path, "a function definition object")?;
                return Tool::from_declaration(declaration, &inner_path);
            }
            if kind == "function" && !object.contains_key("name") {
                return Err(inner_path.missing());
            }
        }
        Tool::from_declaration(object, path)
    }

    /// A tool from a bare declaration: `name`, `description`, and a schema
    /// under `parameters`, `input_schema` or `parametersJsonSchema`.
    pub(crate) fn from_declaration(
        declaration: &Map<String, Value>,
        path: &FieldPath<'_>,
    ) -> Result<Tool, RequestShapeError> {
        let name = required_str(declaration, "name", path)?;
        let description = optional_str(declaration, "description", path)?.unwrap_or_default();
        let schema = ["parameters", "input_schema", "parametersJsonSchema"]
            .into_iter()
            .find_map(|key| declaration.get(key).map(|schema| (key, schema)));
        match schema {
            Some((key, schema)) => Tool::build(name, description, schema, &path.key(key)),
            None => Tool::build(name, description, &Value::Null, path),
        }
    }

    fn build(
        name: &str,
        description: &str,
        schema: &Value,
        path: &FieldPath<'_>,
    ) -> Result<Tool, RequestShapeError> {
        let mut parameters = Vec::new();
        let mut unmodelled = Map::new();
        match schema {
            Value::Null => {}
            Value::Object(schema) => {
                for (key, value) in schema {
                    if key == "properties" {
                        parameters = Parameter::list(value, &path.key("properties"))?;
                    } else if !SCHEMA_KEYS_NOT_RENDERED.contains(&key.as_str()) {
                        unmodelled.insert(key.clone(), value.clone());
                    }
                }
            }
            other => return Err(path.wrong_type("a JSON schema object", other)),
        }
        let schema_text = if schema.is_null() {
            String::new()
        } else {
            schema.to_string()
        };
        Ok(Tool {
            header: format!("{name}:{}", without_final_period(description)),
            parameters,
            unmodelled: json_text(unmodelled),
            full_text: [name.to_owned(), description.to_owned(), schema_text],
        })
    }

    /// Tokens this tool adds under OpenAI's cookbook rule, before the list's
    /// closing tokens.
    fn cookbook_count(&self, measure: Measure, framing: &ToolFraming) -> RawCount {
        let mut count = RawCount::exact(framing.func_init + measure.count(&self.header));
        if !self.parameters.is_empty() {
            count += framing.prop_init;
            for parameter in &self.parameters {
                count += parameter.cookbook_count(measure, framing);
            }
        }
        if let Some(unmodelled) = &self.unmodelled {
            count += RawCount::estimated(measure.count(unmodelled));
        }
        count
    }

    /// Tokens of the tool's full declaration as text, for providers whose
    /// rendering of tools is not published.
    fn full_text_count(&self, measure: Measure) -> u64 {
        self.full_text.iter().map(|text| measure.count(text)).sum()
    }
}

impl Parameter {
    /// The parameters declared by a schema's `properties`.
    fn list(properties: &Value, path: &FieldPath<'_>) -> Result<Vec<Parameter>, RequestShapeError> {
        let properties = match properties {
            Value::Null => return Ok(Vec::new()),
            other => expect_object(other, path, "an object of parameter schemas")?,
        };
        properties
            .iter()
            .map(|(name, schema)| Parameter::parse(name, schema, &path.key(name)))
            .collect()
    }

    fn parse(
        name: &str,
        schema: &Value,
        path: &FieldPath<'_>,
    ) -> Result<Parameter, RequestShapeError> {
        let schema = expect_object(schema, path, "a parameter schema object")?;
        let mut type_name = "";
        let mut description = "";
        let mut enum_values = None;
        let mut unmodelled = Map::new();
        for (key, value) in schema {
            match (key.as_str(), value) {
                ("type", Value::String(text)) => type_name = text,
                ("description", Value::String(text)) => description = text,
                ("description", other) => {
                    return Err(path.key("description").wrong_type("a string", other))
                }
                ("enum", Value::Array(values)) => {
                    enum_values = Some(values.iter().map(enum_value_text).collect());
                }
                ("enum", other) => {
                    return Err(path.key("enum").wrong_type("an array of values", other))
                }
                _ => {
                    unmodelled.insert(key.clone(), value.clone());
                }
            }
        }
        Ok(Parameter {
            line: format!("{name}:{type_name}:{}", without_final_period(description)),
            enum_values,
            unmodelled: json_text(unmodelled),
        })
    }

    fn cookbook_count(&self, measure: Measure, framing: &ToolFraming) -> RawCount {
        let mut tokens = framing.prop_key + measure.count(&self.line);
        if let Some(values) = &self.enum_values {
            // Never below zero: `prop_key` already counted outweighs the
            // negative `enum_init`. Still rising with the text's measure,
            // so a bound stays a bound.
            tokens = tokens.saturating_add_signed(framing.enum_init);
            for value in values {
                tokens += framing.enum_item + measure.count(value);
            }
        }
        let mut count = RawCount::exact(tokens);
        if let Some(unmodelled) = &self.unmodelled {
            count += RawCount::estimated(measure.count(unmodelled));
        }
        count
    }
}

/// Tokens a request's tool list adds to its prompt, before any safety margin.
///
/// OpenAI models follow the cookbook's `num_tokens_for_tools`, which is exact
/// for flat schemas; schema parts it does not cover are counted as JSON text
/// and make the count an estimate. Other providers do not publish how they
/// render tools, so each declaration is counted as its full text, and
/// Anthropic's hidden tool-use system prompt is added.
///
/// `measure` tokenizes the text, or bounds it by its length.
pub(crate) fn raw_count_of_tools(
    tools: &[Tool],
    tokenizer: Tokenizer,
    measure: Measure,
) -> RawCount {
    if tools.is_empty() {
        return RawCount::ZERO;
    }
    match tokenizer {
        Tokenizer::Exact(_) => {
            let framing = ToolFraming::for_encoding(measure.encoding());
            let mut count = RawCount::exact(framing.func_end);
            for tool in tools {
                count += tool.cookbook_count(measure, framing);
            }
            count
        }
        Tokenizer::Estimated(family) => {
            let mut count = RawCount::estimated(match family {
                EstimatedFamily::Anthropic => ANTHROPIC_TOOL_SYSTEM_PROMPT_TOKENS,
                _ => 0,
            });
            for tool in tools {
                count += tool.full_text_count(measure);
            }
            count
        }
    }
}

/// The text the cookbook counts for a description: one trailing period is
/// dropped, as OpenAI's rendering drops it.
fn without_final_period(description: &str) -> &str {
    description.strip_suffix('.').unwrap_or(description)
}

/// An enum value as the rendering shows it: strings bare, anything else as
/// JSON.
fn enum_value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// `fields` as JSON text, or `None` when there are none.
fn json_text(fields: Map<String, Value>) -> Option<String> {
    (!fields.is_empty()).then(|| Value::Object(fields).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The tools' count, tokenized.
    fn exact_count(tools: &[Tool], tokenizer: Tokenizer) -> RawCount {
        raw_count_of_tools(tools, tokenizer, Measure::Tokens(tokenizer.encoding()))
    }

    const GPT_4O: Tokenizer = Tokenizer::Exact(Encoding::O200kBase);
    const GPT_4: Tokenizer = Tokenizer::Exact(Encoding::Cl100kBase);

    fn weather_tool() -> Tool {
        Tool::from_json(&json!({
            "type": "function",
            "function": {
                "name": "get_current_weather",
                "description": "Get the current weather in a given location",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                        "unit": {"type": "string", "description": "The unit of temperature to return",
                                 "enum": ["celsius", "fahrenheit"]}
                    },
                    "required": ["location"]
                }
            }
        }))
        .unwrap()
    }

    /// The cookbook's arithmetic, spelled out by hand for its own example.
    #[test]
    fn the_cookbook_example_adds_up() {
        let tool = weather_tool();
        for (tokenizer, func_init) in [(GPT_4O, 7), (GPT_4, 10)] {
            let e = tokenizer.encoding();
            let expected = func_init
                + e.count("get_current_weather:Get the current weather in a given location")
                + 3 // prop_init
                + 3 + e.count("location:string:The city and state, e.g. San Francisco, CA")
                + 3 + e.count("unit:string:The unit of temperature to return")
                - 3
                + (3 + e.count("celsius"))
                + (3 + e.count("fahrenheit"))
                + 12; // func_end
            assert_eq!(
                exact_count(std::slice::from_ref(&tool), tokenizer),
                RawCount::exact(expected)
            );
        }
    }

    #[test]
    fn no_tools_cost_nothing() {
        assert_eq!(exact_count(&[], GPT_4O), RawCount::ZERO);
        let anthropic = Tokenizer::Estimated(EstimatedFamily::Anthropic);
        assert_eq!(exact_count(&[], anthropic), RawCount::ZERO);
    }

    #[test]
    fn a_tool_without_parameters_is_its_header_and_the_list_end() {
        let tool = Tool::new("ping", "Check the service.", &Value::Null).unwrap();
        let expected = 7 + Encoding::O200kBase.count("ping:Check the service") + 12;
        assert_eq!(exact_count(&[tool], GPT_4O), RawCount::exact(expected));
    }

    #[test]
    fn nested_schemas_are_counted_as_json_and_marked_estimated() {
        let nested = Tool::new(
            "create_user",
            "",
            &json!({
                "type": "object",
                "properties": {
                    "address": {"type": "object", "properties": {"city": {"type": "string"}}}
                }
            }),
        )
        .unwrap();
        let flat = Tool::new(
            "create_user",
            "",
            &json!({"type": "object", "properties": {"address": {"type": "object"}}}),
        )
        .unwrap();
        let nested_count = exact_count(&[nested], GPT_4O);
        let flat_count = exact_count(&[flat], GPT_4O);
        assert!(!nested_count.exact);
        assert!(flat_count.exact);
        let extra = Encoding::O200kBase.count(r#"{"properties":{"city":{"type":"string"}}}"#);
        assert_eq!(nested_count.tokens, flat_count.tokens + extra);
    }

    #[test]
    fn anthropic_tools_include_the_hidden_system_prompt() {
        let tool = weather_tool();
        let gemini = exact_count(
            std::slice::from_ref(&tool),
            Tokenizer::Estimated(EstimatedFamily::Gemini),
        );
        let claude = exact_count(&[tool], Tokenizer::Estimated(EstimatedFamily::Anthropic));
        assert_eq!(
            claude.tokens,
            gemini.tokens + ANTHROPIC_TOOL_SYSTEM_PROMPT_TOKENS
        );
        assert!(!claude.exact);
    }

    #[test]
    fn every_provider_shape_reads_the_same_tool() {
        let schema = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        let openai = json!({"type": "function", "function": {"name": "search", "description": "Search.", "parameters": schema}});
        let anthropic = json!({"name": "search", "description": "Search.", "input_schema": schema});
        let gemini =
            json!({"name": "search", "description": "Search.", "parametersJsonSchema": schema});
        let typed = Tool::new("search", "Search.", &schema).unwrap();
        for shape in [openai, anthropic, gemini] {
            assert_eq!(Tool::from_json(&shape).unwrap(), typed);
        }
    }

    #[test]
    fn malformed_tools_name_the_field() {
        let cases = [
            (
                json!({"type": "function", "function": {"description": "x"}}),
                "tool.function.name",
            ),
            (json!({"type": "function"}), "tool.function"),
            (json!({"description": "x"}), "tool.name"),
        ];
        for (tool, field) in cases {
            assert_eq!(
                Tool::from_json(&tool),
                Err(RequestShapeError::Missing {
                    field: field.into()
                })
            );
        }
        let bad_enum =
            json!({"name": "f", "parameters": {"properties": {"u": {"enum": "celsius"}}}});
        assert_eq!(
            Tool::from_json(&bad_enum),
            Err(RequestShapeError::WrongType {
                field: "tool.parameters.properties.u.enum".into(),
                expected: "an array of values",
                found: "a string",
            })
        );
        assert!(matches!(
            Tool::from_json(&json!("search")),
            Err(RequestShapeError::WrongType { .. })
        ));
        assert!(matches!(
            Tool::new("f", "", &json!({"properties": []})),
            Err(RequestShapeError::WrongType { .. })
        ));
    }
}
