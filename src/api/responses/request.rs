//! `POST /v1/responses` bodies → one chat-completions call.
//!
//! The body is read once with borrowed raw values; the chat body is written at parse time
//! except for its model, so writing it for each account the failover loop tries is one copy.
//!
//! Parameters: `model` (required), `input` (required: a string or items, see
//! `request_items`), `instructions` (into the system message), `tools` /
//! `tool_choice` / `parallel_tool_calls` (see [`super::tools`]), `max_output_tokens` →
//! `max_tokens`, `temperature`, `top_p`, `text.format` (`json_schema`, `json_object`) →
//! `response_format`, `reasoning.effort` → `reasoning_effort` (a neutral field another module
//! maps per model), `stream` (adds `stream_options.include_usage`).
//! Accepted and not sent upstream: `user`, `metadata`, `prompt_cache_key`, `include`,
//! `service_tier`, `truncation`, `client_metadata`, `reasoning.summary`, `text.verbosity`,
//! `max_tool_calls`, `safety_identifier`, `top_logprobs`, `stream_options`, and any field this
//! module does not know. Refused with a 400, because nothing is stored here: `store: true`,
//! `previous_response_id`, `conversation`, `prompt`, `background: true`.

use super::context::{echo, EchoFields, ResponseContext};
use super::json::{inner, is_null, put_str};
use super::request_items::{Conversation, ItemIn};
use super::request_params::{read_reasoning, read_text, write_response_format};
use super::tools::{self, Choice, ToolMap};
use crate::api::openai::chat::MAX_BODY_BYTES;
use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;

pub use super::request_params::EFFORTS;

/// A validated Responses request, ready to be written as a chat call for any account.
#[derive(Debug, Clone)]
pub struct ResponsesRequest {
    /// The model the client asked for (echoed in the answer).
    pub model: String,
    pub stream: bool,
    /// The chat body after its model: `,"messages":[…],…}`.
    tail: String,
    tools: ToolMap,
    echo: String,
    /// `prompt_cache_key`, when a string: the client's name for the conversation, which keeps
    /// it on one account like a session header does.
    pub prompt_cache_key: Option<String>,
}

#[derive(Deserialize)]
struct BodyIn<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_choice: Option<&'a RawValue>,
    #[serde(borrow)]
    parallel_tool_calls: Option<&'a RawValue>,
    #[serde(borrow)]
    max_output_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    temperature: Option<&'a RawValue>,
    #[serde(borrow)]
    top_p: Option<&'a RawValue>,
    #[serde(borrow)]
    text: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
    #[serde(borrow)]
    store: Option<&'a RawValue>,
    #[serde(borrow)]
    previous_response_id: Option<&'a RawValue>,
    #[serde(borrow)]
    conversation: Option<&'a RawValue>,
    #[serde(borrow)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow)]
    background: Option<&'a RawValue>,
    #[serde(borrow)]
    metadata: Option<&'a RawValue>,
    #[serde(borrow)]
    user: Option<&'a RawValue>,
    #[serde(borrow)]
    prompt_cache_key: Option<&'a RawValue>,
    #[serde(borrow)]
    service_tier: Option<&'a RawValue>,
    #[serde(borrow)]
    truncation: Option<&'a RawValue>,
}

pub(crate) fn invalid(message: impl Into<String>, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param))
}

/// A present, non-null value.
pub(crate) fn given(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| !is_null(r))
}

fn boolean(raw: Option<&RawValue>, param: &str) -> Result<Option<bool>, GatewayError> {
    match given(raw).map(RawValue::get) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(invalid(format!("'{param}' must be a boolean."), param)),
    }
}

fn number<'a>(raw: Option<&'a RawValue>, param: &str) -> Result<Option<&'a str>, GatewayError> {
    match given(raw) {
        None => Ok(None),
        Some(r) if serde_json::from_str::<f64>(r.get()).is_ok() => Ok(Some(r.get())),
        Some(_) => Err(invalid(format!("'{param}' must be a number."), param)),
    }
}

/// Reads a Responses body. Every error is a 400 (413 past the size limit) naming the field.
pub fn parse(body: &[u8]) -> Result<ResponsesRequest, GatewayError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(GatewayError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(GatewayError::invalid(
            "Request body is empty: send a JSON object with 'model' and 'input'.",
            None,
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| GatewayError::invalid("Request body is not valid UTF-8.", None))?;
    let b: BodyIn = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            GatewayError::invalid(format!("Request body must be a JSON object ({e})."), None)
        }
        _ => GatewayError::invalid(
            format!(
                "Request body is not valid JSON: {} at line {} column {}.",
                if e.is_eof() {
                    "unexpected end of input"
                } else {
                    "syntax error"
                },
                e.line(),
                e.column()
            ),
            None,
        ),
    })?;
    refuse_stored_state(&b)?;

    let model = match given(b.model).map(|m| serde_json::from_str::<String>(m.get())) {
        Some(Ok(m)) if !m.trim().is_empty() => m,
        None => {
            return Err(invalid(
                "'model' is required: the name of the model to answer with.",
                "model",
            ))
        }
        _ => return Err(invalid("'model' must be a non-empty string.", "model")),
    };
    let stream = boolean(b.stream, "stream")?.unwrap_or(false);

    let mut conv = Conversation::default();
    if let Some(ins) = given(b.instructions) {
        let text = inner(ins)
            .ok_or_else(|| invalid("'instructions' must be a string.", "instructions"))?;
        conv.instructions(text);
    }
    let input = given(b.input).ok_or_else(|| {
        invalid(
            "'input' is required: a string or an array of input items.",
            "input",
        )
    })?;
    if inner(input).is_some() {
        conv.input_text(input);
    } else if input.get().starts_with('[') {
        read_items(input.get(), &mut conv)?;
    } else {
        return Err(invalid(
            "'input' must be a string or an array of input items.",
            "input",
        ));
    }

    let (choice, allowed) = tools::read_choice(b.tool_choice)?;
    let offered = tools::offer(b.tools, allowed.as_deref())?;
    let parallel = boolean(b.parallel_tool_calls, "parallel_tool_calls")?;
    let max_tokens = match given(b.max_output_tokens) {
        None => None,
        Some(r) if r.get().parse::<u64>().is_ok_and(|n| n > 0) => Some(r.get()),
        Some(_) => {
            return Err(invalid(
                "'max_output_tokens' must be a positive integer.",
                "max_output_tokens",
            ))
        }
    };
    let temperature = number(b.temperature, "temperature")?;
    let top_p = number(b.top_p, "top_p")?;
    let (effort, summary) = read_reasoning(b.reasoning)?;
    let (format, verbosity) = read_text(b.text)?;

    let mut tail = String::with_capacity(text.len() / 2 + 256);
    tail.push(',');
    if !conv.finish(&mut tail) {
        return Err(invalid(
            "'input' holds no message to answer: send at least one user message.",
            "input",
        ));
    }
    if let Some(json) = &offered.json {
        tail.push_str(r#","tools":"#);
        tail.push_str(json);
        if let Some(c) = &choice {
            tail.push_str(r#","tool_choice":"#);
            tools::write_choice(&mut tail, c);
        }
        if let Some(p) = parallel {
            tail.push_str(if p {
                r#","parallel_tool_calls":true"#
            } else {
                r#","parallel_tool_calls":false"#
            });
        }
    } else if matches!(&choice, Some(Choice::Mode(m)) if m == "required")
        || matches!(choice, Some(Choice::Named(_)))
    {
        return Err(invalid(
            "tool_choice asks for a tool call, but no function or custom tool is offered \
             (built-in tools are not available through this gateway).",
            "tool_choice",
        ));
    }
    for (key, value) in [
        ("max_tokens", max_tokens),
        ("temperature", temperature),
        ("top_p", top_p),
    ] {
        if let Some(v) = value {
            tail.push_str(",\"");
            tail.push_str(key);
            tail.push_str("\":");
            tail.push_str(v);
        }
    }
    if let Some(f) = format {
        write_response_format(&mut tail, f)?;
    }
    if let Some(e) = effort {
        tail.push_str(r#","reasoning_effort":"#);
        tail.push_str(e.get());
    }
    if stream {
        tail.push_str(r#","stream":true,"stream_options":{"include_usage":true}"#);
    }
    tail.push('}');

    let echo = echo(&EchoFields {
        instructions: given(b.instructions),
        max_output_tokens: max_tokens,
        metadata: given(b.metadata),
        parallel_tool_calls: parallel,
        effort,
        summary,
        temperature,
        format,
        verbosity,
        tool_choice: given(b.tool_choice),
        tools: given(b.tools),
        top_p,
        truncation: given(b.truncation),
        prompt_cache_key: given(b.prompt_cache_key),
        service_tier: given(b.service_tier),
        user: given(b.user),
    });
    let prompt_cache_key = b
        .prompt_cache_key
        .and_then(|r| serde_json::from_str::<String>(r.get()).ok());
    Ok(ResponsesRequest {
        model,
        stream,
        tail,
        tools: offered.map,
        echo,
        prompt_cache_key,
    })
}

/// Nothing is stored here: requests that rely on stored state cannot be answered.
fn refuse_stored_state(b: &BodyIn) -> Result<(), GatewayError> {
    const NO_STATE: &str = "this gateway keeps no server-side state; send store: false and \
                            the full conversation in 'input' on every turn";
    if boolean(b.store, "store")? == Some(true) {
        return Err(invalid(
            format!("store: true is not supported: {NO_STATE}."),
            "store",
        ));
    }
    for (param, raw) in [
        ("previous_response_id", b.previous_response_id),
        ("conversation", b.conversation),
        ("prompt", b.prompt),
    ] {
        if given(raw).is_some() {
            return Err(invalid(
                format!("'{param}' is not supported: {NO_STATE}."),
                param,
            ));
        }
    }
    if boolean(b.background, "background")? == Some(true) {
        return Err(invalid(
            "background: true is not supported: this gateway answers while the request is \
             open and keeps no responses to poll.",
            "background",
        ));
    }
    Ok(())
}

/// The items, read in one pass; on an error, read one by one to say which item is wrong.
fn read_items(json: &str, conv: &mut Conversation) -> Result<(), GatewayError> {
    match serde_json::from_str::<Vec<ItemIn>>(json) {
        Ok(items) => {
            for (i, item) in items.iter().enumerate() {
                conv.item(i, item)?;
            }
            Ok(())
        }
        Err(whole) => {
            let list: Vec<&RawValue> = serde_json::from_str(json).map_err(|_| {
                invalid(
                    format!("'input' must be an array of input items ({whole})."),
                    "input",
                )
            })?;
            for (i, raw) in list.iter().enumerate() {
                if let Err(e) = serde_json::from_str::<ItemIn>(raw.get()) {
                    return Err(invalid(
                        format!("input[{i}] is not a valid input item: {e}."),
                        "input",
                    ));
                }
            }
            Err(invalid(format!("'input' is not valid: {whole}."), "input"))
        }
    }
}

impl ResponsesRequest {
    /// Reads a Responses body; see [`parse`].
    pub fn parse(body: &[u8]) -> Result<Self, GatewayError> {
        parse(body)
    }

    /// The chat-completions body for `upstream_model`.
    pub fn chat_body(&self, upstream_model: &str) -> String {
        let mut out = String::with_capacity(self.tail.len() + upstream_model.len() + 16);
        out.push_str(r#"{"model":"#);
        put_str(&mut out, upstream_model);
        out.push_str(&self.tail);
        out
    }

    /// What the answer translators need, for the response `id` and `created_at` (epoch
    /// seconds) the Worker chose.
    pub fn context(&self, id: &str, created_at: u64) -> ResponseContext {
        ResponseContext::new(
            id,
            created_at,
            &self.model,
            self.tools.clone(),
            self.echo.clone(),
        )
    }

    /// Function names offered upstream → the client's tools.
    pub fn tools(&self) -> &ToolMap {
        &self.tools
    }
}
