//! Request bodies from clients: read in the runtime up to a cap (a larger body is a 413 before
//! anything past the cap is kept), within a deadline, and refused when multipart.

use super::client_headers::ClientHeaders;
use super::fetch::read_whole;
use crate::error::GatewayError;
use web_sys::Request;

/// A client gets this long to send its body.
const CLIENT_BODY_MS: u64 = 60_000;

/// The body, at most `cap` bytes. Past the cap the rest is drained (never kept) before the 413,
/// so that clients get the answer instead of a reset connection. Bodies are read as JSON
/// whatever their type says (`curl -d` sends a form type), except multipart uploads.
pub async fn read(
    req: &Request,
    heads: &ClientHeaders,
    cap: usize,
) -> Result<Vec<u8>, GatewayError> {
    if let Some(ct) = &heads.content_type {
        if ct
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("multipart/")
        {
            return Err(GatewayError::UnsupportedMediaType);
        }
    }
    let declared = heads
        .content_length
        .as_deref()
        .and_then(|l| l.trim().parse::<u64>().ok());
    // A declared size over the cap needs no reading at all: drain it and answer.
    let keep = if declared.is_some_and(|n| n > cap as u64) {
        0
    } else {
        cap
    };
    let body = read_whole(req, keep, CLIENT_BODY_MS, None, true)
        .await
        .map_err(|e| {
            GatewayError::invalid(format!("Could not read the request body: {e}"), None)
        })?;
    if body.truncated || keep < cap {
        return Err(GatewayError::PayloadTooLarge { limit: cap });
    }
    Ok(body.bytes.to_vec())
}
