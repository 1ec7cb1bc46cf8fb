//! Server-Sent Events, read incrementally: each byte is looked at once, however the stream is cut
//! into chunks, and every buffer is bounded.
//!
//! - [`FirstEvent`]: before the first byte goes to the client the gateway may still fail over,
//!   so it reads upstream until the first complete event and looks at it. A pass-through stream
//!   is not read any further.
//! - [`EventReader`]: every event of a stream, for the translators that turn an upstream stream
//!   into another dialect's.

/// A first event longer than this (without its blank line) means the stream is not usable.
pub const FIRST_EVENT_CAP: usize = 64 * 1024;

/// What the start of a stream says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStart {
    /// Not one complete event yet: read more.
    NeedMore,
    /// A normal first event: commit to this account.
    Data,
    /// The first event is an error object (`data: {"error":...}`); its data is returned.
    Error(String),
    /// No event boundary within the cap.
    TooLong,
}

/// The first event of a stream, read chunk by chunk.
#[derive(Debug)]
pub struct FirstEvent {
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for a boundary (minus the few a boundary may straddle).
    scanned: usize,
    cap: usize,
}

impl Default for FirstEvent {
    fn default() -> Self {
        FirstEvent::with_cap(FIRST_EVENT_CAP)
    }
}

impl FirstEvent {
    pub fn with_cap(cap: usize) -> Self {
        FirstEvent {
            buf: Vec::new(),
            scanned: 0,
            cap,
        }
    }

    /// Takes the next chunk and says what the stream's start is, as far as it can tell.
    pub fn push(&mut self, chunk: &[u8]) -> StreamStart {
        let room = self.cap.saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        // A boundary can straddle chunks: look again at the last 3 bytes already seen.
        let from = self.scanned.saturating_sub(3);
        if let Some(end) = find_event_end(&self.buf, from) {
            return inspect(&self.buf[..end]);
        }
        self.scanned = self.buf.len();
        if self.buf.len() >= self.cap {
            StreamStart::TooLong
        } else {
            StreamStart::NeedMore
        }
    }
}

impl FirstEvent {
    /// The usage the first event reports, when it has one (an Anthropic `message_start` holds
    /// the input tokens, which the end of the stream does not repeat).
    pub fn usage(&self) -> Option<crate::usage::Usage> {
        let end = find_event_end(&self.buf, 0)?;
        let event = std::str::from_utf8(&self.buf[..end]).ok()?;
        if !event.contains("\"usage\"") {
            return None;
        }
        let data = event.lines().find_map(|l| l.strip_prefix("data:"))?;
        let v: serde_json::Value = serde_json::from_str(data.trim()).ok()?;
        v.pointer("/message/usage")
            .or_else(|| v.get("usage"))
            .and_then(crate::usage::Usage::from_any)
    }
}

/// Examines one complete event.
fn inspect(event: &[u8]) -> StreamStart {
    let event = String::from_utf8_lossy(event);
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
    if is_error_object(&data) {
        return StreamStart::Error(data);
    }
    StreamStart::Data
}

/// An error object in either dialect upstream speaks: OpenAI's `{"error": …}` or Anthropic's
/// `{"type": "error", "error": …}` (sent as `event: error`).
fn is_error_object(data: &str) -> bool {
    let Some(rest) = data.trim_start().strip_prefix('{') else {
        return false;
    };
    let rest = rest.trim_start();
    if rest.starts_with("\"error\"") {
        return true;
    }
    let Some(after) = rest.strip_prefix("\"type\"") else {
        return false;
    };
    let after = after.trim_start();
    after
        .strip_prefix(':')
        .is_some_and(|v| v.trim_start().starts_with("\"error\""))
}

/// Index just past the blank line that ends the first event (`\n\n`, `\r\n\r\n` or `\r\r`),
/// looking from `from` on. Only line breaks are looked at, found a word at a time.
fn find_event_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(j) = find_line_break(buf, i) {
        match (buf[j], buf.get(j + 1)) {
            (_, None) => return None,
            (b'\n', Some(b'\n')) | (b'\r', Some(b'\r')) => return Some(j + 2),
            (b'\r', Some(b'\n'))
                if buf.get(j + 2) == Some(&b'\r') && buf.get(j + 3) == Some(&b'\n') =>
            {
                return Some(j + 4)
            }
            _ => i = j + 1,
        }
    }
    None
}

/// The index of the first `\n` or `\r` at or after `from`: eight bytes at a time (a byte equal
/// to the one sought makes a zero byte, which the classic bit trick detects).
fn find_line_break(buf: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let mut i = from;
    while i + 8 <= buf.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&buf[i..i + 8]);
        let w = u64::from_le_bytes(word);
        if has_zero(w ^ (ONES * u64::from(b'\n'))) | has_zero(w ^ (ONES * u64::from(b'\r'))) != 0 {
            break;
        }
        i += 8;
    }
    buf.get(i..)?
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .map(|p| i + p)
}

/// An event longer than this is not a real one: the stream is broken.
pub const EVENT_CAP: usize = 4 * 1024 * 1024;

/// One event: its `event:` name, if any, and its `data:` lines joined by `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent<'a> {
    pub name: Option<&'a str>,
    pub data: std::borrow::Cow<'a, str>,
}

/// An event grew past [`EVENT_CAP`] without ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTooLong;

/// Every event of a stream, chunk by chunk.
#[derive(Debug)]
pub struct EventReader {
    /// Bytes of the event(s) not yet complete.
    buf: Vec<u8>,
    /// Bytes of `buf` already scanned for a boundary.
    scanned: usize,
    cap: usize,
}

impl Default for EventReader {
    fn default() -> Self {
        EventReader::with_cap(EVENT_CAP)
    }
}

impl EventReader {
    pub fn with_cap(cap: usize) -> Self {
        EventReader {
            buf: Vec::new(),
            scanned: 0,
            cap,
        }
    }

    /// Takes the next chunk and calls `on_event` for each event it completes, in order. Events
    /// with no `data:` line (comments, keep-alives) are skipped.
    pub fn push(
        &mut self,
        chunk: &[u8],
        mut on_event: impl FnMut(SseEvent<'_>),
    ) -> Result<(), EventTooLong> {
        if self.buf.is_empty() {
            // Nothing waits from earlier chunks: the chunk's whole events are read where they
            // lie, and only what follows the last of them is kept.
            let rest = each_event(chunk, 0, &mut on_event);
            self.buf.extend_from_slice(&chunk[rest..]);
        } else {
            self.buf.extend_from_slice(chunk);
            let from = self.scanned.saturating_sub(3);
            let rest = each_event(&self.buf, from, &mut on_event);
            self.buf.drain(..rest);
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.cap {
            return Err(EventTooLong);
        }
        Ok(())
    }

    /// The stream ended: an event cut off before its blank line is delivered too.
    pub fn finish(&mut self, mut on_event: impl FnMut(SseEvent<'_>)) {
        if let Some(e) = parse_event(&self.buf) {
            on_event(e);
        }
        self.buf.clear();
        self.scanned = 0;
    }
}

/// Calls `on_event` for each whole event of `buf`, looking for boundaries from `from` on (the
/// bytes before it were looked at already and hold none): the index just past the last one.
fn each_event(buf: &[u8], from: usize, on_event: &mut impl FnMut(SseEvent<'_>)) -> usize {
    let mut start = 0;
    let mut from = from;
    while let Some(end) = find_event_end(&buf[start..], from.saturating_sub(start)) {
        let end = start + end;
        if let Some(e) = parse_event(&buf[start..end]) {
            on_event(e);
        }
        start = end;
        from = start;
    }
    start
}

/// The name and data of one event's bytes (without its terminating blank line); `None` when it
/// carries no data.
fn parse_event(bytes: &[u8]) -> Option<SseEvent<'_>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut name = None;
    let mut data: Option<std::borrow::Cow<'_, str>> = None;
    let mut start = 0;
    while start <= text.len() {
        let end = find_line_break(bytes, start).unwrap_or(text.len());
        // Line breaks are ASCII: `start..end` are character boundaries.
        let line = text.get(start..end).unwrap_or("");
        start = end + 1;
        if let Some(rest) = line.strip_prefix("data:") {
            let value = rest.strip_prefix(' ').unwrap_or(rest);
            data = Some(match data {
                None => std::borrow::Cow::Borrowed(value),
                Some(d) => std::borrow::Cow::Owned(format!("{d}\n{value}")),
            });
        } else if let Some(rest) = line.strip_prefix("event:") {
            name = Some(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    data.map(|data| SseEvent { name, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<(Option<String>, String)> {
        let mut r = EventReader::default();
        let mut out = Vec::new();
        for c in chunks {
            r.push(c, |e| {
                out.push((e.name.map(str::to_owned), e.data.into_owned()))
            })
            .unwrap();
        }
        r.finish(|e| out.push((e.name.map(str::to_owned), e.data.into_owned())));
        out
    }

    #[test]
    fn the_reader_sees_every_event_however_the_stream_is_cut() {
        let stream = b"data: {\"a\":1}\n\n: ping\n\nevent: message_start\ndata: x\ndata: y\r\n\r\ndata: [DONE]\n\n";
        let want = vec![
            (None, "{\"a\":1}".to_string()),
            (Some("message_start".to_string()), "x\ny".to_string()),
            (None, "[DONE]".to_string()),
        ];
        assert_eq!(events(&[stream]), want);
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(events(&bytes), want);
        let threes: Vec<&[u8]> = stream.chunks(3).collect();
        assert_eq!(events(&threes), want);
    }

    #[test]
    fn line_breaks_are_found_wherever_they_sit_in_a_word() {
        for len in 0..40 {
            for at in 0..len {
                for br in [b'\n', b'\r'] {
                    let mut buf = vec![b'x'; len];
                    buf[at] = br;
                    for from in 0..=len {
                        let want = (from <= at).then_some(at);
                        assert_eq!(find_line_break(&buf, from), want, "{len} {at} {from}");
                    }
                }
            }
            assert_eq!(find_line_break(&vec![b'y'; len], 0), None);
        }
        assert_eq!(find_line_break(b"ab", 5), None);
    }

    #[test]
    fn a_last_event_without_its_blank_line_is_delivered_at_the_end() {
        assert_eq!(
            events(&[b"data: a\n\ndata: b"]),
            vec![(None, "a".into()), (None, "b".into())]
        );
    }

    #[test]
    fn the_reader_is_bounded() {
        let mut r = EventReader::with_cap(16);
        assert!(r.push(b"data: 0123456789", |_| {}).is_ok());
        assert_eq!(r.push(b"abcdef", |_| {}), Err(EventTooLong));
    }

    fn whole(bytes: &[u8]) -> StreamStart {
        FirstEvent::default().push(bytes)
    }

    #[test]
    fn waits_for_a_whole_event() {
        assert_eq!(whole(b""), StreamStart::NeedMore);
        assert_eq!(whole(b"data: {\"id\":\"x\",\"choi"), StreamStart::NeedMore);
        assert_eq!(whole(b"data: {\"id\":\"x\"}\n"), StreamStart::NeedMore);
        assert_eq!(whole(b"data: {\"id\":\"x\"}\n\ndata: {"), StreamStart::Data);
        assert_eq!(whole(b"data: {\"id\":\"x\"}\r\n\r\n"), StreamStart::Data);
    }

    #[test]
    fn the_first_event_tells_its_usage() {
        let mut fe = FirstEvent::default();
        fe.push(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":30,\"output_tokens\":1}}}\n\n");
        let u = fe.usage().unwrap();
        assert_eq!((u.input_tokens, u.cached_tokens), (42, 30));
        let mut chat = FirstEvent::default();
        chat.push(b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n");
        assert_eq!(chat.usage(), None);
    }

    #[test]
    fn anthropic_error_first_events_are_seen() {
        let s = whole(b"event: error\ndata: {\"type\": \"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n");
        assert!(matches!(s, StreamStart::Error(ref d) if d.contains("overloaded_error")));
        let start =
            whole(b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n");
        assert_eq!(start, StreamStart::Data);
    }

    #[test]
    fn error_first_events_are_seen() {
        let s = whole(b"data: {\"error\":{\"code\":\"insufficient_quota\"}}\n\n");
        assert!(matches!(s, StreamStart::Error(ref d) if d.contains("insufficient_quota")));
        assert_eq!(whole(b": keep-alive\n\n"), StreamStart::Data);
        assert_eq!(whole(b"data: [DONE]\n\n"), StreamStart::Data);
    }

    #[test]
    fn boundaries_split_across_chunks_are_found_byte_by_byte() {
        for text in [
            &b"data: {\"a\":1}\n\n"[..],
            b"data: {\"a\":1}\r\n\r\n",
            b"data: {\"error\":{}}\r\r",
        ] {
            let mut fe = FirstEvent::default();
            let mut last = StreamStart::NeedMore;
            for b in text {
                assert_eq!(last, StreamStart::NeedMore);
                last = fe.push(std::slice::from_ref(b));
            }
            assert_ne!(last, StreamStart::NeedMore, "{text:?}");
        }
    }

    #[test]
    fn a_first_event_past_the_cap_is_not_waited_for() {
        let mut fe = FirstEvent::with_cap(1024);
        let chunk = vec![b'x'; 300];
        assert_eq!(fe.push(b"data: "), StreamStart::NeedMore);
        for _ in 0..3 {
            assert_eq!(fe.push(&chunk), StreamStart::NeedMore);
        }
        assert_eq!(fe.push(&chunk), StreamStart::TooLong);
        assert!(fe.buf.len() <= 1024);
    }

    #[test]
    fn each_byte_is_scanned_a_bounded_number_of_times() {
        // After every chunk the scan resumes where it stopped (less the 3 bytes a boundary may
        // straddle), so the total work is linear in the bytes received, however they are cut.
        let mut fe = FirstEvent::default();
        for i in 0..5_000 {
            assert_eq!(fe.push(b"y"), StreamStart::NeedMore);
            assert_eq!(fe.scanned, i + 1);
        }
        assert_eq!(fe.push(b"\n\n"), StreamStart::Data);
    }
}
