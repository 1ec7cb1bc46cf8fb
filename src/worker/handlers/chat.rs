//! `POST /v1/chat/completions`: parse, run the failover loop, hand upstream's answer on (it
//! never enters WebAssembly unless the model needs renaming in a whole answer).

use super::{call_upstream, passed_through};
use crate::api::keys::Caller;
use crate::api::openai::chat::{ChatRequest, MAX_BODY_BYTES};
use crate::api::Dialect;
use crate::error::GatewayError;
use crate::worker::body;
use crate::worker::ctx::Ctx;
use crate::worker::note::UsageSource;
use web_sys::{Request, Response};

pub async fn completions(
    ctx: &Ctx,
    req: &Request,
) -> Result<(Response, UsageSource), GatewayError> {
    let bytes = body::read(req, &ctx.heads, MAX_BODY_BYTES).await?;
    let mut call = ChatRequest::parse(&bytes, &ctx.cfg.default_model)?;
    drop(bytes);
    call.resolve_alias(&ctx.cfg.aliases);
    // A named key's usage is accounted exactly, streams included; other streams are passed at
    // the runtime's speed and counted as far as upstream reports their usage.
    if matches!(ctx.caller, Caller::Named(_)) {
        call.needs_usage();
    }
    let (shown, answer) = call_upstream(ctx, None, &call).await?;
    let models = (call.model.as_str(), call.upstream_model.as_str());
    Ok(passed_through(
        ctx,
        shown.as_ref(),
        &answer,
        Dialect::OpenAI,
        models,
        call.hides_usage(),
    ))
}
