//! `POST /v1/completions`, legacy text completions: either passed to an account's own
//! completions endpoint (DashScope's fill-in-the-middle coder models, in Beijing), or translated
//! to a chat call with the prompt as a partial assistant message, and the answer back into the
//! `text_completion` shape (whole, or as a stream).

use crate::error::GatewayError;
use crate::qwen::sse::EventReader;
use crate::raw_json::{parse_body, push_json_string, RawObject};
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::{json, Value};

/// Fill-in-the-middle markers of Qwen's coder models.
const FIM_PREFIX: &str = "<|fim_prefix|>";
const FIM_SUFFIX: &str = "<|fim_suffix|>";
const FIM_MIDDLE: &str = "<|fim_middle|>";

/// Chat parameters a completion request may carry over.
const CARRIED: &[&str] = &[
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "user",
];

#[derive(Debug)]
pub struct CompletionRequest {
    top: RawObject,
    pub model: String,
    pub stream: bool,
    pub prompt: String,
    pub suffix: Option<String>,
    /// The client asked for the usage chunk of a stream.
    pub include_usage: bool,
}

fn invalid(message: &str, param: &str) -> GatewayError {
    GatewayError::invalid(message, Some(param))
}

impl CompletionRequest {
    pub fn parse(body: &[u8], default_model: &str) -> Result<Self, GatewayError> {
        let top = parse_body(body, "'model' and 'prompt'")?;
        let get = |k: &str| top.get(k).map(|v| v.get());
        let model = match get("model") {
            None | Some("null") => default_model.to_owned(),
            Some(raw) => serde_json::from_str::<String>(raw)
                .ok()
                .filter(|m| !m.trim().is_empty())
                .ok_or_else(|| invalid("'model' must be a non-empty string.", "model"))?,
        };
        let prompt = match get("prompt").map(serde_json::from_str::<Value>) {
            None => return Err(invalid("'prompt' is required: a string.", "prompt")),
            Some(Ok(Value::String(s))) => s,
            Some(Ok(Value::Array(a))) if a.len() == 1 && a[0].is_string() => {
                a[0].as_str().unwrap_or_default().to_owned()
            }
            Some(Ok(Value::Array(_))) => {
                return Err(invalid(
                    "'prompt' must be one string (a list of prompts, or of token ids, is not supported here).",
                    "prompt",
                ))
            }
            _ => return Err(invalid("'prompt' must be a string.", "prompt")),
        };
        let suffix = match get("suffix").map(serde_json::from_str::<Option<String>>) {
            None | Some(Ok(None)) => None,
            Some(Ok(Some(s))) => Some(s).filter(|s| !s.is_empty()),
            Some(Err(_)) => return Err(invalid("'suffix' must be a string.", "suffix")),
        };
        let stream = match get("stream").map(serde_json::from_str::<Option<bool>>) {
            None => false,
            Some(Ok(v)) => v.unwrap_or(false),
            Some(Err(_)) => return Err(invalid("'stream' must be a boolean.", "stream")),
        };
        for (param, ok) in [("n", "1"), ("best_of", "1"), ("echo", "false")] {
            if let Some(v) = get(param) {
                if v != ok && v != "null" {
                    return Err(invalid(
                        &format!("'{param}' other than {ok} is not supported by this gateway."),
                        param,
                    ));
                }
            }
        }
        if get("logprobs").is_some_and(|v| v != "null" && v != "0") {
            return Err(invalid(
                "'logprobs' is not supported by this gateway.",
                "logprobs",
            ));
        }
        let include_usage = get("stream_options")
            .and_then(|v| serde_json::from_str::<Value>(v).ok())
            .and_then(|v| v.get("include_usage").and_then(Value::as_bool))
            .unwrap_or(false);
        Ok(CompletionRequest {
            top,
            model,
            stream,
            prompt,
            suffix,
            include_usage,
        })
    }

    /// The body for an account's own completions endpoint: the request as it came, the model
    /// given, and a suffix folded into a fill-in-the-middle prompt.
    pub fn native_body(&self, upstream_model: &str) -> String {
        let model = serde_json::Value::from(upstream_model).to_string();
        let prompt = self.suffix.as_ref().map(|s| {
            Value::from(format!(
                "{FIM_PREFIX}{}{FIM_SUFFIX}{s}{FIM_MIDDLE}",
                self.prompt
            ))
            .to_string()
        });
        let mut edits: Vec<(&str, Option<String>)> = vec![("model", Some(model))];
        if let Some(p) = prompt {
            edits.push(("prompt", Some(p)));
            edits.push(("suffix", None));
        }
        let mut out = String::with_capacity(self.top.len_hint() + 64);
        self.top.write_edited(&mut out, &edits, &|_| None);
        out
    }

    /// The chat call for an account without a completions endpoint: the prompt as a partial
    /// assistant message that the model continues. `None` when the request has a suffix (a chat
    /// model cannot fill in the middle).
    pub fn chat_body(&self, upstream_model: &str) -> Option<String> {
        if self.suffix.is_some() {
            return None;
        }
        let mut body = serde_json::Map::new();
        body.insert("model".into(), upstream_model.into());
        body.insert(
            "messages".into(),
            json!([{"role": "assistant", "content": self.prompt, "partial": true}]),
        );
        for k in CARRIED {
            if let Some(v) = self
                .top
                .get(k)
                .and_then(|v| serde_json::from_str::<Value>(v.get()).ok())
            {
                body.insert((*k).into(), v);
            }
        }
        if self.stream {
            body.insert("stream".into(), true.into());
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Some(Value::Object(body).to_string())
    }
}

/// The chat completion `answer` as a `text_completion` for `model`.
pub fn from_chat(answer: &[u8], model: &str) -> Result<(String, Usage), GatewayError> {
    let v: Value = serde_json::from_slice(answer).map_err(|_| GatewayError::UpstreamService {
        message: "the upstream answer is not JSON".into(),
    })?;
    let choice = v.pointer("/choices/0");
    let text = choice
        .and_then(|c| c.pointer("/message/content"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let finish = choice
        .and_then(|c| c.get("finish_reason"))
        .cloned()
        .unwrap_or(Value::Null);
    let usage = v.get("usage").cloned().unwrap_or(Value::Null);
    let out = json!({
        "id": v.get("id").and_then(Value::as_str).map(|i| format!("cmpl-{i}")).unwrap_or_else(|| "cmpl".into()),
        "object": "text_completion",
        "created": v.get("created").cloned().unwrap_or(Value::from(0)),
        "model": model,
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}],
        "usage": usage,
    });
    Ok((
        out.to_string(),
        Usage::from_openai(&usage).unwrap_or_default(),
    ))
}

/// One chat chunk, as far as a completion stream needs it.
#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    created: Option<u64>,
    #[serde(default)]
    choices: Vec<ChunkChoice<'a>>,
    #[serde(default)]
    usage: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChunkChoice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<std::borrow::Cow<'a, str>>,
}

/// A streamed chat completion → a streamed text completion, chunk by chunk.
#[derive(Debug)]
pub struct StreamTranslator {
    reader: EventReader,
    model: String,
    id: Option<String>,
    created: u64,
    include_usage: bool,
    usage: Usage,
    ended: bool,
}

impl StreamTranslator {
    pub fn new(model: &str, include_usage: bool) -> Self {
        StreamTranslator {
            reader: EventReader::default(),
            model: model.to_owned(),
            id: None,
            created: 0,
            include_usage,
            usage: Usage::default(),
            ended: false,
        }
    }

    fn event(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.ended || data.trim() == "[DONE]" {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Chunk>(data) else {
            return;
        };
        if chunk.error.is_some() {
            self.fail("upstream reported an error during the answer", out);
            return;
        }
        if self.id.is_none() {
            self.id = chunk.id.map(|i| format!("cmpl-{i}"));
            self.created = chunk.created.unwrap_or(0);
        }
        if let Some(u) = chunk.usage.as_ref().filter(|u| !u.is_null()) {
            self.usage = Usage::from_openai(u).unwrap_or(self.usage);
            if self.include_usage && chunk.choices.is_empty() {
                self.write(out, None, None, Some(u));
            }
        }
        for c in chunk.choices {
            let text = c.delta.and_then(|d| d.content);
            if text.as_deref().is_some_and(|t| !t.is_empty()) || c.finish_reason.is_some() {
                self.write(
                    out,
                    Some(text.as_deref().unwrap_or("")),
                    c.finish_reason.as_deref(),
                    None,
                );
            }
        }
    }

    fn write(
        &self,
        out: &mut Vec<u8>,
        text: Option<&str>,
        finish: Option<&str>,
        usage: Option<&Value>,
    ) {
        let mut s = String::with_capacity(160);
        s.push_str("data: {\"id\":");
        push_json_string(&mut s, self.id.as_deref().unwrap_or("cmpl"));
        s.push_str(",\"object\":\"text_completion\",\"created\":");
        s.push_str(&self.created.to_string());
        s.push_str(",\"model\":");
        push_json_string(&mut s, &self.model);
        s.push_str(",\"choices\":[");
        if let Some(t) = text {
            s.push_str("{\"text\":");
            push_json_string(&mut s, t);
            s.push_str(",\"index\":0,\"logprobs\":null,\"finish_reason\":");
            match finish {
                Some(f) => push_json_string(&mut s, f),
                None => s.push_str("null"),
            }
            s.push('}');
        }
        s.push(']');
        if let Some(u) = usage {
            s.push_str(",\"usage\":");
            s.push_str(&u.to_string());
        }
        s.push_str("}\n\n");
        out.extend_from_slice(s.as_bytes());
    }

    pub fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        let mut events: Vec<String> = Vec::new();
        if self
            .reader
            .push(upstream, |e| events.push(e.data.into_owned()))
            .is_err()
        {
            self.fail("upstream sent an event too long to be real", out);
            return;
        }
        for e in events {
            self.event(&e, out);
        }
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let mut events: Vec<String> = Vec::new();
        self.reader.finish(|e| events.push(e.data.into_owned()));
        for e in events {
            self.event(&e, out);
        }
        if !self.ended {
            self.ended = true;
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
    }

    pub fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        if self.ended {
            return;
        }
        self.ended = true;
        out.extend_from_slice(
            super::errors::stream_error_event(message, "stream_interrupted").as_bytes(),
        );
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// `[DONE]` or an error event has been written.
    pub fn is_finished(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
#[path = "completions_tests.rs"]
mod tests;
