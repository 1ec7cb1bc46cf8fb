//! Configuration: the Worker's vars and secrets, parsed and validated in one place. Defaults live
//! in one table ([`VARS`]); a bad value is reported (once per isolate, in the log and in `GET /`)
//! and the default is used instead, so a typo never takes the gateway down.

use crate::api::keys::ClientKeys;
use crate::catalogue::Aliases;

/// Every var: name, default, meaning. wrangler.toml and the README list the same.
pub const VARS: &[(&str, &str, &str)] = &[
    (
        "QWEN_OAUTH_BASE_URL",
        "https://chat.qwen.ai",
        "OAuth server (device flow and token refresh)",
    ),
    (
        "QWEN_API_BASE_URL",
        "https://dashscope.aliyuncs.com/compatible-mode/v1",
        "chat base for accounts without a resource_url or base_url",
    ),
    (
        "DEFAULT_MODEL",
        "qwen3-coder-plus",
        "model used when a request names none",
    ),
    (
        "FIRST_BYTE_TIMEOUT_MS",
        "45000",
        "longest wait for a streamed answer's first event before failing over",
    ),
    (
        "REQUEST_TIMEOUT_MS",
        "300000",
        "longest a request may take before its answer starts, across every account it tries",
    ),
    (
        "STREAM_IDLE_TIMEOUT_MS",
        "90000",
        "longest silence of a streamed answer once it has started; then it ends with an error event",
    ),
    (
        "KEEPALIVE_MS",
        "10000",
        "how long an Anthropic stream may send nothing before a ping event goes out (0: never)",
    ),
    (
        "ACCOUNT_CACHE_TTL_SECS",
        "15",
        "how long an isolate trusts its copy of the pool state",
    ),
    (
        "REQUEST_LOG",
        "on",
        "one structured log line per request (on), or none (off: saves the runtime's logging, about 0.05 ms a request and 4 ms on an isolate's first); warnings and errors are logged either way",
    ),
    (
        "MODEL_ALIASES",
        "{}",
        "model aliases added to the defaults (claude-* and gpt-* to DEFAULT_MODEL, qwen-oauth: and qwen: prefixes dropped): a JSON object of name or prefix* to model id",
    ),
];

/// Secrets: name and meaning.
pub const SECRETS: &[(&str, &str)] = &[
    (
        "OPENAI_API_KEYS",
        "client keys, comma-separated; unset (with OPENAI_API_KEY) = public API",
    ),
    ("OPENAI_API_KEY", "one client key (legacy)"),
    ("ADMIN_SECRET_KEY", "enables /admin/*"),
    (
        "QWEN_OAUTH_CREDS",
        "one OAuth account's credentials JSON (account 'default')",
    ),
];

/// A var whose value could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub name: &'static str,
    pub message: String,
}

/// Settings, fixed for an isolate's lifetime.
#[derive(Debug, Clone)]
pub struct Config {
    pub client_keys: ClientKeys,
    pub admin_key: Option<String>,
    pub secret_creds: Option<String>,
    pub oauth_base_url: String,
    pub api_base_url: String,
    pub default_model: String,
    pub first_byte_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub stream_idle_timeout_ms: u64,
    /// Keep-alive of Anthropic streams (0: none).
    pub keepalive_ms: u64,
    pub cache_ttl_ms: u64,
    /// One log line per request (`REQUEST_LOG`); warnings and errors are logged regardless.
    pub request_log: bool,
    /// Model aliases: `MODEL_ALIASES`, or the defaults (Claude and GPT names to the default
    /// model).
    pub aliases: Aliases,
    /// What was wrong with the vars (each replaced by its default).
    pub problems: Vec<ConfigProblem>,
}

/// The default of a var; a var missing from [`VARS`] has none, which the tests catch (every
/// number would then read as 0).
pub fn default_of(name: &str) -> &'static str {
    VARS.iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, d, _)| *d)
        .unwrap_or("")
}

impl Config {
    /// Reads every setting through `lookup` (a var or secret by name; empty and whitespace-only
    /// values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Config {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut problems = Vec::new();
        let mut text = |name: &'static str, valid: fn(&str) -> bool, what: &str| -> String {
            match get(name) {
                Some(v) if valid(&v) => v,
                Some(_) => {
                    problems.push(ConfigProblem {
                        name,
                        message: format!("{name} must be {what}; using {}", default_of(name)),
                    });
                    default_of(name).to_owned()
                }
                None => default_of(name).to_owned(),
            }
        };
        let url = |v: &str| v.starts_with("https://") || v.starts_with("http://");
        let oauth_base_url = text("QWEN_OAUTH_BASE_URL", url, "an http(s) URL");
        let api_base_url = text("QWEN_API_BASE_URL", url, "an http(s) URL");
        let default_model = text("DEFAULT_MODEL", |_| true, "a model id");
        let number = |v: &str| v.parse::<u64>().is_ok_and(|n| n > 0 && n <= 3_600_000);
        let first_byte = text(
            "FIRST_BYTE_TIMEOUT_MS",
            number,
            "a whole number of milliseconds (1 to 3600000)",
        );
        let request = text(
            "REQUEST_TIMEOUT_MS",
            number,
            "a whole number of milliseconds (1 to 3600000)",
        );
        let idle = text(
            "STREAM_IDLE_TIMEOUT_MS",
            number,
            "a whole number of milliseconds (1 to 3600000)",
        );
        let keepalive = text(
            "KEEPALIVE_MS",
            |v| v.parse::<u64>().is_ok_and(|n| n <= 3_600_000),
            "a whole number of milliseconds (0 to 3600000)",
        );
        let ttl_ok = |v: &str| v.parse::<u64>().is_ok_and(|n| n <= 3600);
        let ttl = text(
            "ACCOUNT_CACHE_TTL_SECS",
            ttl_ok,
            "a whole number of seconds (0 to 3600)",
        );
        let request_log = text("REQUEST_LOG", |v| v == "on" || v == "off", "on or off");
        let num = |v: String| v.parse::<u64>().unwrap_or(0);
        let aliases = match get("MODEL_ALIASES").filter(|j| j != default_of("MODEL_ALIASES")) {
            None => Aliases::defaults(&default_model),
            Some(json) => Aliases::parse(&json, &default_model).unwrap_or_else(|message| {
                problems.push(ConfigProblem {
                    name: "MODEL_ALIASES",
                    message: format!("{message}; using the default aliases"),
                });
                Aliases::defaults(&default_model)
            }),
        };
        Config {
            client_keys: ClientKeys::from_secrets(
                get("OPENAI_API_KEYS").as_deref(),
                get("OPENAI_API_KEY").as_deref(),
            ),
            admin_key: get("ADMIN_SECRET_KEY"),
            secret_creds: get("QWEN_OAUTH_CREDS"),
            oauth_base_url,
            api_base_url,
            default_model,
            first_byte_timeout_ms: num(first_byte),
            request_timeout_ms: num(request),
            stream_idle_timeout_ms: num(idle),
            keepalive_ms: num(keepalive),
            cache_ttl_ms: num(ttl) * 1000,
            request_log: request_log == "on",
            aliases,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|n| map.get(n).cloned())
    }

    #[test]
    fn the_readme_lists_every_var_with_its_default() {
        let readme = include_str!("../README.md");
        for (name, default, _) in VARS {
            let row = readme
                .lines()
                .find(|l| l.starts_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("README has no row for {name}"));
            assert!(
                row.contains(&format!("`{default}`")),
                "README's default for {name}: {row}"
            );
        }
    }

    #[test]
    fn defaults_come_from_the_one_table() {
        let c = config(&[]);
        assert_eq!(c.default_model, "qwen3-coder-plus");
        assert_eq!(c.first_byte_timeout_ms, 45_000);
        assert_eq!(c.request_timeout_ms, 300_000);
        assert_eq!(c.stream_idle_timeout_ms, 90_000);
        assert_eq!(c.cache_ttl_ms, 15_000);
        assert_eq!(c.oauth_base_url, "https://chat.qwen.ai");
        assert!(c.request_log);
        assert!(c.client_keys.is_public() && c.admin_key.is_none());
        assert!(c.problems.is_empty());
        for (name, default, _) in VARS {
            assert!(!default.is_empty(), "{name}");
        }
    }

    #[test]
    fn bad_values_are_reported_once_and_replaced_by_the_default() {
        let c = config(&[
            ("FIRST_BYTE_TIMEOUT_MS", "45s"),
            ("REQUEST_TIMEOUT_MS", "0"),
            ("ACCOUNT_CACHE_TTL_SECS", "0"),
            ("QWEN_API_BASE_URL", "dashscope.aliyuncs.com"),
            ("MODEL_ALIASES", "[1]"),
            ("REQUEST_LOG", "no"),
            ("ADMIN_SECRET_KEY", "   "),
            ("OPENAI_API_KEYS", "sk-a"),
        ]);
        assert_eq!(c.first_byte_timeout_ms, 45_000);
        assert_eq!(c.request_timeout_ms, 300_000);
        assert_eq!(c.stream_idle_timeout_ms, 90_000);
        assert_eq!(c.cache_ttl_ms, 0, "0 is a valid TTL: re-read every time");
        assert_eq!(
            c.api_base_url,
            "https://dashscope.aliyuncs.com/compatible-mode/v1"
        );
        let names: Vec<&str> = c.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                "QWEN_API_BASE_URL",
                "FIRST_BYTE_TIMEOUT_MS",
                "REQUEST_TIMEOUT_MS",
                "REQUEST_LOG",
                "MODEL_ALIASES"
            ]
        );
        assert!(c.request_log, "a bad REQUEST_LOG keeps the log on");
        assert!(!config(&[("REQUEST_LOG", " off ")]).request_log);
        assert_eq!(
            c.aliases.resolve("claude-x").as_deref(),
            Some("qwen3-coder-plus")
        );
        assert!(c.problems[1].message.contains("using 45000"));
        assert!(c.admin_key.is_none(), "a blank secret is unset");
        assert!(!c.client_keys.is_public());
    }
}
