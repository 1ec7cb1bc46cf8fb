//! `POST /v1/chat/completions`: parse, run the failover loop, hand upstream's answer on.

use crate::api::keys::Caller;
use crate::api::openai::chat::{ChatRequest, MAX_BODY_BYTES};
use crate::error::GatewayError;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::now_ms;
use crate::worker::upstream::Deadlines;
use crate::worker::{auth, body, failover, respond};
use web_sys::{Request, Response};

pub async fn completions(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let pinned = auth::pinned_account(req, &ctx.caller)?;
    let bytes = body::read(req, MAX_BODY_BYTES).await?;
    let mut call = ChatRequest::parse(&bytes, &ctx.cfg.default_model)?;
    call.resolve_alias(&ctx.cfg.aliases);
    let deadlines = Deadlines::new(
        now_ms(),
        ctx.cfg.request_timeout_ms,
        ctx.cfg.first_byte_timeout_ms,
    );
    let (account, answer) = failover::run(ctx, pinned, &call, deadlines).await?;
    // Who served is the business of key holders only (a public API names no account).
    let shown = (ctx.caller != Caller::Public).then_some(&account);
    let rename = (call.model != call.upstream_model)
        .then(|| (call.upstream_model.as_str(), call.model.as_str()));
    Ok(respond::upstream_answer(
        shown,
        &answer,
        ctx.cfg.stream_idle_timeout_ms,
        rename,
    ))
}
