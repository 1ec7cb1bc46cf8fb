//! Native timings of the pure code on a request's hot path, per call.
//! `cargo bench --bench hot_paths`; bench/run.mjs reads the `bench <name> <ns> ns/op` lines.
//! Native x86 is faster than WASM in workerd; the figures bound the CPU the gateway spends.

use qwen_worker::accounts::credentials::{AccountKind, Credentials};
use qwen_worker::accounts::failover::{CredentialsById, Plan};
use qwen_worker::accounts::id::AccountId;
use qwen_worker::accounts::pool::{FailedAccounts, PoolState};
use qwen_worker::api::anthropic::stream::StreamTranslator;
use qwen_worker::api::anthropic::{count_tokens, request as messages, response};
use qwen_worker::api::keys::{identify, ClientKeys};
use qwen_worker::api::openai::chat::ChatRequest;
use qwen_worker::api::responses;
use qwen_worker::qwen::classify::classify;
use qwen_worker::qwen::sse::FirstEvent;
use std::hint::black_box;
use std::time::Instant;

fn bench(name: &str, mut f: impl FnMut()) {
    // Calibrate to roughly 200 ms of work.
    let mut n = 1u64;
    loop {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        if t.elapsed().as_millis() > 20 {
            break;
        }
        n *= 2;
    }
    let iters = n * 10;
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    let ns = t.elapsed().as_nanos() as f64 / iters as f64;
    println!("bench {name:<44} {ns:.1} ns/op");
}

fn main() {
    let small = br#"{"model":"qwen3-coder-plus","messages":[{"role":"system","content":"You are a helpful coding assistant."},{"role":"user","content":"Reverse a linked list in Rust."}],"temperature":0.2,"stream":true}"#;
    let mut big_msgs = Vec::new();
    for i in 0..200 {
        big_msgs.push(format!(
            r#"{{"role":"{}","content":"{}"}}"#,
            if i % 2 == 0 { "user" } else { "assistant" },
            "fn main() { println!(hello); } // some code line ".repeat(20)
        ));
    }
    let big = format!(
        r#"{{"model":"qwen3-coder-plus","messages":[{}],"tools":[{{"type":"function","function":{{"name":"f","parameters":{{"type":"object"}}}}}}]}}"#,
        big_msgs.join(",")
    );
    let parts = br#"{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#;

    bench("chat_request/parse+rewrite small", || {
        let r = ChatRequest::parse(black_box(small), "m").unwrap();
        black_box(r.body_for(AccountKind::Oauth));
    });
    println!("  (large body: {} KiB, 200 messages)", big.len() / 1024);
    bench("chat_request/parse+rewrite large", || {
        let r = ChatRequest::parse(black_box(big.as_bytes()), "m").unwrap();
        black_box(r.body_for(AccountKind::Oauth));
    });
    bench("chat_request/parse+flatten parts", || {
        let r = ChatRequest::parse(black_box(parts), "m").unwrap();
        black_box(r.body_for(AccountKind::Oauth));
    });

    let first_event = br#"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"qwen3-coder-plus","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}

"#;
    bench("sse/inspect first event", || {
        black_box(FirstEvent::default().push(black_box(first_event)));
    });

    let now = 1_795_600_000_000u64;
    let ids: Vec<AccountId> = (0..100)
        .map(|i| AccountId::parse(&format!("account-{i}")).unwrap())
        .collect();
    let mut creds_by_id = CredentialsById::default();
    for (i, id) in ids.iter().enumerate() {
        let c = format!(
            r#"{{"access_token":"at-{i}","refresh_token":"rt-{i}","expiry_date":{}}}"#,
            now + 60_000 * (i as u64 % 60)
        );
        creds_by_id.insert(id.to_string(), Credentials::parse(&c).unwrap());
    }
    let pool = PoolState {
        ids,
        failed: FailedAccounts::parse(Some("account-3,account-50"), Some("2026-11-25")),
        status: Default::default(),
    };
    let mut u = 0.0;
    bench("pool/select among 100 accounts", || {
        u = (u + 0.618_033_988_7) % 1.0;
        let mut plan = Plan::new(None, &pool).unwrap();
        black_box(plan.next(&pool, &creds_by_id, now, u, &|_| true));
    });

    let keys = ClientKeys::from_secrets(
        Some("sk-aaaaaaaaaaaaaaaaaaaaaaaa,sk-bbbbbbbbbbbbbbbbbbbbbbbb,sk-cccccccccccccccccccccccc"),
        None,
    );
    bench("client_auth/check among 3 keys", || {
        black_box(identify(
            &keys,
            Some("admin-x"),
            Some(black_box("sk-cccccccccccccccccccccccc")),
        ));
    });

    let creds = r#"{"access_token":"at-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","refresh_token":"rt-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","token_type":"Bearer","resource_url":"portal.qwen.ai","expiry_date":1795600000000}"#;
    bench("credentials/parse", || {
        black_box(Credentials::parse(black_box(creds)).unwrap());
    });
    let quota = r#"{"error":{"message":"Free allocated quota exceeded.","type":"insufficient_quota","code":"insufficient_quota"}}"#;
    bench("classify/upstream error", || {
        black_box(classify(429, None, black_box(quota), "sk-sent"));
    });

    // The Responses dialect: a real Codex request (40 KiB: system prompt, tools, history) and
    // one ordinary streamed chunk.
    let codex = include_bytes!("../tests/fixtures/responses/codex/turn3.request.json");
    bench("responses/codex request parse+chat_body", || {
        let r = responses::parse(black_box(codex)).unwrap();
        black_box(r.chat_body("qwen3-coder-plus"));
    });
    let ctx = responses::parse(codex)
        .unwrap()
        .context("resp_0123456789abcdef", 1_764_000_000);
    let text_chunk = br#"data: {"choices":[{"delta":{"content":" the quick brown fox","reasoning_content":null},"finish_reason":null,"index":0,"logprobs":null}],"object":"chat.completion.chunk","usage":null,"created":1764000000,"system_fingerprint":null,"model":"qwen3-coder-plus","id":"chatcmpl-6a1c9e0e-6d2f-9c1e-8f0e-3b2d1c0a9f8e"}

"#;
    let mut translator = responses::StreamTranslator::new(&ctx);
    let mut out = Vec::with_capacity(1 << 16);
    bench("responses/stream one text chunk", || {
        out.clear();
        translator.push(black_box(text_chunk), &mut out);
        black_box(&out);
    });

    anthropic();
}

/// The Anthropic dialect: a Claude Code request mapped both ways, count_tokens, a non-streamed
/// answer, and the stream translator per upstream chunk in its steady state.
fn anthropic() {
    let fixture = |name: &str| {
        std::fs::read(format!(
            "{}/tests/fixtures/anthropic/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let cc = fixture("cc_tool_search.request.json");
    println!("  (Claude Code turn: {} KiB, 12 tools)", cc.len() / 1024);
    bench("anthropic/parse+chat_body claude code turn", || {
        let r = messages::parse(black_box(&cc)).unwrap();
        black_box(r.chat_body("qwen3.6-plus"));
    });
    bench("anthropic/parse+native_body claude code turn", || {
        let r = messages::parse(black_box(&cc)).unwrap();
        black_box(r.native_body("qwen3.6-plus"));
    });
    let count = fixture("cc_count_tool.request.json");
    bench("anthropic/count_tokens one tool", || {
        black_box(count_tokens::count(black_box(&count)).unwrap());
    });
    let answer = fixture("answers/tools_with_finish_stop.openai.json");
    bench("anthropic/non-streamed answer with tools", || {
        black_box(response::from_chat(black_box(&answer), "claude-sonnet-4-5", "msg_1").unwrap());
    });

    let head = br#"data: {"choices":[{"delta":{"content":"","role":"assistant"},"index":0,"logprobs":null,"finish_reason":null}],"object":"chat.completion.chunk","usage":null,"created":1764000000,"system_fingerprint":null,"model":"qwen3.6-plus","id":"chatcmpl-7f1c0e2a"}

"#;
    let text = br#"data: {"choices":[{"delta":{"content":" the next few words\n"},"index":0,"logprobs":null,"finish_reason":null}],"object":"chat.completion.chunk","usage":null,"created":1764000000,"system_fingerprint":null,"model":"qwen3.6-plus","id":"chatcmpl-7f1c0e2a"}

"#;
    let reasoning = br#"data: {"choices":[{"delta":{"content":null,"reasoning_content":" so the file"},"index":0,"logprobs":null,"finish_reason":null}],"object":"chat.completion.chunk","usage":null,"created":1764000000,"system_fingerprint":null,"model":"qwen3.6-plus","id":"chatcmpl-7f1c0e2a"}

"#;
    let tool_open = br#"data: {"choices":[{"delta":{"content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"Write","arguments":"{\"content\": \""}}]},"index":0,"logprobs":null,"finish_reason":null}],"object":"chat.completion.chunk","usage":null,"created":1764000000,"system_fingerprint":null,"model":"qwen3.6-plus","id":"chatcmpl-7f1c0e2a"}

"#;
    let tool_args = br#"data: {"choices":[{"delta":{"content":null,"tool_calls":[{"index":0,"id":"","type":"function","function":{"arguments":"line of code\\n"}}]},"index":0,"logprobs":null,"finish_reason":null}],"object":"chat.completion.chunk","usage":null,"created":1764000000,"system_fingerprint":null,"model":"qwen3.6-plus","id":"chatcmpl-7f1c0e2a"}

"#;
    let mut out = Vec::with_capacity(4096);
    for (name, first, chunk) in [
        (
            "anthropic/stream reasoning chunk",
            &reasoning[..],
            &reasoning[..],
        ),
        ("anthropic/stream text chunk", &head[..], &text[..]),
        (
            "anthropic/stream tool arguments chunk",
            &tool_open[..],
            &tool_args[..],
        ),
    ] {
        let mut t = StreamTranslator::new("claude-sonnet-4-5", "msg_1");
        t.push(first, &mut out);
        bench(name, || {
            out.clear();
            t.push(black_box(chunk), &mut out);
            black_box(out.len());
        });
    }
}
