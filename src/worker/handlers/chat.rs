//! `POST /v1/chat/completions`: parse, run the failover loop, hand upstream's answer on (it
//! never enters WebAssembly unless the model needs renaming in a whole answer).

use super::call_upstream;
use crate::api::openai::chat::{ChatRequest, MAX_BODY_BYTES};
use crate::api::Dialect;
use crate::error::GatewayError;
use crate::worker::ctx::Ctx;
use crate::worker::{body, respond};
use web_sys::{Request, Response};

pub async fn completions(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let bytes = body::read(req, MAX_BODY_BYTES).await?;
    let mut call = ChatRequest::parse(&bytes, &ctx.cfg.default_model)?;
    drop(bytes);
    call.resolve_alias(&ctx.cfg.aliases);
    let (shown, answer) = call_upstream(ctx, req, None, &call).await?;
    let rename = (call.model != call.upstream_model)
        .then(|| (call.upstream_model.as_str(), call.model.as_str()));
    Ok(respond::upstream_answer(
        shown.as_ref(),
        &answer,
        Dialect::OpenAI,
        ctx.cfg.stream_idle_timeout_ms,
        rename,
    ))
}
