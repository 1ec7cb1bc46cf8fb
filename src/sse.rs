//! Just enough Server-Sent Events parsing to decide whether a streamed answer has really started.
//!
//! Before the first byte goes to the client the gateway may still fail over, so it reads upstream
//! until the first complete event and looks at it. Everything after that is passed through
//! untouched (the worker never re-frames or re-serialises events).

/// What the start of a stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStart {
    /// Not one complete event yet: read more.
    NeedMore,
    /// A normal first event: commit to this account.
    Data,
    /// The first event is an error object (`data: {"error":...}`); its data is returned.
    Error(String),
}

/// Examine the bytes received so far.
pub fn inspect_start(buf: &[u8]) -> StreamStart {
    let Some(end) = find_event_end(buf) else {
        return StreamStart::NeedMore;
    };
    let event = String::from_utf8_lossy(&buf[..end]);
    let mut data = String::new();
    for line in event.lines() {
        if let Some(rest) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    if data.is_empty() {
        // A comment or keep-alive only: the stream is alive, so commit.
        return StreamStart::Data;
    }
    let trimmed = data.trim_start();
    if trimmed.starts_with('{') && trimmed[1..].trim_start().starts_with("\"error\"") {
        return StreamStart::Error(data);
    }
    StreamStart::Data
}

/// Index just past the blank line that ends the first event (`\n\n`, `\r\n\r\n` or `\r\r`).
fn find_event_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 1 < buf.len() {
        match (buf[i], buf[i + 1]) {
            (b'\n', b'\n') | (b'\r', b'\r') => return Some(i + 2),
            (b'\r', b'\n') if buf.get(i + 2) == Some(&b'\r') && buf.get(i + 3) == Some(&b'\n') => {
                return Some(i + 4)
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_a_whole_event() {
        assert_eq!(inspect_start(b""), StreamStart::NeedMore);
        assert_eq!(
            inspect_start(b"data: {\"id\":\"x\",\"choi"),
            StreamStart::NeedMore
        );
        assert_eq!(
            inspect_start(b"data: {\"id\":\"x\"}\n"),
            StreamStart::NeedMore
        );
        assert_eq!(
            inspect_start(b"data: {\"id\":\"x\"}\n\ndata: {"),
            StreamStart::Data
        );
        assert_eq!(
            inspect_start(b"data: {\"id\":\"x\"}\r\n\r\n"),
            StreamStart::Data
        );
    }

    #[test]
    fn error_first_events_are_seen() {
        let s = inspect_start(b"data: {\"error\":{\"code\":\"insufficient_quota\"}}\n\n");
        assert!(matches!(s, StreamStart::Error(ref d) if d.contains("insufficient_quota")));
        assert_eq!(inspect_start(b": keep-alive\n\n"), StreamStart::Data);
        assert_eq!(inspect_start(b"data: [DONE]\n\n"), StreamStart::Data);
    }
}
