//! The KV commands: deploy, list, remove and report on accounts in the Worker's KV, through the
//! same storage procedures as the Worker (`accounts::store`).

use crate::args::Options;
use crate::local;
use crate::wrangler_kv::WranglerKv;
use qwen_worker::accounts::credentials::Credentials;
use qwen_worker::accounts::id::AccountId;
use qwen_worker::accounts::report::{report, text_table};
use qwen_worker::kv_layout::{self as kv, block_on_ready as block_on, KvAccess};
use qwen_worker::store;

fn id(s: &str) -> Result<AccountId, String> {
    AccountId::parse(s).map_err(|e| e.to_string())
}

pub fn deploy(o: &Options, kvs: &WranglerKv, name: &str, now_ms: u64) -> Result<(), String> {
    let account = id(name)?;
    let (_, creds) = local::load(&o.dir, name)?;
    // Never replace newer credentials: the Worker rotates refresh tokens, so an older local copy
    // would carry a dead refresh token.
    if let Ok(Some(stored)) = block_on(store::read_credentials(kvs, &account)) {
        if !o.force && !creds.is_newer_or_same(&stored) {
            return Err(format!(
                "KV holds newer credentials for '{name}' (refreshed by the Worker): not overwritten. Use --force to replace them anyway."
            ));
        }
    }
    let ids = block_on(store::store_account(kvs, &account, &creds, now_ms)).map_err(|e| e.0)?;
    println!(
        "deployed '{name}' to {} KV ({} accounts in the index)",
        kvs.place(),
        ids.len()
    );
    Ok(())
}

pub fn deploy_all(o: &Options, now_ms: u64) -> Result<(), String> {
    let kvs = WranglerKv::new(o)?;
    let all = local::list(&o.dir);
    if all.is_empty() {
        return Err(format!(
            "no local accounts in {} to deploy",
            o.dir.display()
        ));
    }
    let mut failed = 0;
    for (name, _) in all {
        if let Err(e) = deploy(o, &kvs, &name, now_ms) {
            eprintln!("'{name}': {e}");
            failed += 1;
        }
    }
    if failed > 0 {
        return Err(format!("{failed} account(s) not deployed"));
    }
    Ok(())
}

pub fn list_kv(kvs: &WranglerKv) -> Result<(), String> {
    let ids: Vec<AccountId> = block_on(kvs.list_keys(kv::ACCOUNT_PREFIX))
        .map_err(|e| e.0)?
        .iter()
        .filter_map(|k| kv::account_id_of_key(k))
        .collect();
    let index = block_on(store::read_index(kvs)).map_err(|e| e.0)?;
    for id in &ids {
        let indexed = index.as_ref().is_some_and(|ix| ix.contains(id));
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
    match &index {
        Some(ix) => {
            for stale in ix.iter().filter(|i| !ids.contains(i)) {
                println!("{stale}  (in the index, but no ACCOUNT:{stale} key)");
            }
        }
        None => println!("(no ACCOUNTS index yet: the Worker builds it on its first request)"),
    }
    Ok(())
}

pub fn remove_kv(kvs: &WranglerKv, name: &str, now_ms: u64) -> Result<(), String> {
    let account = id(name)?;
    if !block_on(store::remove_account(kvs, &account, now_ms)).map_err(|e| e.0)? {
        return Err(format!("no account '{name}' in {} KV", kvs.place()));
    }
    println!("removed '{name}' from {} KV", kvs.place());
    Ok(())
}

pub fn health(kvs: &WranglerKv, now_ms: u64) -> Result<(), String> {
    let pool = block_on(store::read_pool(kvs, false)).map_err(|e| e.0)?;
    let mut reports = Vec::new();
    for id in &pool.ids {
        let creds: Result<Option<Credentials>, String> =
            block_on(store::read_credentials(kvs, id)).map_err(|e| e.0);
        reports.push(report(
            id.as_str(),
            creds.as_ref().map(Option::as_ref).map_err(Clone::clone),
            &pool.failed,
            &pool.status,
            now_ms,
            qwen_worker::config::default_of("QWEN_API_BASE_URL"),
        ));
    }
    print!("{}", text_table(&reports, &pool.failed));
    Ok(())
}
