//! `login <id>`: the OAuth device flow in a terminal (URL, code, QR code, browser), driven by the
//! same state machine as the Worker's admin login (`qwen::device_flow`).

use crate::args::Options;
use crate::http::post_form;
use crate::local;
use qwen_worker::accounts::credentials::Credentials;
use qwen_worker::qwen::device_flow::{DeviceLogin, PollStep};
use qwen_worker::qwen::oauth::{
    device_code_form, device_code_url, parse_device_authorization, token_url, Pkce,
};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The OAuth server may fail this many polls in a row before the login gives up.
const MAX_SERVER_FAILURES: u32 = 5;

pub fn login(o: &Options, id: &str, now_ms: impl Fn() -> u64) -> Result<(), String> {
    ctrlc::set_handler(|| {
        eprintln!("\ncancelled: nothing was saved");
        std::process::exit(130);
    })
    .map_err(|e| e.to_string())?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| e.to_string())?;
    let pkce = Pkce::from_random(&random);
    let (status, body) = post_form(&device_code_url(&o.oauth_base), &device_code_form(&pkce))?;
    let auth = parse_device_authorization(status, &body)?;
    let mut flow = DeviceLogin::start(auth, pkce.verifier, now_ms());
    if let Some(ms) = o.poll_ms {
        flow.interval_ms = ms;
    }
    let url = flow.verification_uri.clone();
    println!(
        "\nLog in account '{id}' with Qwen:\n\n  {url}\n\n  code: {}\n",
        flow.user_code
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
    let mut failures = 0;
    print!("waiting for approval");
    let _ = std::io::stdout().flush();
    loop {
        if flow.is_expired(now_ms()) {
            println!();
            return Err("the code expired without approval: run the command again".into());
        }
        std::thread::sleep(Duration::from_millis(flow.interval_ms));
        let answer = post_form(&token_url(&o.oauth_base), &flow.poll_form());
        let step = match answer {
            Ok((status, body)) => flow.on_answer(status, &body, now_ms()),
            Err(e) => PollStep::ServerTrouble(e),
        };
        match step {
            PollStep::Pending | PollStep::SlowDown => {
                failures = 0;
                print!(".");
                let _ = std::io::stdout().flush();
            }
            PollStep::Authorized(creds) => {
                println!();
                let path = local::save(&o.dir, id, &Credentials::OAuth(creds))?;
                println!("saved {}\nnext: npm run setup:deploy {id}", path.display());
                return Ok(());
            }
            PollStep::Refused(why) => {
                println!();
                return Err(format!("{why} Nothing was saved."));
            }
            PollStep::ServerTrouble(why) => {
                failures += 1;
                if failures >= MAX_SERVER_FAILURES {
                    println!();
                    return Err(format!("{why}; nothing was saved"));
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
