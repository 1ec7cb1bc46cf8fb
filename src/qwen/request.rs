//! What a request to the Qwen chat endpoint looks like: URL choice and headers. The official CLI's
//! headers are sent on OAuth accounts: clients that did not look like it were throttled.

use crate::accounts::credentials::{AccountKind, Credentials};

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
}

/// The URL of `endpoint` for an account. `default_base` is used when an OAuth account has no
/// `resource_url` or an API-key account no `base_url`.
pub fn url(creds: &Credentials, default_base: &str, endpoint: Endpoint) -> String {
    match endpoint {
        Endpoint::ChatCompletions => chat_url(creds, default_base),
    }
}

/// The chat completions URL of an account. `default_base` is used when an OAuth account has no
/// `resource_url` or an API-key account no `base_url`.
pub fn chat_url(creds: &Credentials, default_base: &str) -> String {
    let base = match creds {
        Credentials::OAuth(c) => c.resource_url.as_deref(),
        Credentials::ApiKey(c) => c.base_url.as_deref(),
    }
    .filter(|b| !b.trim().is_empty())
    .unwrap_or(default_base);
    chat_completions_url(base)
}

/// The bearer token to send.
pub fn bearer(creds: &Credentials) -> &str {
    match creds {
        Credentials::OAuth(c) => &c.access_token,
        Credentials::ApiKey(c) => &c.api_key,
    }
}

/// Headers for a chat request (besides Authorization).
pub fn chat_headers(kind: AccountKind, stream: bool) -> Vec<(&'static str, String)> {
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
    if kind == AccountKind::Oauth {
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
    } else {
        h.push((
            "user-agent",
            format!("qwen-worker/{}", env!("CARGO_PKG_VERSION")),
        ));
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
        let h = chat_headers(AccountKind::Oauth, true);
        let get = |n| h.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert!(get("user-agent").unwrap().starts_with("QwenCode/"));
        assert_eq!(get("x-dashscope-authtype"), Some("qwen-oauth"));
        assert_eq!(get("accept"), Some("text/event-stream"));
        let h = chat_headers(AccountKind::ApiKey, false);
        assert!(!h.iter().any(|(k, _)| *k == "x-dashscope-authtype"));
    }
}
