//! HTTP for the account tool: form posts to the OAuth server and calls of the Worker's admin
//! API, each with a deadline on the whole exchange and a cap on the answer.

use std::io::Read;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(30);
const ANSWER_CAP: u64 = 64 * 1024;

/// A form POST: (status, body).
pub fn post_form(url: &str, form: &str) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
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
    let mut body = String::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(ANSWER_CAP)
        .read_to_string(&mut body);
    Ok((status, body))
}

/// Answers of the admin API are read up to this size.
const ADMIN_ANSWER_CAP: u64 = 8 * 1024 * 1024;

/// A call of the Worker's admin API with `admin_key`: (status, body).
pub fn admin(
    method: &str,
    url: &str,
    admin_key: &str,
    body: Option<&str>,
) -> Result<(u16, String), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .build()
        .into();
    let auth = format!("Bearer {admin_key}");
    let reached = |e: ureq::Error| format!("cannot reach {url}: {e}");
    let mut resp = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent.delete(url).header("Authorization", &auth).call(),
        (m, b) => {
            let b = b.unwrap_or("{}");
            let req = match m {
                "PATCH" => agent.patch(url),
                "PUT" => agent.put(url),
                _ => agent.post(url),
            };
            req.header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b)
        }
    }
    .map_err(reached)?;
    let status = resp.status().as_u16();
    let mut text = String::new();
    let _ = resp
        .body_mut()
        .as_reader()
        .take(ADMIN_ANSWER_CAP)
        .read_to_string(&mut text);
    Ok((status, text))
}
