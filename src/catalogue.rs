//! Which models exist and who serves them: each kind's catalogue of current ids, an account's own
//! list (from its record, or fetched from its provider's `GET /models`), and the aliases that map
//! any name a client sends (`claude-sonnet-4-5`, `gpt-5*`, `qwen-oauth:qwen3-coder-plus`) to a
//! Qwen model.

use crate::accounts::credentials::Credentials;
use crate::accounts::kinds::AccountKind;
use serde_json::Value;

/// The models a kind serves (coding-relevant ids; docs/UPSTREAM.md). Empty: the kind serves
/// whatever its provider has (an open catalogue).
pub fn catalogue(kind: AccountKind) -> &'static [&'static str] {
    // Model Studio's chat models, which pay-as-you-go and the Token Plan share, then `$extra`.
    macro_rules! model_studio_chat {
        ($($extra:literal),*) => {
            &[
                "qwen3-coder-plus",
                "qwen3-coder-flash",
                "qwen3-coder-next",
                "qwen3.5-plus",
                "qwen3.6-plus",
                "qwen3.7-plus",
                "qwen3.6-flash",
                "qwen3.8-flash",
                "qwen3.7-max",
                "qwen3.8-max",
                "qwen3-max-2026-01-23",
                "qwen4-max-preview"
                $(, $extra)*
            ]
        };
    }
    match kind {
        AccountKind::Oauth => &[
            "qwen3-coder-plus",
            "qwen3-coder-flash",
            "coder-model",
            "vision-model",
        ],
        AccountKind::Dashscope => model_studio_chat!(
            "text-embedding-v4",
            "qwen2.5-coder-32b-instruct",
            "qwen2.5-coder-7b-instruct",
            "qwen-coder-turbo"
        ),
        AccountKind::TokenPlan => model_studio_chat!(),
        AccountKind::CodingPlan => &[
            "qwen3-coder-plus",
            "qwen3-coder-next",
            "qwen3.5-plus",
            "qwen3.6-plus",
            "qwen3.7-plus",
            "kimi-k2.5",
            "glm-5",
            "glm-4.7",
            "MiniMax-M2.5",
        ],
        AccountKind::ApiKey | AccountKind::OpenaiCompatible => &[],
    }
}

/// Does this account serve `model`? Its own list decides when it has one (from its record, or
/// fetched from its provider); else its kind's catalogue; an open catalogue serves anything.
pub fn serves(creds: &Credentials, fetched: Option<&[String]>, model: &str) -> bool {
    if let Credentials::ApiKey(k) = creds {
        if let Some(own) = &k.models {
            return own.iter().any(|m| m == model);
        }
    }
    if let Some(list) = fetched {
        if list.iter().any(|m| m == model) {
            return true;
        }
    }
    let cat = catalogue(creds.kind());
    cat.is_empty() && fetched.is_none() || cat.contains(&model)
}

/// The ids an account can be asked for (for `/v1/models`): its own or fetched list, else its
/// kind's catalogue.
pub fn models_of(creds: &Credentials, fetched: Option<&[String]>) -> Vec<String> {
    if let Credentials::ApiKey(k) = creds {
        if let Some(own) = &k.models {
            return own.clone();
        }
    }
    let mut out: Vec<String> = catalogue(creds.kind())
        .iter()
        .map(|m| (*m).to_owned())
        .collect();
    for m in fetched.unwrap_or_default() {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// The ids in a provider's `GET /models` answer (OpenAI list shape).
pub fn parse_model_list(body: &str) -> Option<Vec<String>> {
    let v: Value = serde_json::from_str(body).ok()?;
    let ids: Vec<String> = v
        .get("data")?
        .as_array()?
        .iter()
        .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    Some(ids)
}

/// Model aliases: exact names, and names ending in `*` that match by prefix (the longest
/// prefix wins). A target `*` keeps what the `*` matched (`{"qwen-oauth:*": "*"}` strips a
/// prefix).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases {
    exact: Vec<(String, String)>,
    prefix: Vec<(String, String)>,
}

impl Aliases {
    /// The aliases in force when `MODEL_ALIASES` is not set: Claude and GPT names (what Claude
    /// Code and Codex send when no model is configured) go to the default model, and the
    /// `qwen-oauth:` / `qwen:` prefixes some proxies put on model ids are dropped.
    pub fn defaults(default_model: &str) -> Aliases {
        Aliases::from_pairs(
            Self::default_pairs(default_model)
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned())),
        )
    }

    fn default_pairs(default_model: &str) -> [(&'static str, &str); 4] {
        [
            ("claude-*", default_model),
            ("gpt-*", default_model),
            ("qwen-oauth:*", "*"),
            ("qwen:*", "*"),
        ]
    }

    fn from_pairs(pairs: impl Iterator<Item = (String, String)>) -> Aliases {
        let mut a = Aliases::default();
        for (from, to) in pairs {
            match from.strip_suffix('*') {
                Some(p) => a.prefix.push((p.to_owned(), to)),
                None => a.exact.push((from, to)),
            }
        }
        a.prefix.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        a
    }

    /// `MODEL_ALIASES`: a JSON object of name (or `prefix*`) → model id, added to the defaults
    /// (a default it names again is replaced; a more specific name wins over a default prefix).
    pub fn parse(json: &str, default_model: &str) -> Result<Aliases, String> {
        let v: Value = serde_json::from_str(json).map_err(|_| {
            "MODEL_ALIASES must be a JSON object such as {\"claude-*\": \"qwen3-coder-plus\"}"
                .to_owned()
        })?;
        let obj = v
            .as_object()
            .ok_or("MODEL_ALIASES must be a JSON object of name → model id")?;
        let mut pairs = Vec::with_capacity(obj.len() + 2);
        for (k, v) in obj {
            let to = v
                .as_str()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| format!("MODEL_ALIASES['{k}'] must be a model id (a string)"))?;
            pairs.push((k.clone(), to.trim().to_owned()));
        }
        for (from, to) in Self::default_pairs(default_model) {
            if !obj.contains_key(from) {
                pairs.push((from.to_owned(), to.to_owned()));
            }
        }
        Ok(Aliases::from_pairs(pairs.into_iter()))
    }

    /// The model `asked` stands for, if it is an alias.
    pub fn resolve(&self, asked: &str) -> Option<String> {
        if let Some((_, to)) = self.exact.iter().find(|(from, _)| from == asked) {
            return Some(to.clone());
        }
        let (prefix, to) = self
            .prefix
            .iter()
            .find(|(p, _)| asked.starts_with(p.as_str()))?;
        let rest = &asked[prefix.len()..];
        Some(if to == "*" {
            rest.to_owned()
        } else {
            to.clone()
        })
    }

    /// Exact alias names (listed in `/v1/models` beside real ids).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.exact.iter().map(|(a, _)| a.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(json: &str) -> Credentials {
        Credentials::parse(json).unwrap()
    }

    #[test]
    fn who_serves_what() {
        let ds = creds(r#"{"kind":"dashscope","api_key":"sk-1","region":"cn"}"#);
        assert!(serves(&ds, None, "qwen3.6-plus"));
        assert!(!serves(&ds, None, "kimi-k2.5"));
        let cp = creds(r#"{"kind":"coding_plan","api_key":"sk-sp-1"}"#);
        assert!(serves(&cp, None, "kimi-k2.5"));
        let own = creds(
            r#"{"kind":"dashscope","api_key":"sk-1","region":"cn","models":["qwen3-coder-flash"]}"#,
        );
        assert!(serves(&own, None, "qwen3-coder-flash") && !serves(&own, None, "qwen3-coder-plus"));
        let open = creds(r#"{"kind":"openai_compatible","api_key":"k","base_url":"https://x/v1"}"#);
        assert!(serves(&open, None, "anything"));
        let fetched = vec!["gpt-4.1".to_owned()];
        assert!(
            serves(&open, Some(&fetched), "gpt-4.1") && !serves(&open, Some(&fetched), "other")
        );
        assert!(
            serves(&ds, Some(&["qwen5-new".to_owned()]), "qwen5-new"),
            "fetched lists add new ids"
        );
        let legacy = creds(r#"{"kind":"api_key","api_key":"k"}"#);
        assert!(serves(&legacy, None, "whatever-the-provider-has"));
        assert_eq!(models_of(&own, None), ["qwen3-coder-flash"]);
    }

    #[test]
    fn aliases_exact_then_longest_prefix() {
        let a = Aliases::parse(
            r#"{"claude-*":"qwen3-coder-plus","claude-opus-*":"qwen3.8-max","gpt-5-codex":"qwen3-coder-next"}"#,
            "qwen3-coder-flash",
        )
        .unwrap();
        assert_eq!(
            a.resolve("claude-sonnet-4-5").as_deref(),
            Some("qwen3-coder-plus")
        );
        assert_eq!(a.resolve("claude-opus-4-1").as_deref(), Some("qwen3.8-max"));
        assert_eq!(
            a.resolve("gpt-5-codex").as_deref(),
            Some("qwen3-coder-next")
        );
        assert_eq!(
            a.resolve("qwen-oauth:qwen3-coder-flash").as_deref(),
            Some("qwen3-coder-flash")
        );
        assert_eq!(a.resolve("qwen3-coder-plus"), None);
        assert_eq!(a.names().collect::<Vec<_>>(), ["gpt-5-codex"]);
        // The defaults it does not name still hold.
        assert_eq!(a.resolve("gpt-4.1").as_deref(), Some("qwen3-coder-flash"));
        let only_haiku = Aliases::parse(
            r#"{"claude-haiku-*":"qwen3-coder-flash"}"#,
            "qwen3-coder-plus",
        )
        .unwrap();
        assert_eq!(
            only_haiku.resolve("claude-haiku-4-5").as_deref(),
            Some("qwen3-coder-flash")
        );
        assert_eq!(
            only_haiku.resolve("claude-opus-5-5").as_deref(),
            Some("qwen3-coder-plus")
        );
        let d = Aliases::defaults("qwen3-coder-plus");
        assert_eq!(
            d.resolve("claude-haiku-4-5").as_deref(),
            Some("qwen3-coder-plus")
        );
        assert_eq!(d.resolve("gpt-5").as_deref(), Some("qwen3-coder-plus"));
        for bad in ["[]", "{\"a\":5}", "nope"] {
            assert!(Aliases::parse(bad, "m").is_err(), "{bad}");
        }
    }

    #[test]
    fn provider_model_lists() {
        let ids = parse_model_list(
            r#"{"object":"list","data":[{"id":"a","object":"model"},{"id":"b"}]}"#,
        )
        .unwrap();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(parse_model_list("{}"), None);
    }
}
