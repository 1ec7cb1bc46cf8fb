//! Account files on the operator's machine: `.qwen/oauth_creds_<id>.json` (the TypeScript
//! worker's naming, qwen-code's content) and `.qwen/api_key_<id>.json`. Written atomically with
//! mode 0600 in a 0700 directory, so a crash or Ctrl-C never leaves half a file.

use qwen_worker::accounts::credentials::{AccountKind, Credentials};
use qwen_worker::accounts::id::AccountId;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const OAUTH_PREFIX: &str = "oauth_creds_";
const API_KEY_PREFIX: &str = "api_key_";

pub fn file_for(dir: &Path, id: &str, kind: AccountKind) -> PathBuf {
    let prefix = match kind {
        AccountKind::Oauth => OAUTH_PREFIX,
        _ => API_KEY_PREFIX,
    };
    dir.join(format!("{prefix}{id}.json"))
}

/// Writes `creds` for `id`, replacing any earlier file of either kind.
pub fn save(dir: &Path, id: &str, creds: &Credentials) -> Result<PathBuf, String> {
    AccountId::parse(id).map_err(|e| e.to_string())?;
    create_private_dir(dir)?;
    let target = file_for(dir, id, creds.kind());
    let tmp = dir.join(format!(".{id}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = open_private(&tmp)?;
        f.write_all(creds.to_json().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        fs::rename(&tmp, &target)
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(format!("could not write {}: {e}", target.display()));
    }
    // One account, one file: drop the other kind's file if the account changed kind.
    let other = match creds.kind() {
        AccountKind::Oauth => AccountKind::ApiKey,
        _ => AccountKind::Oauth,
    };
    let _ = fs::remove_file(file_for(dir, id, other));
    Ok(target)
}

/// The account's file and credentials; a clear message when it is missing or unreadable.
pub fn load(dir: &Path, id: &str) -> Result<(PathBuf, Credentials), String> {
    AccountId::parse(id).map_err(|e| e.to_string())?;
    for kind in [AccountKind::Oauth, AccountKind::ApiKey] {
        let path = file_for(dir, id, kind);
        match fs::read_to_string(&path) {
            Ok(text) => {
                return Credentials::parse(&text)
                    .map(|c| (path.clone(), c))
                    .map_err(|e| format!("{} is not usable credentials: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    Err(format!(
        "no local account '{id}' in {} (add one with auth:add, auth:import or auth:key; auth:list shows them)",
        dir.display()
    ))
}

/// Every local account id with its credentials or why they cannot be read, sorted by id.
pub fn list(dir: &Path) -> Vec<(String, Result<Credentials, String>)> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|name| {
            let stem = name.strip_suffix(".json")?;
            stem.strip_prefix(OAUTH_PREFIX)
                .or_else(|| stem.strip_prefix(API_KEY_PREFIX))
                .map(str::to_owned)
        })
        .filter(|id| AccountId::parse(id).is_ok())
        .collect();
    ids.sort();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let creds = load(dir, &id).map(|(_, c)| c);
            (id, creds)
        })
        .collect()
}

/// Removes the account's files; error when there were none.
pub fn remove(dir: &Path, id: &str) -> Result<Vec<PathBuf>, String> {
    AccountId::parse(id).map_err(|e| e.to_string())?;
    let mut removed = Vec::new();
    for kind in [AccountKind::Oauth, AccountKind::ApiKey] {
        let path = file_for(dir, id, kind);
        if fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    if removed.is_empty() {
        Err(format!("no local account '{id}' in {}", dir.display()))
    } else {
        Ok(removed)
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("qwen-local-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn save_load_list_remove() {
        let dir = tempdir("cycle");
        let oauth =
            Credentials::parse(r#"{"access_token":"a","refresh_token":"r","expiry_date":5}"#)
                .unwrap();
        let path = save(&dir, "one", &oauth).unwrap();
        assert!(path.ends_with("oauth_creds_one.json"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            assert_eq!(
                fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
        }
        let key =
            Credentials::parse(r#"{"kind":"api_key","api_key":"k","base_url":"https://x/v1"}"#)
                .unwrap();
        save(&dir, "two", &key).unwrap();
        assert_eq!(load(&dir, "one").unwrap().1, oauth);
        let all = list(&dir);
        assert_eq!(
            all.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(),
            ["one", "two"]
        );
        // Changing kind leaves one file.
        save(&dir, "one", &key).unwrap();
        assert!(!file_for(&dir, "one", AccountKind::Oauth).exists());
        assert_eq!(remove(&dir, "one").unwrap().len(), 1);
        assert!(remove(&dir, "one").is_err());
        assert!(fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn clear_errors() {
        let dir = tempdir("errors");
        assert!(load(&dir, "ghost")
            .unwrap_err()
            .contains("no local account 'ghost'"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("oauth_creds_bad.json"), "{ not json").unwrap();
        let e = load(&dir, "bad").unwrap_err();
        assert!(
            e.contains("not usable credentials") && e.contains("not valid JSON"),
            "{e}"
        );
        assert!(list(&dir)[0].1.is_err());
        assert!(load(&dir, "../etc").unwrap_err().contains("account id"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
