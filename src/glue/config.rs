//! Settings read from the Worker's environment (vars and secrets).

use crate::client_auth::ClientKeys;
use crate::models::DEFAULT_MODEL;
use crate::oauth::DEFAULT_OAUTH_BASE_URL;
use worker::Env;

pub const KV_BINDING: &str = "QWEN_TOKEN_CACHE";
pub const DEFAULT_API_BASE_URL: &str = "https://dashscope.aliyuncs.com/compatible-mode/v1";

/// Settings read from the environment. Vars and secrets are fixed for an isolate's lifetime, so
/// they are read once per isolate ([`Config::cached`]).
pub struct Config {
    pub client_keys: ClientKeys,
    pub admin_key: Option<String>,
    pub secret_creds: Option<String>,
    pub oauth_base_url: String,
    pub api_base_url: String,
    pub default_model: String,
    pub first_byte_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub cache_ttl_ms: u64,
}

/// A var or secret as a non-empty string.
pub fn env_str(env: &Env, name: &str) -> Option<String> {
    let v = env
        .var(name)
        .map(|v| v.to_string())
        .or_else(|_| env.secret(name).map(|s| s.to_string()))
        .ok()?;
    let v = v.trim().to_owned();
    (!v.is_empty()).then_some(v)
}

fn env_u64(env: &Env, name: &str, default: u64) -> u64 {
    env_str(env, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

thread_local! {
    static CONFIG: std::cell::OnceCell<std::rc::Rc<Config>> = const { std::cell::OnceCell::new() };
}

impl Config {
    pub fn cached(env: &Env) -> std::rc::Rc<Config> {
        CONFIG.with(|c| {
            c.get_or_init(|| std::rc::Rc::new(Config::from_env(env)))
                .clone()
        })
    }

    pub fn from_env(env: &Env) -> Self {
        Config {
            client_keys: ClientKeys::from_secrets(
                env_str(env, "OPENAI_API_KEYS").as_deref(),
                env_str(env, "OPENAI_API_KEY").as_deref(),
            ),
            admin_key: env_str(env, "ADMIN_SECRET_KEY"),
            secret_creds: env_str(env, "QWEN_OAUTH_CREDS"),
            oauth_base_url: env_str(env, "QWEN_OAUTH_BASE_URL")
                .unwrap_or_else(|| DEFAULT_OAUTH_BASE_URL.into()),
            api_base_url: env_str(env, "QWEN_API_BASE_URL")
                .unwrap_or_else(|| DEFAULT_API_BASE_URL.into()),
            default_model: env_str(env, "DEFAULT_MODEL").unwrap_or_else(|| DEFAULT_MODEL.into()),
            first_byte_timeout_ms: env_u64(env, "FIRST_BYTE_TIMEOUT_MS", 45_000),
            request_timeout_ms: env_u64(env, "REQUEST_TIMEOUT_MS", 300_000),
            cache_ttl_ms: env_u64(env, "ACCOUNT_CACHE_TTL_SECS", 15) * 1000,
        }
    }
}
