//! qwen-accounts: log Qwen accounts in, keep them in `.qwen/`, and put them into the Worker's KV.
//!
//! Driven by the npm scripts (`npm run auth:* / setup:* / secrets:put`, see scripts/accounts.sh).
//! The OAuth protocol, PKCE and credential parsing are the crate's own modules, shared with the
//! Worker; KV is reached through wrangler's `kv key` commands on the binding QWEN_TOKEN_CACHE.

use qwen_worker::credentials::{validate_account_id, ApiKeyCredentials, Credentials};
use qwen_worker::health::{report, text_table};
use qwen_worker::local_accounts;
use qwen_worker::oauth::{
    credentials_from_token, device_code_form, device_code_url, device_poll_form,
    parse_device_authorization, parse_token_answer, slowed_down, token_url, Pkce, TokenOutcome,
    DEFAULT_OAUTH_BASE_URL, POLL_START_MS,
};
use qwen_worker::pool::{keys, parse_status_map, FailedAccounts};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
usage: qwen-accounts <command> [args] [options]

local accounts (.qwen/):
  login <id>               log in with the OAuth device flow (QR code, browser) and save the account
  import <id> [path]       take qwen-code's credentials (default ~/.qwen/oauth_creds.json)
  key <id> <base_url>      an API-key account; the key comes from QWEN_API_KEY or standard input
  list                     local accounts, validity and time left
  remove <id>              delete a local account

KV (binding QWEN_TOKEN_CACHE, through wrangler; add --local for wrangler dev's local KV):
  deploy <id> [--force]    store a local account in KV and in the ACCOUNTS index
  deploy-all [--force]     every local account
  list-kv                  accounts in KV, and whether the index matches
  remove-kv <id>           delete an account from KV and from the index
  health                   the status table of every account in KV

secrets:
  secrets                  set OPENAI_API_KEYS and ADMIN_SECRET_KEY with `wrangler secret put`

options: --local  --persist-to DIR  --config wrangler.toml  --dir .qwen  --oauth-base URL  --no-browser";

type Result<T> = std::result::Result<T, String>;

struct Options {
    args: Vec<String>,
    local: bool,
    force: bool,
    no_browser: bool,
    persist_to: Option<String>,
    config: Option<String>,
    dir: PathBuf,
    oauth_base: String,
}

fn parse_options() -> Result<Options> {
    let mut o = Options {
        args: Vec::new(),
        local: false,
        force: false,
        no_browser: false,
        persist_to: None,
        config: None,
        dir: PathBuf::from(std::env::var("QWEN_ACCOUNTS_DIR").unwrap_or_else(|_| ".qwen".into())),
        oauth_base: std::env::var("QWEN_OAUTH_BASE_URL")
            .unwrap_or_else(|_| DEFAULT_OAUTH_BASE_URL.into()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--local" => o.local = true,
            "--force" => o.force = true,
            "--no-browser" => o.no_browser = true,
            "--persist-to" => o.persist_to = Some(value("--persist-to")?),
            "--config" => o.config = Some(value("--config")?),
            "--dir" => o.dir = PathBuf::from(value("--dir")?),
            "--oauth-base" => o.oauth_base = value("--oauth-base")?,
            "-h" | "--help" => o.args = vec!["help".into()],
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => o.args.push(a),
        }
    }
    Ok(o)
}

fn main() -> ExitCode {
    let result = parse_options().and_then(|o| run(&o));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(o: &Options) -> Result<()> {
    let arg = |i: usize, what: &str| -> Result<&str> {
        let v = o
            .args
            .get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing {what}; see --help"))?;
        if what == "<id>" {
            validate_account_id(v).map_err(|e| e.0)?;
        }
        Ok(v)
    };
    match o.args.first().map(String::as_str) {
        Some("login") => login(o, arg(1, "<id>")?),
        Some("import") => import(o, arg(1, "<id>")?, o.args.get(2).map(String::as_str)),
        Some("key") => api_key(o, arg(1, "<id>")?, arg(2, "<base_url>")?),
        Some("list") => list(o),
        Some("remove") => {
            for p in local_accounts::remove(&o.dir, arg(1, "<id>")?)? {
                println!("removed {}", p.display());
            }
            Ok(())
        }
        Some("deploy") => deploy(o, &Kv::new(o)?, arg(1, "<id>")?),
        Some("deploy-all") => deploy_all(o),
        Some("list-kv") => list_kv(&Kv::new(o)?),
        Some("remove-kv") => remove_kv(&Kv::new(o)?, arg(1, "<id>")?),
        Some("health") => health(&Kv::new(o)?),
        Some("secrets") => secrets(o),
        Some("help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}'; see --help")),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn describe(creds: &Credentials, now: u64) -> (&'static str, String) {
    match creds {
        Credentials::ApiKey(_) => ("api_key", "never expires".into()),
        Credentials::OAuth(c) if c.is_fresh(now) => {
            ("valid", format!("{} min left", c.millis_left(now) / 60_000))
        }
        Credentials::OAuth(_) => ("expired", "token expired; refreshed on next use".into()),
    }
}

// ---------------------------------------------------------------- OAuth device flow

fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn post_form(agent: &ureq::Agent, url: &str, form: &str) -> Result<(u16, String)> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| e.to_string())?;
    let request_id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let mut resp = agent
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .header("x-request-id", &request_id)
        .send(form)
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    Ok((status, body))
}

fn login(o: &Options, id: &str) -> Result<()> {
    ctrlc::set_handler(|| {
        eprintln!("\ncancelled: nothing was saved");
        std::process::exit(130);
    })
    .map_err(|e| e.to_string())?;
    let agent = http();
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| e.to_string())?;
    let pkce = Pkce::from_random(&random);
    let (status, body) = post_form(
        &agent,
        &device_code_url(&o.oauth_base),
        &device_code_form(&pkce),
    )?;
    let auth = parse_device_authorization(status, &body)?;
    let url = auth
        .verification_uri_complete
        .clone()
        .unwrap_or_else(|| auth.verification_uri.clone());
    println!(
        "\nLog in account '{id}' with Qwen:\n\n  {url}\n\n  code: {}\n",
        auth.user_code
    );
    if let Ok(qr) = qrcode::QrCode::new(url.as_bytes()) {
        use qrcode::render::unicode::Dense1x2;
        println!(
            "{}",
            qr.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .build()
        );
    }
    if !o.no_browser {
        open_browser(&url);
    }
    let mut interval = auth
        .interval
        .map(|s| s * 1000)
        .unwrap_or(POLL_START_MS)
        .max(POLL_START_MS);
    if let Some(ms) = std::env::var("QWEN_ACCOUNTS_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        interval = ms; // tests only
    }
    let deadline = Instant::now() + Duration::from_secs(auth.expires_in);
    let mut failures = 0;
    print!("waiting for approval");
    let _ = std::io::stdout().flush();
    loop {
        if Instant::now() >= deadline {
            println!();
            return Err(format!(
                "the code expired after {} s without approval: run the command again",
                auth.expires_in
            ));
        }
        std::thread::sleep(Duration::from_millis(interval));
        let (status, body) = match post_form(
            &agent,
            &token_url(&o.oauth_base),
            &device_poll_form(&auth.device_code, &pkce.verifier),
        ) {
            Ok(x) => x,
            Err(e) => {
                failures += 1;
                if failures >= 5 {
                    println!();
                    return Err(e);
                }
                continue;
            }
        };
        match parse_token_answer(status, &body) {
            TokenOutcome::Pending => {
                print!(".");
                let _ = std::io::stdout().flush();
            }
            TokenOutcome::SlowDown => interval = slowed_down(interval),
            TokenOutcome::Token(answer) => {
                println!();
                let creds = credentials_from_token(answer, now_ms())
                    .ok_or("the OAuth server answered without a refresh_token")?;
                let path = local_accounts::save(&o.dir, id, &Credentials::OAuth(creds))?;
                println!("saved {}\nnext: npm run setup:deploy {id}", path.display());
                return Ok(());
            }
            TokenOutcome::Rejected { code, description } => {
                println!();
                return Err(match code.as_str() {
                    "access_denied" => "the login was denied in the browser; nothing was saved".into(),
                    "expired_token" => "the code expired before it was approved: run the command again".into(),
                    _ => format!("the OAuth server refused the login ({code} {description}); nothing was saved"),
                });
            }
            TokenOutcome::Unavailable { detail } => {
                failures += 1;
                if failures >= 5 {
                    println!();
                    return Err(format!(
                        "the OAuth server keeps failing ({detail}); nothing was saved"
                    ));
                }
            }
        }
    }
}

fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some()
    {
        "xdg-open"
    } else {
        return;
    };
    let _ = Command::new(cmd)
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

// ---------------------------------------------------------------- local accounts

fn import(o: &Options, id: &str, path: Option<&str>) -> Result<()> {
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
    let saved = local_accounts::save(&o.dir, id, &creds)?;
    let (state, left) = describe(&creds, now_ms());
    println!(
        "saved {} ({state}, {left})\nnext: npm run setup:deploy {id}",
        saved.display()
    );
    Ok(())
}

fn home_dir() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .map(PathBuf::from)
        .ok_or_else(|| "no home directory".into())
}

fn api_key(o: &Options, id: &str, base_url: &str) -> Result<()> {
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(format!("base URL '{base_url}' must start with https:// (e.g. https://dashscope-intl.aliyuncs.com/compatible-mode/v1)"));
    }
    let key = match std::env::var("QWEN_API_KEY") {
        Ok(k) if !k.trim().is_empty() => k,
        _ => secret_input(&format!("API key for '{id}' (input hidden): "))?,
    };
    let key = key.trim().to_owned();
    if key.is_empty() {
        return Err(
            "no API key given (set QWEN_API_KEY or type it when asked); nothing was saved".into(),
        );
    }
    let creds = Credentials::ApiKey(ApiKeyCredentials {
        api_key: key,
        base_url: Some(base_url.to_owned()),
        extra: Default::default(),
    });
    let path = local_accounts::save(&o.dir, id, &creds)?;
    println!("saved {}\nnext: npm run setup:deploy {id}", path.display());
    Ok(())
}

/// A secret from the terminal (hidden), or one line of standard input when it is not a terminal.
fn secret_input(prompt: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).map_err(|e| e.to_string());
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    Ok(line)
}

fn list(o: &Options) -> Result<()> {
    let all = local_accounts::list(&o.dir);
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
                let kind = if matches!(c, Credentials::OAuth(_)) {
                    "oauth"
                } else {
                    "api_key"
                };
                let (state, left) = describe(&c, now);
                println!("{id:<24} {kind:<9} {state:<9} {left}");
            }
            Err(e) => println!("{id:<24} {:<9} {:<9} {e}", "?", "unusable"),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- KV through wrangler

const BINDING: &str = "QWEN_TOKEN_CACHE";

struct Kv {
    local: bool,
    persist_to: Option<String>,
    config: Option<String>,
}

impl Kv {
    fn new(o: &Options) -> Result<Self> {
        if !o.local {
            check_namespace_id(o.config.as_deref().unwrap_or("wrangler.toml"))?;
        }
        Ok(Kv {
            local: o.local,
            persist_to: o.persist_to.clone(),
            config: o.config.clone(),
        })
    }

    fn wrangler(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new("wrangler");
        cmd.args(["kv", "key"])
            .args(args)
            .args(["--binding", BINDING]);
        cmd.arg(if self.local { "--local" } else { "--remote" });
        if let Some(p) = &self.persist_to {
            cmd.args(["--persist-to", p]);
        }
        if let Some(c) = &self.config {
            cmd.args(["--config", c]);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "wrangler is not installed here: run npm install (or npm run setup)".to_owned()
                }
                _ => format!("cannot run wrangler: {e}"),
            })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
        if stderr.contains("CLOUDFLARE_API_TOKEN")
            || stderr.contains("wrangler login")
            || stderr.contains("not authenticated")
        {
            return Err("not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then try again; nothing was changed".into());
        }
        let line = stderr
            .lines()
            .map(str::trim)
            .find(|l| l.contains("ERROR") || l.starts_with('✘'))
            .unwrap_or("")
            .to_owned();
        Err(format!(
            "wrangler kv key {} failed: {}",
            args.first().unwrap_or(&""),
            if line.is_empty() {
                stderr.trim().to_owned()
            } else {
                line
            }
        ))
    }

    fn get(&self, key: &str) -> Result<Option<String>> {
        let v = self.wrangler(&["get", key, "--text"])?;
        Ok(if v.trim() == "Value not found" {
            None
        } else {
            Some(v)
        })
    }

    fn put(&self, key: &str, value: &str) -> Result<()> {
        self.wrangler(&["put", key, value]).map(|_| ())
    }

    /// The value from a file, so that credentials never appear on a command line.
    fn put_file(&self, key: &str, path: &Path) -> Result<()> {
        let p = path.to_string_lossy();
        self.wrangler(&["put", key, "--path", &p]).map(|_| ())
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.wrangler(&["delete", key]).map(|_| ())
    }

    fn account_ids(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Key {
            name: String,
        }
        let out = self.wrangler(&["list", "--prefix", keys::ACCOUNT_PREFIX])?;
        let start = out
            .find('[')
            .ok_or("wrangler kv key list printed no JSON")?;
        let list: Vec<Key> =
            serde_json::from_str(&out[start..]).map_err(|e| format!("unreadable key list: {e}"))?;
        Ok(list
            .into_iter()
            .filter_map(|k| k.name.strip_prefix(keys::ACCOUNT_PREFIX).map(str::to_owned))
            .collect())
    }

    fn index(&self) -> Result<Option<Vec<String>>> {
        match self.get(keys::ACCOUNTS_INDEX)? {
            None => Ok(None),
            Some(t) => serde_json::from_str(&t).map(Some).map_err(|_| {
                "the ACCOUNTS index in KV is unreadable: run `remove-kv` or POST /admin/reindex"
                    .into()
            }),
        }
    }

    fn write_index(&self, ids: &[String]) -> Result<()> {
        self.put(
            keys::ACCOUNTS_INDEX,
            &serde_json::to_string(ids).unwrap_or_default(),
        )
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The deployed namespace must exist: wrangler.toml ships a placeholder id.
fn check_namespace_id(config: &str) -> Result<()> {
    let text = std::fs::read_to_string(config).map_err(|e| format!("cannot read {config}: {e}"))?;
    let after = text
        .split(&format!("binding = \"{BINDING}\""))
        .nth(1)
        .ok_or_else(|| format!("{config} has no KV binding {BINDING}"))?;
    let id = after
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| {
            l.strip_prefix("id").map(|r| {
                r.trim_start_matches([' ', '='])
                    .trim_matches('"')
                    .to_owned()
            })
        })
        .unwrap_or_default();
    if id.is_empty() || id.chars().all(|c| c == '0') {
        return Err(format!(
            "{config} has no KV namespace id for {BINDING}: run `npx wrangler kv namespace create {BINDING}` and put its id there, or add --local for wrangler dev's KV (through npm: npm run <script> -- <args> --local)"
        ));
    }
    Ok(())
}

fn deploy(o: &Options, kv: &Kv, id: &str) -> Result<()> {
    let (path, creds) = local_accounts::load(&o.dir, id)?;
    // Never replace newer credentials: the Worker rotates refresh tokens, so an older local copy
    // would carry a dead refresh token.
    if let Some(stored) = kv.get(&keys::account(id))? {
        if let Ok(stored) = Credentials::parse(&stored) {
            if !o.force && !creds.is_newer_or_same(&stored) {
                return Err(format!(
                    "KV holds newer credentials for '{id}' (refreshed by the Worker): not overwritten. Use --force to replace them anyway."
                ));
            }
        }
    }
    kv.put_file(&keys::account(id), &path)?;
    let mut ids = match kv.index()? {
        Some(ids) => ids,
        None => kv.account_ids()?,
    };
    if !ids.iter().any(|i| i == id) {
        ids.push(id.to_owned());
    }
    kv.write_index(&ids)?;
    clear_failure_state(kv, id)?;
    println!(
        "deployed '{id}' to {} KV ({} accounts in the index)",
        if kv.local { "local" } else { "remote" },
        ids.len()
    );
    Ok(())
}

/// A freshly deployed account starts healthy: out of FAILED_ACCOUNTS and ACCOUNT_STATUS.
fn clear_failure_state(kv: &Kv, id: &str) -> Result<()> {
    let mut failed = FailedAccounts::parse(kv.get(keys::FAILED_ACCOUNTS)?.as_deref(), None);
    if failed.remove(id) {
        kv.put(keys::FAILED_ACCOUNTS, &failed.to_kv())?;
    }
    let mut status = parse_status_map(kv.get(keys::ACCOUNT_STATUS)?.as_deref());
    if status.remove(id).is_some() {
        kv.put(
            keys::ACCOUNT_STATUS,
            &serde_json::to_string(&status).unwrap_or_default(),
        )?;
    }
    Ok(())
}

fn deploy_all(o: &Options) -> Result<()> {
    let kv = Kv::new(o)?;
    let all = local_accounts::list(&o.dir);
    if all.is_empty() {
        return Err(format!(
            "no local accounts in {} to deploy",
            o.dir.display()
        ));
    }
    let mut failed = 0;
    for (id, _) in all {
        if let Err(e) = deploy(o, &kv, &id) {
            eprintln!("'{id}': {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} account(s) not deployed"));
    }
    Ok(())
}

fn list_kv(kv: &Kv) -> Result<()> {
    let ids = kv.account_ids()?;
    let index = kv.index()?;
    for id in &ids {
        let indexed = index.as_ref().map(|ix| ix.contains(id)).unwrap_or(false);
        println!(
            "{id}{}",
            if indexed {
                ""
            } else {
                "  (not in the ACCOUNTS index)"
            }
        );
    }
    if ids.is_empty() {
        println!("no accounts in KV");
    }
    if let Some(ix) = &index {
        for stale in ix.iter().filter(|i| !ids.contains(i)) {
            println!("{stale}  (in the index, but no ACCOUNT:{stale} key)");
        }
    } else {
        println!("(no ACCOUNTS index yet: the Worker builds it on its first request)");
    }
    Ok(())
}

fn remove_kv(kv: &Kv, id: &str) -> Result<()> {
    let exists = kv.get(&keys::account(id))?.is_some();
    let mut ids = kv.index()?.unwrap_or_default();
    let indexed = ids.iter().any(|i| i == id);
    if !exists && !indexed {
        return Err(format!(
            "no account '{id}' in {} KV",
            if kv.local { "local" } else { "remote" }
        ));
    }
    // Out of the index first, so the Worker stops choosing it before its credentials go.
    if indexed {
        ids.retain(|i| i != id);
        kv.write_index(&ids)?;
    }
    if exists {
        kv.delete(&keys::account(id))?;
    }
    clear_failure_state(kv, id)?;
    println!(
        "removed '{id}' from {} KV",
        if kv.local { "local" } else { "remote" }
    );
    Ok(())
}

fn health(kv: &Kv) -> Result<()> {
    let ids = match kv.index()? {
        Some(ids) => ids,
        None => kv.account_ids()?,
    };
    let failed = FailedAccounts::parse(
        kv.get(keys::FAILED_ACCOUNTS)?.as_deref(),
        kv.get(keys::LAST_FAILED_RESET_DATE)?.as_deref(),
    );
    let status = parse_status_map(kv.get(keys::ACCOUNT_STATUS)?.as_deref());
    let now = now_ms();
    let mut reports = Vec::new();
    for id in &ids {
        let creds = match kv.get(&keys::account(id))? {
            Some(t) => Credentials::parse(&t).map(Some).map_err(|e| e.0),
            None => Ok(None),
        };
        reports.push(report(
            id,
            creds.as_ref().map(|c| c.as_ref()).map_err(Clone::clone),
            &failed,
            &status,
            now,
        ));
    }
    print!("{}", text_table(&reports, &failed));
    Ok(())
}

// ---------------------------------------------------------------- secrets

fn secrets(o: &Options) -> Result<()> {
    if o.local {
        return Err(
            "secrets are for the deployed Worker; for wrangler dev put them in .dev.vars".into(),
        );
    }
    for (name, what) in [
        ("OPENAI_API_KEYS", "client keys, comma-separated"),
        ("ADMIN_SECRET_KEY", "admin key"),
    ] {
        let typed = secret_input(&format!("{name} ({what}; empty = generate one): "))?;
        let mut value = typed.trim().to_owned();
        if value.is_empty() {
            let mut b = [0u8; 24];
            getrandom::fill(&mut b).map_err(|e| e.to_string())?;
            value = format!(
                "{}{}",
                if name == "ADMIN_SECRET_KEY" {
                    "admin-"
                } else {
                    "sk-"
                },
                b.iter().map(|x| format!("{x:02x}")).collect::<String>()
            );
            println!("generated {name}: {value}\n(keep it: it is not shown again)");
        }
        let mut cmd = Command::new("wrangler");
        cmd.args(["secret", "put", name]);
        if let Some(c) = &o.config {
            cmd.args(["--config", c]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run wrangler: {e}"))?;
        child
            .stdin
            .take()
            .ok_or("no stdin")?
            .write_all(value.as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            let err = strip_ansi(&String::from_utf8_lossy(&out.stderr));
            if err.contains("CLOUDFLARE_API_TOKEN")
                || err.contains("wrangler login")
                || err.contains("not authenticated")
            {
                return Err("not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then try again".into());
            }
            return Err(format!(
                "wrangler secret put {name} failed: {}",
                err.lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("")
                    .trim()
            ));
        }
        println!("{name} set");
    }
    Ok(())
}
