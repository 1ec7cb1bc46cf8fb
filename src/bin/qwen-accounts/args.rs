//! Command-line options of the account tool.

use qwen_worker::qwen::oauth::DEFAULT_OAUTH_BASE_URL;
use std::path::PathBuf;

pub const USAGE: &str = "\
usage: qwen-accounts <command> [args] [options]

local accounts (.qwen/):
  login <id>               log in with the OAuth device flow (QR code, browser) and save the account
  import <id> [path]       take qwen-code's credentials (default ~/.qwen/oauth_creds.json)
  key <id> <kind> [--region R] [--base-url URL] [--anthropic-base-url URL] [--workspace W] [--deploy]
                           an API key of a kind: dashscope (--region cn|intl|us|hk), token_plan,
                           coding_plan (--region cn|intl), openai_compatible (--base-url); the key
                           comes from QWEN_API_KEY or standard input, never the command line;
                           --deploy stores it in KV at once (with --local: wrangler dev's)
  key <id> <base_url>      a legacy api_key record with its OpenAI-compatible base
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

client keys and usage, through the admin API of the Worker at --url (or QWEN_WORKER_URL;
default http://127.0.0.1:8787) with the admin key from ADMIN_SECRET_KEY:
  keys                     every key, its limits and spend
  key-create <name> [--models a,b] [--expires-at T] [--rpm N] [--tokens-per-day N] [--tokens-per-month N]
                           a new key, printed this once
  key-update <id> [same options; 'none' clears a limit, --expires-at never clears the expiry]
  key-revoke <id>
  usage [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--group-by key|model|account|day]

options: --local  --persist-to DIR  --config wrangler.toml  --dir .qwen  --oauth-base URL  --no-browser
         --poll-ms MS (the device flow's first poll interval)";

/// Options of the client-key and usage commands.
#[derive(Default)]
pub struct ReportOptions {
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_by: Option<String>,
    pub models: Option<String>,
    pub expires_at: Option<String>,
    pub rpm: Option<String>,
    pub tokens_per_day: Option<String>,
    pub tokens_per_month: Option<String>,
}

/// The settings of an API-key account given on the command line.
#[derive(Default)]
pub struct KeyOptions {
    pub region: Option<String>,
    pub base_url: Option<String>,
    pub anthropic_base_url: Option<String>,
    pub workspace: Option<String>,
    /// Store it in KV right after saving it locally.
    pub deploy: bool,
}

pub struct Options {
    pub args: Vec<String>,
    pub local: bool,
    pub force: bool,
    pub no_browser: bool,
    pub persist_to: Option<String>,
    pub config: Option<String>,
    pub dir: PathBuf,
    pub oauth_base: String,
    /// Overrides the server's poll interval (for slow links, and tests).
    pub poll_ms: Option<u64>,
    pub key: KeyOptions,
    /// The Worker's URL for the admin-API commands.
    pub url: Option<String>,
    pub report: ReportOptions,
}

pub fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
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
        poll_ms: None,
        key: KeyOptions::default(),
        url: None,
        report: ReportOptions::default(),
    };
    let mut it = args;
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
            "--region" => o.key.region = Some(value("--region")?),
            "--base-url" => o.key.base_url = Some(value("--base-url")?),
            "--anthropic-base-url" => {
                o.key.anthropic_base_url = Some(value("--anthropic-base-url")?)
            }
            "--workspace" => o.key.workspace = Some(value("--workspace")?),
            "--deploy" => o.key.deploy = true,
            "--url" => o.url = Some(value("--url")?),
            "--from" => o.report.from = Some(value("--from")?),
            "--to" => o.report.to = Some(value("--to")?),
            "--group-by" => o.report.group_by = Some(value("--group-by")?),
            "--models" => o.report.models = Some(value("--models")?),
            "--expires-at" => o.report.expires_at = Some(value("--expires-at")?),
            "--rpm" => o.report.rpm = Some(value("--rpm")?),
            "--tokens-per-day" => o.report.tokens_per_day = Some(value("--tokens-per-day")?),
            "--tokens-per-month" => o.report.tokens_per_month = Some(value("--tokens-per-month")?),
            "--poll-ms" => {
                let v = value("--poll-ms")?;
                o.poll_ms = Some(
                    v.parse()
                        .map_err(|_| format!("--poll-ms takes milliseconds, not '{v}'"))?,
                );
            }
            "-h" | "--help" => o.args = vec!["help".into()],
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            _ => o.args.push(a),
        }
    }
    Ok(o)
}
