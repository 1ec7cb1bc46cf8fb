//! `POST /v1/responses` (Codex CLI, the SDKs' Responses mode): always translated onto a chat
//! call, and the answer back into a `response` object or the Responses event stream.

use super::call_upstream;
use crate::api::calls::ResponsesCall;
use crate::api::openai::chat::MAX_BODY_BYTES;
use crate::api::responses::{self, StreamTranslator};
use crate::error::GatewayError;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::{answer_id, now_ms};
use crate::worker::upstream::Answer;
use crate::worker::{body, respond, translate};
use web_sys::{Request, Response};

pub async fn create(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let bytes = body::read(req, MAX_BODY_BYTES).await?;
    let call = ResponsesCall::new(responses::parse(&bytes)?, &ctx.cfg.aliases);
    drop(bytes);
    let (shown, answer) =
        call_upstream(ctx, req, call.request.prompt_cache_key.clone(), &call).await?;
    let context = call.request.context(&answer_id("resp_"), now_ms() / 1000);
    match answer {
        Answer::Whole { exchange, body, .. } => {
            let (response, _usage) = responses::from_chat(&body.bytes.to_vec(), &context)?;
            Ok(respond::translated_json(
                shown.as_ref(),
                &exchange,
                &response,
            ))
        }
        Answer::Stream { exchange, body, .. } => {
            let translator = Box::new(StreamTranslator::new(&context));
            let idle_ms = ctx.cfg.stream_idle_timeout_ms;
            let t = translate::translate(&body, translator, idle_ms, 0, &exchange.abort);
            Ok(respond::translated_stream(
                shown.as_ref(),
                &exchange,
                &t.stream,
            ))
        }
    }
}
