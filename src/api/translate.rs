//! What the Worker's stream pump needs of a stream translator, whatever the dialect: upstream
//! bytes in, the client's bytes out, and how the stream ends (upstream finished, broke, or went
//! silent). Each dialect's `StreamTranslator` implements it; the pump itself is I/O and lives in
//! the Worker.

use crate::api::anthropic::stream::StreamTranslator as AnthropicStream;
use crate::api::openai::completions::StreamTranslator as CompletionsStream;
use crate::api::responses::StreamTranslator as ResponsesStream;
use crate::usage::Usage;

/// One upstream stream translated into one client stream. Every method appends to `out`;
/// nothing is written after the stream has finished.
pub trait StreamTranslate {
    /// The next upstream bytes, cut anywhere.
    fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>);
    /// Upstream ended: the client's stream ends normally.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// Upstream broke off: the client's stream ends with an error in its dialect.
    fn fail(&mut self, message: &str, out: &mut Vec<u8>);
    /// The client's stream is over (finished, failed, or ended by an upstream error event).
    fn is_finished(&self) -> bool;
    /// Upstream has said how its answer ended; only usage may still come.
    fn answer_complete(&self) -> bool;
    /// The usage upstream reported (zeros until it does).
    fn usage(&self) -> Usage;

    /// A keep-alive for the client while upstream is silent, where the dialect has one.
    fn ping(&self, _out: &mut Vec<u8>) {}

    /// Upstream sent nothing for `idle_secs`: after a complete answer the stream ends normally
    /// (only the usage is missing); otherwise it fails.
    fn idle(&mut self, idle_secs: u64, out: &mut Vec<u8>) {
        if self.answer_complete() {
            self.finish(out);
        } else {
            self.fail(&idle_message(idle_secs), out);
        }
    }

    /// Upstream's connection broke while streaming.
    fn broke(&mut self, out: &mut Vec<u8>) {
        if self.answer_complete() {
            self.finish(out);
        } else {
            self.fail(BROKE_MESSAGE, out);
        }
    }
}

/// What a client is told when upstream's connection breaks mid-answer.
pub const BROKE_MESSAGE: &str = "the upstream connection broke; the answer is incomplete";

/// What a client is told when upstream goes silent mid-answer.
pub fn idle_message(idle_secs: u64) -> String {
    format!("upstream sent nothing for {idle_secs} s; the answer is incomplete")
}

impl StreamTranslate for AnthropicStream {
    fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        AnthropicStream::push(self, upstream, out)
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        AnthropicStream::finish(self, out)
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        AnthropicStream::fail(self, message, out)
    }
    fn is_finished(&self) -> bool {
        AnthropicStream::is_finished(self)
    }
    fn answer_complete(&self) -> bool {
        AnthropicStream::answer_complete(self)
    }
    fn usage(&self) -> Usage {
        AnthropicStream::usage(self)
    }
    fn ping(&self, out: &mut Vec<u8>) {
        AnthropicStream::ping(self, out)
    }
}

impl StreamTranslate for ResponsesStream {
    fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        ResponsesStream::push(self, upstream, out)
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        ResponsesStream::finish(self, out)
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        ResponsesStream::fail(self, message, out)
    }
    fn is_finished(&self) -> bool {
        ResponsesStream::is_finished(self)
    }
    fn answer_complete(&self) -> bool {
        ResponsesStream::answer_complete(self)
    }
    fn usage(&self) -> Usage {
        ResponsesStream::usage(self)
    }
}

impl StreamTranslate for CompletionsStream {
    fn push(&mut self, upstream: &[u8], out: &mut Vec<u8>) {
        CompletionsStream::push(self, upstream, out)
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        CompletionsStream::finish(self, out)
    }
    fn fail(&mut self, message: &str, out: &mut Vec<u8>) {
        CompletionsStream::fail(self, message, out)
    }
    fn is_finished(&self) -> bool {
        CompletionsStream::is_finished(self)
    }
    fn answer_complete(&self) -> bool {
        false
    }
    fn usage(&self) -> Usage {
        CompletionsStream::usage(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::responses::ResponsesRequest;

    const CHUNK: &[u8] = b"data: {\"id\":\"c1\",\"created\":1,\"model\":\"qwen3-coder-plus\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n";
    const LAST: &[u8] = b"data: {\"id\":\"c1\",\"created\":1,\"model\":\"qwen3-coder-plus\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";

    fn translators() -> Vec<(&'static str, Box<dyn StreamTranslate>)> {
        let responses = ResponsesRequest::parse(br#"{"model":"m","input":"x","stream":true}"#)
            .unwrap()
            .context("resp_1", 1);
        vec![
            ("anthropic", Box::new(AnthropicStream::new("m", "msg_1"))),
            ("responses", Box::new(ResponsesStream::new(&responses))),
            ("completions", Box::new(CompletionsStream::new("m", false))),
        ]
    }

    #[test]
    fn silence_after_a_complete_answer_ends_the_stream_and_before_it_fails_it() {
        for (name, mut t) in translators() {
            let mut out = Vec::new();
            t.push(CHUNK, &mut out);
            assert!(!t.is_finished(), "{name}");
            t.idle(30, &mut out);
            assert!(t.is_finished(), "{name}");
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("sent nothing for 30 s"), "{name}: {text}");
            let mut more = Vec::new();
            t.finish(&mut more);
            t.fail("again", &mut more);
            assert!(more.is_empty(), "{name}: nothing after the end");
        }
        for (name, mut t) in translators().into_iter().take(2) {
            let mut out = Vec::new();
            t.push(CHUNK, &mut out);
            t.push(LAST, &mut out);
            assert!(t.answer_complete(), "{name}");
            t.idle(30, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(!text.contains("sent nothing"), "{name}: {text}");
            assert!(t.is_finished(), "{name}");
        }
    }

    #[test]
    fn only_anthropic_streams_ping() {
        for (name, t) in translators() {
            let mut out = Vec::new();
            t.ping(&mut out);
            assert_eq!(!out.is_empty(), name == "anthropic", "{name}");
        }
    }
}
