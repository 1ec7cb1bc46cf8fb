//! Each dialect's request as an upstream call: which endpoint of an account it goes to, and the
//! body it sends there, rewritten for the account (`qwen::normalize`). The failover loop takes
//! any of them.

use crate::accounts::credentials::Credentials;
use crate::api::anthropic::request::MessagesRequest;
use crate::api::openai::completions::CompletionRequest;
use crate::api::openai::embeddings::EmbeddingsRequest;
use crate::api::responses::ResponsesRequest;
use crate::api::UpstreamCall;
use crate::catalogue::Aliases;
use crate::qwen::normalize;
use crate::qwen::request::{url, Endpoint};
use crate::raw_json::RawObject;

/// The model a request's name stands for.
fn upstream(asked: &str, aliases: &Aliases) -> String {
    aliases.resolve(asked).unwrap_or_else(|| asked.to_owned())
}

/// Anthropic Messages: to the account's own Anthropic-compatible endpoint when it has one,
/// translated to chat otherwise.
pub struct MessagesCall {
    pub request: MessagesRequest,
    pub upstream_model: String,
}

impl MessagesCall {
    pub fn new(request: MessagesRequest, aliases: &Aliases) -> Self {
        let upstream_model = upstream(&request.model, aliases);
        MessagesCall {
            request,
            upstream_model,
        }
    }
}

impl UpstreamCall for MessagesCall {
    fn asked_model(&self) -> &str {
        &self.request.model
    }

    fn upstream_model(&self) -> &str {
        &self.upstream_model
    }

    fn endpoint_for(&self, creds: &Credentials, default_base: &str) -> Option<Endpoint> {
        Some(
            match url(creds, default_base, Endpoint::AnthropicMessages) {
                Some(_) => Endpoint::AnthropicMessages,
                None => Endpoint::ChatCompletions,
            },
        )
    }

    fn stream(&self) -> bool {
        self.request.stream
    }

    fn body_for(&self, creds: &Credentials, endpoint: Endpoint) -> String {
        let model = &self.upstream_model;
        match endpoint {
            Endpoint::AnthropicMessages => {
                let body = self.request.native_body(model);
                match serde_json::from_str::<RawObject>(&body) {
                    Ok(top) => {
                        let e = normalize::native_edits(&top, creds.kind(), model);
                        if e.is_empty() {
                            return body;
                        }
                        let mut out = String::with_capacity(body.len());
                        top.write_edited(&mut out, &e, &|_| None);
                        out
                    }
                    Err(_) => body,
                }
            }
            _ => normalize::apply(&self.request.chat_body(model), creds.kind(), model),
        }
    }
}

/// OpenAI Responses: always translated to chat (upstream's own Responses endpoints lack what
/// agents need).
pub struct ResponsesCall {
    pub request: ResponsesRequest,
    pub upstream_model: String,
}

impl ResponsesCall {
    pub fn new(request: ResponsesRequest, aliases: &Aliases) -> Self {
        let upstream_model = upstream(&request.model, aliases);
        ResponsesCall {
            request,
            upstream_model,
        }
    }
}

impl UpstreamCall for ResponsesCall {
    fn asked_model(&self) -> &str {
        &self.request.model
    }

    fn upstream_model(&self) -> &str {
        &self.upstream_model
    }

    fn endpoint_for(&self, _: &Credentials, _: &str) -> Option<Endpoint> {
        Some(Endpoint::ChatCompletions)
    }

    fn stream(&self) -> bool {
        self.request.stream
    }

    fn body_for(&self, creds: &Credentials, _: Endpoint) -> String {
        let model = &self.upstream_model;
        normalize::apply(&self.request.chat_body(model), creds.kind(), model)
    }
}

/// Legacy completions: to the account's own completions endpoint when it has one, else
/// translated to chat (not possible with a suffix: such accounts are not eligible).
pub struct CompletionsCall {
    pub request: CompletionRequest,
    pub upstream_model: String,
}

impl CompletionsCall {
    pub fn new(request: CompletionRequest, aliases: &Aliases) -> Self {
        let upstream_model = upstream(&request.model, aliases);
        CompletionsCall {
            request,
            upstream_model,
        }
    }
}

impl UpstreamCall for CompletionsCall {
    fn asked_model(&self) -> &str {
        &self.request.model
    }

    fn upstream_model(&self) -> &str {
        &self.upstream_model
    }

    fn endpoint_for(&self, creds: &Credentials, default_base: &str) -> Option<Endpoint> {
        match url(creds, default_base, Endpoint::Completions) {
            Some(_) => Some(Endpoint::Completions),
            None if self.request.suffix.is_none() => Some(Endpoint::ChatCompletions),
            None => None,
        }
    }

    fn stream(&self) -> bool {
        self.request.stream
    }

    fn body_for(&self, creds: &Credentials, endpoint: Endpoint) -> String {
        let model = &self.upstream_model;
        match endpoint {
            Endpoint::Completions => self.request.native_body(model),
            _ => {
                let chat = self.request.chat_body(model).unwrap_or_default();
                normalize::apply(&chat, creds.kind(), model)
            }
        }
    }
}

/// Embeddings: only to accounts that serve them.
pub struct EmbeddingsCall {
    pub request: EmbeddingsRequest,
    pub upstream_model: String,
}

impl EmbeddingsCall {
    pub fn new(request: EmbeddingsRequest, aliases: &Aliases) -> Self {
        let upstream_model = upstream(&request.model, aliases);
        EmbeddingsCall {
            request,
            upstream_model,
        }
    }
}

impl UpstreamCall for EmbeddingsCall {
    fn asked_model(&self) -> &str {
        &self.request.model
    }

    fn upstream_model(&self) -> &str {
        &self.upstream_model
    }

    fn endpoint_for(&self, creds: &Credentials, default_base: &str) -> Option<Endpoint> {
        url(creds, default_base, Endpoint::Embeddings).map(|_| Endpoint::Embeddings)
    }

    fn stream(&self) -> bool {
        false
    }

    fn body_for(&self, _: &Credentials, _: Endpoint) -> String {
        self.request.body(&self.upstream_model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn creds(json: &str) -> Credentials {
        Credentials::parse(json).unwrap()
    }

    #[test]
    fn messages_go_native_where_the_account_has_an_anthropic_endpoint() {
        let req = crate::api::anthropic::request::parse(
            br#"{"model":"claude-sonnet-4-5","max_tokens":100,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"hi"}]}"#,
        )
        .unwrap();
        let call = MessagesCall::new(req, &Aliases::defaults("qwen3-coder-plus"));
        assert_eq!(call.upstream_model(), "qwen3-coder-plus");
        let ds = creds(r#"{"kind":"dashscope","api_key":"sk-1","region":"cn"}"#);
        let oauth = creds(r#"{"refresh_token":"r"}"#);
        assert_eq!(
            call.endpoint_for(&ds, "x"),
            Some(Endpoint::AnthropicMessages)
        );
        assert_eq!(
            call.endpoint_for(&oauth, "x"),
            Some(Endpoint::ChatCompletions)
        );
        let native: Value =
            serde_json::from_str(&call.body_for(&ds, Endpoint::AnthropicMessages)).unwrap();
        assert_eq!(native["model"], "qwen3-coder-plus");
        assert!(
            native.get("thinking").is_none(),
            "a coder model cannot think: {native}"
        );
        let chat: Value =
            serde_json::from_str(&call.body_for(&ds, Endpoint::ChatCompletions)).unwrap();
        assert_eq!(chat["max_completion_tokens"], 100);
        assert!(chat.get("enable_thinking").is_none());
    }

    #[test]
    fn completions_with_a_suffix_need_an_account_with_a_completions_endpoint() {
        let req = CompletionRequest::parse(
            br#"{"prompt":"a","suffix":"b"}"#,
            "qwen2.5-coder-7b-instruct",
        )
        .unwrap();
        let call = CompletionsCall::new(req, &Aliases::default());
        let beijing = creds(r#"{"kind":"dashscope","api_key":"sk-1","region":"cn"}"#);
        let intl = creds(r#"{"kind":"dashscope","api_key":"sk-1","region":"intl"}"#);
        assert_eq!(
            call.endpoint_for(&beijing, "x"),
            Some(Endpoint::Completions)
        );
        assert_eq!(call.endpoint_for(&intl, "x"), None);
        let plain = CompletionsCall::new(
            CompletionRequest::parse(br#"{"prompt":"a"}"#, "qwen3-coder-plus").unwrap(),
            &Aliases::default(),
        );
        assert_eq!(
            plain.endpoint_for(&intl, "x"),
            Some(Endpoint::ChatCompletions)
        );
    }

    #[test]
    fn embeddings_only_where_served() {
        let call = EmbeddingsCall::new(
            EmbeddingsRequest::parse(br#"{"model":"text-embedding-v4","input":"x"}"#).unwrap(),
            &Aliases::default(),
        );
        assert!(call
            .endpoint_for(&creds(r#"{"refresh_token":"r"}"#), "x")
            .is_none());
        assert!(call
            .endpoint_for(&creds(r#"{"kind":"coding_plan","api_key":"sk-sp-1"}"#), "x")
            .is_none());
        assert_eq!(
            call.endpoint_for(
                &creds(r#"{"kind":"dashscope","api_key":"sk-1","region":"intl"}"#),
                "x"
            ),
            Some(Endpoint::Embeddings)
        );
    }
}
