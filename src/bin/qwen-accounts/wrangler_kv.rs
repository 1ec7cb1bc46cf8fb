//! KV through wrangler's `kv key` commands (binding QWEN_TOKEN_CACHE, deployed or `--local`), as
//! the same [`KvAccess`] the Worker uses, so that the tool runs the Worker's own storage
//! procedures. Values are passed as files, so that credentials never appear on a command line.

use crate::args::Options;
use qwen_worker::kv_layout::{KvAccess, StoreError, BINDING};
use std::io::Write;
use std::process::{Command, Stdio};

pub struct WranglerKv {
    pub local: bool,
    persist_to: Option<String>,
    config: Option<String>,
}

/// What wrangler prints when it is not logged in.
pub fn not_logged_in(stderr: &str) -> bool {
    stderr.contains("CLOUDFLARE_API_TOKEN")
        || stderr.contains("wrangler login")
        || stderr.contains("not authenticated")
}

pub const LOGIN_HINT: &str =
    "not logged in to Cloudflare: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then try again; nothing was changed";

pub fn strip_ansi(s: &str) -> String {
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

impl WranglerKv {
    pub fn new(o: &Options) -> Result<Self, String> {
        if !o.local {
            check_namespace_id(o.config.as_deref().unwrap_or("wrangler.toml"))?;
        }
        Ok(WranglerKv {
            local: o.local,
            persist_to: o.persist_to.clone(),
            config: o.config.clone(),
        })
    }

    pub fn place(&self) -> &'static str {
        if self.local {
            "local"
        } else {
            "remote"
        }
    }

    fn wrangler(&self, args: &[&str]) -> Result<String, StoreError> {
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
        let out = cmd.stdin(Stdio::null()).output().map_err(|e| {
            StoreError(match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "wrangler is not installed here: run npm install (or npm run setup)".to_owned()
                }
                _ => format!("cannot run wrangler: {e}"),
            })
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            return Ok(stdout);
        }
        let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
        if not_logged_in(&stderr) {
            return Err(StoreError(LOGIN_HINT.into()));
        }
        let line = stderr
            .lines()
            .map(str::trim)
            .find(|l| l.contains("ERROR") || l.starts_with('✘'))
            .unwrap_or("")
            .to_owned();
        Err(StoreError(format!(
            "wrangler kv key {} failed: {}",
            args.first().unwrap_or(&""),
            if line.is_empty() {
                stderr.trim().to_owned()
            } else {
                line
            }
        )))
    }
}

impl KvAccess for WranglerKv {
    async fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let v = self.wrangler(&["get", key, "--text"])?;
        Ok(if v.trim() == "Value not found" {
            None
        } else {
            Some(v)
        })
    }

    async fn put(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut file = tempfile()?;
        file.1
            .write_all(value.as_bytes())
            .and_then(|_| file.1.sync_all())
            .map_err(|e| StoreError(format!("cannot write a temporary file: {e}")))?;
        let path = file.0.to_string_lossy().into_owned();
        let r = self.wrangler(&["put", key, "--path", &path]).map(|_| ());
        let _ = std::fs::remove_file(&file.0);
        r
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.wrangler(&["delete", key]).map(|_| ())
    }

    async fn list_keys(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        #[derive(serde::Deserialize)]
        struct Key {
            name: String,
        }
        let out = self.wrangler(&["list", "--prefix", prefix])?;
        let start = out
            .find('[')
            .ok_or_else(|| StoreError("wrangler kv key list printed no JSON".into()))?;
        let list: Vec<Key> = serde_json::from_str(&out[start..])
            .map_err(|e| StoreError(format!("unreadable key list: {e}")))?;
        Ok(list.into_iter().map(|k| k.name).collect())
    }
}

/// A private temporary file (mode 0600 on Unix).
fn tempfile() -> Result<(std::path::PathBuf, std::fs::File), StoreError> {
    let mut name = [0u8; 8];
    getrandom::fill(&mut name).map_err(|e| StoreError(e.to_string()))?;
    let path = std::env::temp_dir().join(format!(
        "qwen-accounts-{}.json",
        name.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(&path)
        .map_err(|e| StoreError(format!("cannot create {}: {e}", path.display())))?;
    Ok((path, f))
}

/// The deployed namespace must exist: wrangler.toml ships a placeholder id.
fn check_namespace_id(config: &str) -> Result<(), String> {
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
