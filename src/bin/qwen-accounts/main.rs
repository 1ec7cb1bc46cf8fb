//! qwen-accounts: log Qwen accounts in, keep them in `.qwen/`, and put them into the Worker's KV.
//!
//! Driven by the npm scripts (`npm run auth:* / setup:* / secrets:put`, see scripts/accounts.sh).
//! The OAuth protocol and its device flow, the credential records and the storage procedures are
//! the crate's own modules, shared with the Worker; KV is reached through wrangler.

mod admin_api;
mod args;
mod deploy;
mod http;
mod local;
mod login;
mod secrets;
mod wrangler_kv;

use args::Options;
use qwen_worker::accounts::credentials::Credentials;
use qwen_worker::accounts::id::AccountId;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use wrangler_kv::WranglerKv;

fn main() -> ExitCode {
    match args::parse(std::env::args().skip(1)).and_then(|o| run(&o)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn run(o: &Options) -> Result<(), String> {
    let arg = |i: usize, what: &str| -> Result<&str, String> {
        let v = o
            .args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing {what}; see --help"))?;
        if what == "<id>" {
            AccountId::parse(v).map_err(|e| e.to_string())?;
        }
        Ok(v)
    };
    match o.args.first().map(String::as_str) {
        Some("login") => login::login(o, arg(1, "<id>")?, now_ms),
        Some("import") => import(o, arg(1, "<id>")?, o.args.get(2).map(String::as_str)),
        Some("key") => api_key(o, arg(1, "<id>")?, arg(2, "<kind> or <base_url>")?),
        Some("list") => list(o),
        Some("remove") => {
            for p in local::remove(&o.dir, arg(1, "<id>")?)? {
                println!("removed {}", p.display());
            }
            Ok(())
        }
        Some("deploy") => deploy::deploy(o, &WranglerKv::new(o)?, arg(1, "<id>")?, now_ms()),
        Some("deploy-all") => deploy::deploy_all(o, now_ms()),
        Some("list-kv") => deploy::list_kv(&WranglerKv::new(o)?),
        Some("remove-kv") => deploy::remove_kv(&WranglerKv::new(o)?, arg(1, "<id>")?, now_ms()),
        Some("health") => deploy::health(&WranglerKv::new(o)?, now_ms()),
        Some("secrets") => secrets::secrets(o),
        Some("keys") => admin_api::list(o),
        Some("key-create") => admin_api::create(o, arg(1, "<name>")?),
        Some("key-update") => admin_api::update(o, arg(1, "<key id>")?),
        Some("key-revoke") => admin_api::revoke(o, arg(1, "<key id>")?),
        Some("usage") => admin_api::usage(o),
        Some("help") | None => {
            println!("{}", args::USAGE);
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}'; see --help")),
    }
}

/// A one-line state of local credentials.
fn describe(creds: &Credentials, now: u64) -> (&'static str, String) {
    match creds {
        Credentials::ApiKey(_) => ("api_key", "never expires".into()),
        Credentials::OAuth(c) if c.is_fresh(now) => {
            ("valid", format!("{} min left", c.millis_left(now) / 60_000))
        }
        Credentials::OAuth(_) => ("expired", "token expired; refreshed on next use".into()),
    }
}

fn import(o: &Options, id: &str, path: Option<&str>) -> Result<(), String> {
    let path = match path {
        Some(p) => PathBuf::from(p),
        None => home_dir()?.join(".qwen").join("oauth_creds.json"),
    };
    let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "{} does not exist: log in with the qwen-code CLI first, or give a path",
            path.display()
        ),
        _ => format!("cannot read {}: {e}", path.display()),
    })?;
    let creds = Credentials::parse(&text)
        .map_err(|e| format!("{} is not usable credentials: {e}", path.display()))?;
    if !matches!(creds, Credentials::OAuth(_)) {
        return Err(format!(
            "{} is not qwen-code OAuth credentials",
            path.display()
        ));
    }
    let saved = local::save(&o.dir, id, &creds)?;
    let (state, left) = describe(&creds, now_ms());
    println!(
        "saved {} ({state}, {left})\nnext: npm run setup:deploy {id}",
        saved.display()
    );
    Ok(())
}

fn home_dir() -> Result<PathBuf, String> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .ok_or_else(|| "no home directory".into())
}

/// An API-key account: `kind_or_base` names a kind (its settings from the options), or is the
/// base URL of a legacy `api_key` record. The record is checked by the Worker's own rules.
fn api_key(o: &Options, id: &str, kind_or_base: &str) -> Result<(), String> {
    let mut record = serde_json::Map::new();
    if kind_or_base.contains("://") {
        if !(kind_or_base.starts_with("https://") || kind_or_base.starts_with("http://")) {
            return Err(format!("base URL '{kind_or_base}' must start with https:// (e.g. https://dashscope-intl.aliyuncs.com/compatible-mode/v1)"));
        }
        record.insert("kind".into(), "api_key".into());
        record.insert("base_url".into(), kind_or_base.into());
    } else {
        record.insert("kind".into(), kind_or_base.into());
    }
    let k = &o.key;
    for (name, value) in [
        ("region", &k.region),
        ("base_url", &k.base_url),
        ("anthropic_base_url", &k.anthropic_base_url),
        ("workspace", &k.workspace),
    ] {
        if let Some(v) = value {
            record.insert(name.into(), v.as_str().into());
        }
    }
    let key = match std::env::var("QWEN_API_KEY") {
        Ok(k) if !k.trim().is_empty() => k,
        _ => secrets::secret_input(&format!("API key for '{id}' (input hidden): "))?,
    };
    if key.trim().is_empty() {
        return Err(
            "no API key given (set QWEN_API_KEY or type it when asked); nothing was saved".into(),
        );
    }
    record.insert("api_key".into(), key.trim().into());
    let creds = Credentials::parse(&serde_json::Value::Object(record).to_string())
        .map_err(|e| format!("{e}; nothing was saved"))?;
    let path = local::save(&o.dir, id, &creds)?;
    println!("saved {} ({})", path.display(), creds.kind().name());
    if k.deploy {
        return deploy::deploy(o, &WranglerKv::new(o)?, id, now_ms());
    }
    println!("next: npm run setup:deploy {id}");
    Ok(())
}

fn list(o: &Options) -> Result<(), String> {
    let all = local::list(&o.dir);
    if all.is_empty() {
        println!(
            "no local accounts in {} (add one with npm run auth:add <id>)",
            o.dir.display()
        );
        return Ok(());
    }
    let now = now_ms();
    println!("{:<24} {:<9} {:<9} DETAIL", "ACCOUNT", "KIND", "STATE");
    for (id, creds) in all {
        match creds {
            Ok(c) => {
                let kind = c.kind().name();
                let (state, left) = describe(&c, now);
                println!("{id:<24} {kind:<9} {state:<9} {left}");
            }
            Err(e) => println!("{id:<24} {:<9} {:<9} {e}", "?", "unusable"),
        }
    }
    Ok(())
}
