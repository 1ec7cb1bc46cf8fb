//! What a handler gets: the settings, who is calling, the KV namespace, and a way to keep work
//! running after the answer is sent (`waitUntil`). Cheap to clone into such work.

use super::client_headers::ClientHeaders;
use super::kv::Kv;
use super::note::Note;
use crate::api::keys::Caller;
use crate::api::Audience;
use crate::config::Config;
use crate::error::GatewayError;
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsValue;
use worker::{Context, Env};

thread_local! {
    static CONFIG: OnceCell<Rc<Config>> = const { OnceCell::new() };
}

/// The settings, read once per isolate (vars and secrets are fixed for its lifetime). The first
/// read logs how the API is protected and any var that could not be used.
pub fn config(env: &Env) -> Rc<Config> {
    CONFIG.with(|c| {
        c.get_or_init(|| {
            // Vars and secrets are both plain strings on `env`: read as such, in one call
            // each (the workers-rs accessors check each binding's type on the way).
            let cfg = Config::from_lookup(|name| binding(env, name).as_string());
            announce(&cfg);
            Rc::new(cfg)
        })
        .clone()
    })
}

/// What `env` holds under `name` (a var, a secret or a binding), read in one call; `undefined`
/// when nothing does.
pub fn binding(env: &Env, name: &str) -> JsValue {
    js_sys::Reflect::get(env.as_ref(), &JsValue::from_str(name)).unwrap_or_default()
}

fn announce(cfg: &Config) {
    if cfg.client_keys.is_public() {
        worker::console_warn!(
            "qwen-worker: neither OPENAI_API_KEYS nor OPENAI_API_KEY is set: the API is PUBLIC"
        );
    } else if cfg.request_log {
        worker::console_log!(
            "qwen-worker: API protected by {} client key(s)",
            cfg.client_keys.count()
        );
    }
    for p in &cfg.problems {
        worker::console_warn!("qwen-worker: configuration: {}", p.message);
    }
}

#[derive(Clone)]
pub struct Ctx {
    pub env: Env,
    pub cfg: Rc<Config>,
    pub caller: Caller,
    /// The client's headers the Worker reads (its User-Agent is forwarded to Coding Plan
    /// accounts, and only there).
    pub heads: Rc<ClientHeaders>,
    /// This request's id (`x-request-id` on its answer, and in its log line).
    pub request_id: Rc<str>,
    pub started_ms: u64,
    /// The route's path pattern, for the log line.
    pub route_name: &'static str,
    /// What the request comes to, filled by the handler (`accounting`).
    pub note: Rc<RefCell<Note>>,
    context: Rc<Context>,
    kv: OnceCell<Kv>,
}

/// Who and what a request is, known before its handler runs.
pub struct Arrival {
    pub caller: Caller,
    pub heads: Rc<ClientHeaders>,
    pub request_id: Rc<str>,
    pub started_ms: u64,
    pub route_name: &'static str,
}

impl Ctx {
    pub fn new(env: Env, cfg: Rc<Config>, arrival: Arrival, context: Rc<Context>) -> Ctx {
        Ctx {
            env,
            cfg,
            caller: arrival.caller,
            heads: arrival.heads,
            request_id: arrival.request_id,
            started_ms: arrival.started_ms,
            route_name: arrival.route_name,
            note: Rc::new(RefCell::new(Note::default())),
            context,
            kv: OnceCell::new(),
        }
    }

    pub fn kv(&self) -> Result<&Kv, GatewayError> {
        if let Some(kv) = self.kv.get() {
            return Ok(kv);
        }
        let kv = Kv::from_env(&self.env)?;
        Ok(self.kv.get_or_init(|| kv))
    }

    pub fn audience(&self) -> Audience {
        self.caller.audience()
    }

    /// Runs `task` to its end even if the client goes away (`waitUntil`).
    pub fn keep_running(&self, task: impl std::future::Future<Output = ()> + 'static) {
        self.context.wait_until(task);
    }
}
