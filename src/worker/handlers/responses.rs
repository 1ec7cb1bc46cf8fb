//! `POST /v1/responses` (Codex CLI, the SDKs' Responses mode): always translated onto a chat
//! call, and the answer back into a `response` object or the Responses event stream.

use super::{call_upstream, translated};
use crate::api::calls::ResponsesCall;
use crate::api::openai::chat::MAX_BODY_BYTES;
use crate::api::responses::{self, StreamTranslator};
use crate::error::GatewayError;
use crate::worker::body;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::{answer_id, now_ms};
use crate::worker::note::UsageSource;
use web_sys::{Request, Response};

pub async fn create(ctx: &Ctx, req: &Request) -> Result<(Response, UsageSource), GatewayError> {
    let bytes = body::read(req, &ctx.heads, MAX_BODY_BYTES).await?;
    let call = ResponsesCall::new(responses::parse(&bytes)?, &ctx.cfg.aliases);
    drop(bytes);
    let session = call.request.prompt_cache_key.clone();
    let (shown, answer) = call_upstream(ctx, session, &call).await?;
    let context = call.request.context(&answer_id("resp_"), now_ms() / 1000);
    translated(
        ctx,
        shown.as_ref(),
        answer,
        |bytes| responses::from_chat(bytes, &context),
        || Box::new(StreamTranslator::new(&context)),
        0,
    )
}
