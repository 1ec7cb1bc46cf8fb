//! The client's request headers the Worker reads (who is calling, the account pinned, the
//! session, the body's type and length), read from the runtime in one call when the request
//! arrives.

use super::fetch::header_values;
use web_sys::Request;

/// The names read, one per line, in the order of [`ClientHeaders`]' fields.
const NAMES: &str = "authorization\nx-api-key\nx-admin-key\nx-qwen-account\n\
    x-claude-code-session-id\nsession-id\nsession_id\nx-session-id\n\
    user-agent\ncontent-type\ncontent-length";

#[derive(Default)]
pub struct ClientHeaders {
    pub authorization: Option<String>,
    pub x_api_key: Option<String>,
    pub x_admin_key: Option<String>,
    pub x_qwen_account: Option<String>,
    /// The session headers of Claude Code, Codex (two spellings) and a generic one, in that
    /// order of preference.
    pub sessions: [Option<String>; 4],
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub content_length: Option<String>,
}

impl ClientHeaders {
    pub fn read(req: &Request) -> ClientHeaders {
        let mut v = header_values(req, NAMES).into_iter();
        let mut next = || v.next().flatten();
        ClientHeaders {
            authorization: next(),
            x_api_key: next(),
            x_admin_key: next(),
            x_qwen_account: next(),
            sessions: [next(), next(), next(), next()],
            user_agent: next(),
            content_type: next(),
            content_length: next(),
        }
    }
}
