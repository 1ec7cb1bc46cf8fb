//! HTTP for the account tool: form posts to the OAuth server, with a deadline on the whole
//! exchange and a cap on the answer.

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
