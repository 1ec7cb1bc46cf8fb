//! `secrets`: OPENAI_API_KEYS and ADMIN_SECRET_KEY set with `wrangler secret put` (typed at a
//! hidden prompt, or generated).

use crate::args::Options;
use crate::wrangler_kv::{not_logged_in, strip_ansi};
use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

/// A secret from the terminal (hidden), or one line of standard input when it is not a terminal.
pub fn secret_input(prompt: &str) -> Result<String, String> {
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

pub fn secrets(o: &Options) -> Result<(), String> {
    if o.local {
        return Err(
            "secrets are for the deployed Worker; for wrangler dev put them in .dev.vars".into(),
        );
    }
    for (name, what, prefix) in [
        ("OPENAI_API_KEYS", "client keys, comma-separated", "sk-"),
        ("ADMIN_SECRET_KEY", "admin key", "admin-"),
    ] {
        let typed = secret_input(&format!("{name} ({what}; empty = generate one): "))?;
        let mut value = typed.trim().to_owned();
        if value.is_empty() {
            let mut b = [0u8; 24];
            getrandom::fill(&mut b).map_err(|e| e.to_string())?;
            value = format!(
                "{prefix}{}",
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
            if not_logged_in(&err) {
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
