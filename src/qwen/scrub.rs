//! Upstream text can quote what we sent it ("Incorrect API key provided: sk-…"). Before any
//! upstream text is kept for the admin or relayed to a client, the secret that was sent and
//! anything shaped like a token are replaced with `***`.

/// Runs shorter than this are never taken for a token.
const TOKEN_MIN_LEN: usize = 24;

/// `text` with every occurrence of `secrets` and every token-shaped run replaced by `***`.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(*s) {
            out = out.replace(*s, "***");
        }
    }
    mask_token_shapes(&out)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '=')
}

/// Token-shaped: `sk-` followed by 8 or more token characters, or a run of 24 or more token
/// characters holding both letters and digits (API keys, JWTs, OAuth tokens).
fn looks_like_token(run: &str) -> bool {
    let bytes = run.as_bytes();
    if run.len() >= 11 && bytes[..3].eq_ignore_ascii_case(b"sk-") {
        return true;
    }
    run.len() >= TOKEN_MIN_LEN
        && run.bytes().any(|b| b.is_ascii_digit())
        && run.bytes().any(|b| b.is_ascii_alphabetic())
}

fn mask_token_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        if looks_like_token(run) {
            out.push_str("***");
        } else {
            out.push_str(run);
        }
    };
    for (i, c) in text.char_indices() {
        if is_token_char(c) {
            run_start.get_or_insert(i);
        } else {
            if let Some(s) = run_start.take() {
                flush(&mut out, &text[s..i]);
            }
            out.push(c);
        }
    }
    if let Some(s) = run_start {
        flush(&mut out, &text[s..]);
    }
    out
}

/// The first `max` characters of `text`, scrubbed: what may be kept of an upstream message.
pub fn scrub_short(text: &str, secrets: &[&str], max: usize) -> String {
    let cut: String = text.chars().take(max * 2).collect();
    scrub(&cut, secrets).chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_sent_and_token_shapes_are_masked() {
        let msg = "Incorrect API key provided: sk-fault-f-echo401-SECRETKEY0123456789. See docs.";
        let s = scrub(msg, &["sk-fault-f-echo401-SECRETKEY0123456789"]);
        assert_eq!(s, "Incorrect API key provided: ***. See docs.");
        // Not the one we sent, but shaped like one.
        assert_eq!(scrub("bad token sk-abcdefgh1", &[]), "bad token ***");
        assert_eq!(
            scrub(
                "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
                &[]
            ),
            "Bearer ***"
        );
        assert_eq!(
            scrub("rt-px-Abc123Def456Ghi789Jkl0 rejected", &[]),
            "*** rejected"
        );
        // Ordinary words, codes and numbers stay.
        let plain = "Range of input length should be [1, 129024]; invalid_parameter_error";
        assert_eq!(scrub(plain, &[]), plain);
        assert_eq!(
            scrub("invalid access token or token expired", &[]),
            "invalid access token or token expired"
        );
    }

    #[test]
    fn short_keeps_characters_whole() {
        assert_eq!(scrub_short("ééééé", &[], 3), "ééé");
        assert_eq!(
            scrub_short("key sk-0123456789abcdef!", &[], 100),
            "key ***!"
        );
    }
}
