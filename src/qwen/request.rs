//! What a request to the Qwen chat endpoint looks like: URL choice and headers. The official CLI's
//! headers are sent on OAuth accounts: clients that did not look like it were throttled.

use crate::accounts::credentials::{AccountKind, Credentials};
use crate::accounts::kinds::Capability;

/// Chat completions URL for a base (`resource_url` or a configured default): add `https://`
/// when there is no scheme, trim trailing `/`, add `/v1` when missing.
pub fn chat_completions_url(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let with_scheme = if base.contains("://") {
        base.to_owned()
    } else {
        format!("https://{base}")
    };
    let with_v1 = if with_scheme.ends_with("/v1") {
        with_scheme
    } else {
        format!("{with_scheme}/v1")
    };
    format!("{with_v1}/chat/completions")
}

/// The qwen-code version we present ourselves as.
pub const QWEN_CODE_VERSION: &str = "0.2.1";

pub fn user_agent() -> String {
    format!("QwenCode/{QWEN_CODE_VERSION} (linux; x64)")
}

/// An upstream endpoint of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
    Completions,
    AnthropicMessages,
    Models,
}

impl Endpoint {
    /// What an account must be able to do to serve it.
    pub fn capability(self) -> Capability {
        match self {
            Endpoint::ChatCompletions => Capability::Chat,
            Endpoint::Embeddings => Capability::Embeddings,
            Endpoint::Completions => Capability::Completions,
            Endpoint::AnthropicMessages => Capability::AnthropicMessages,
            Endpoint::Models => Capability::ModelList,
        }
    }
}

/// The URL of `endpoint` for an account, or `None` when the account does not serve it.
/// `default_base` is used when an OAuth account has no `resource_url` or a legacy API-key account
/// no `base_url`.
pub fn url(creds: &Credentials, default_base: &str, endpoint: Endpoint) -> Option<String> {
    let Credentials::ApiKey(k) = creds else {
        return (endpoint == Endpoint::ChatCompletions).then(|| chat_url(creds, default_base));
    };
    let bases = k.bases(default_base);
    if !bases.can(endpoint.capability()) {
        return None;
    }
    Some(match endpoint {
        Endpoint::ChatCompletions => chat_completions_url(&bases.openai),
        Endpoint::Embeddings => format!("{}/embeddings", bases.openai),
        Endpoint::Completions => format!("{}/completions", bases.openai),
        Endpoint::Models => format!("{}/models", bases.openai),
        Endpoint::AnthropicMessages => format!("{}/v1/messages", bases.anthropic?),
    })
}

/// The chat completions URL of an account.
pub fn chat_url(creds: &Credentials, default_base: &str) -> String {
    match creds {
        Credentials::OAuth(c) => chat_completions_url(
            c.resource_url
                .as_deref()
                .filter(|b| !b.trim().is_empty())
                .unwrap_or(default_base),
        ),
        Credentials::ApiKey(c) => chat_completions_url(&c.bases(default_base).openai),
    }
}

/// The bearer token to send.
pub fn bearer(creds: &Credentials) -> &str {
    match creds {
        Credentials::OAuth(c) => &c.access_token,
        Credentials::ApiKey(c) => &c.api_key,
    }
}

/// Headers of an upstream request (besides Authorization). Coding Plan accounts carry the
/// calling client's own User-Agent and nothing made up: the plan serves interactive coding
/// tools, and the provider decides who is one. Legacy OAuth accounts keep the headers of the
/// qwen-code CLI they were issued to; other keys say who we are.
pub fn headers(
    kind: AccountKind,
    stream: bool,
    client_user_agent: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("content-type", "application/json".to_owned()),
        (
            "accept",
            if stream {
                "text/event-stream"
            } else {
                "application/json"
            }
            .to_owned(),
        ),
    ];
    match kind {
        AccountKind::Oauth => {
            let ua = user_agent();
            h.extend([
                ("user-agent", ua.clone()),
                ("x-dashscope-useragent", ua),
                ("x-dashscope-cachecontrol", "enable".to_owned()),
                ("x-dashscope-authtype", "qwen-oauth".to_owned()),
                ("x-stainless-lang", "js".to_owned()),
                ("x-stainless-package-version", "5.11.0".to_owned()),
                ("x-stainless-os", "Linux".to_owned()),
                ("x-stainless-arch", "x64".to_owned()),
                ("x-stainless-runtime", "node".to_owned()),
                ("x-stainless-runtime-version", "v22.17.0".to_owned()),
                ("x-stainless-retry-count", "0".to_owned()),
            ]);
        }
        AccountKind::CodingPlan => {
            if let Some(ua) = client_user_agent.filter(|u| !u.is_empty()) {
                h.push(("user-agent", ua.to_owned()));
            }
        }
        _ => h.push((
            "user-agent",
            format!("qwen-worker/{}", env!("CARGO_PKG_VERSION")),
        )),
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_urls() {
        for (base, url) in [
            (
                "portal.qwen.ai",
                "https://portal.qwen.ai/v1/chat/completions",
            ),
            (
                "https://portal.qwen.ai/",
                "https://portal.qwen.ai/v1/chat/completions",
            ),
            (
                "http://127.0.0.1:8787",
                "http://127.0.0.1:8787/v1/chat/completions",
            ),
            (
                "https://dashscope.aliyuncs.com/compatible-mode/v1",
                "https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions",
            ),
        ] {
            assert_eq!(chat_completions_url(base), url);
        }
    }

    #[test]
    fn urls_by_kind() {
        let o = Credentials::parse(r#"{"refresh_token":"r","resource_url":"http://127.0.0.1:9/"}"#)
            .unwrap();
        assert_eq!(
            chat_url(&o, "https://d/compatible-mode/v1"),
            "http://127.0.0.1:9/v1/chat/completions"
        );
        let o = Credentials::parse(r#"{"refresh_token":"r"}"#).unwrap();
        assert_eq!(
            chat_url(&o, "https://d/compatible-mode/v1"),
            "https://d/compatible-mode/v1/chat/completions"
        );
        let k = Credentials::parse(r#"{"kind":"api_key","api_key":"k","base_url":"dashscope-intl.aliyuncs.com/compatible-mode/v1"}"#).unwrap();
        assert_eq!(
            chat_url(&k, "x"),
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"
        );
        assert_eq!(bearer(&k), "k");
    }

    #[test]
    fn oauth_requests_look_like_the_cli() {
        let h = headers(AccountKind::Oauth, true, Some("curl/8"));
        let get =
            |h: &[(&str, String)], n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        assert!(get(&h, "user-agent").unwrap().starts_with("QwenCode/"));
        assert_eq!(
            get(&h, "x-dashscope-authtype").as_deref(),
            Some("qwen-oauth")
        );
        assert_eq!(get(&h, "accept").as_deref(), Some("text/event-stream"));
        let h = headers(AccountKind::Dashscope, false, Some("curl/8"));
        assert!(!h.iter().any(|(k, _)| *k == "x-dashscope-authtype"));
        assert!(get(&h, "user-agent").unwrap().starts_with("qwen-worker/"));
    }

    #[test]
    fn coding_plan_requests_carry_the_clients_own_user_agent_and_nothing_made_up() {
        let get =
            |h: &[(&str, String)], n: &str| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
        let h = headers(
            AccountKind::CodingPlan,
            true,
            Some("claude-cli/2.1.332 (external, cli)"),
        );
        assert_eq!(
            get(&h, "user-agent").as_deref(),
            Some("claude-cli/2.1.332 (external, cli)")
        );
        let h = headers(AccountKind::CodingPlan, true, Some("python-requests/2.32"));
        assert_eq!(
            get(&h, "user-agent").as_deref(),
            Some("python-requests/2.32")
        );
        let h = headers(AccountKind::CodingPlan, true, None);
        assert_eq!(get(&h, "user-agent"), None);
        assert!(!h
            .iter()
            .any(|(k, _)| k.starts_with("x-dashscope") || k.starts_with("x-stainless")));
    }

    #[test]
    fn endpoints_an_account_does_not_serve_have_no_url() {
        let cp = Credentials::parse(r#"{"kind":"coding_plan","api_key":"sk-sp-1"}"#).unwrap();
        assert_eq!(url(&cp, "x", Endpoint::Embeddings), None);
        assert_eq!(
            url(&cp, "x", Endpoint::AnthropicMessages).as_deref(),
            Some("https://coding.dashscope.aliyuncs.com/apps/anthropic/v1/messages")
        );
        let ds =
            Credentials::parse(r#"{"kind":"dashscope","api_key":"sk-1","region":"cn"}"#).unwrap();
        assert_eq!(
            url(&ds, "x", Endpoint::Embeddings).as_deref(),
            Some("https://dashscope.aliyuncs.com/compatible-mode/v1/embeddings")
        );
        let o =
            Credentials::parse(r#"{"refresh_token":"r","resource_url":"portal.qwen.ai"}"#).unwrap();
        assert_eq!(url(&o, "x", Endpoint::Embeddings), None);
    }
}
