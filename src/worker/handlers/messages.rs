//! `POST /v1/messages` (Claude Code, the Anthropic SDKs) and `POST /v1/messages/count_tokens`.
//! A message goes to an account's own Anthropic-compatible endpoint where it has one (the
//! answer passes through, model renamed), and is translated to a chat call everywhere else; the
//! failover loop may cross between the two, and the client always gets Anthropic's shape.

use super::{call_upstream, passed_through, translated};
use crate::api::anthropic::request::{self, MAX_BODY_BYTES};
use crate::api::anthropic::stream::StreamTranslator;
use crate::api::anthropic::{count_tokens, response};
use crate::api::calls::MessagesCall;
use crate::api::Dialect;
use crate::error::GatewayError;
use crate::qwen::request::Endpoint;
use crate::worker::ctx::Ctx;
use crate::worker::fetch::answer_id;
use crate::worker::note::UsageSource;
use crate::worker::{body, respond};
use web_sys::{Request, Response};

pub async fn create(ctx: &Ctx, req: &Request) -> Result<(Response, UsageSource), GatewayError> {
    let bytes = body::read(req, &ctx.heads, MAX_BODY_BYTES).await?;
    let call = MessagesCall::new(request::parse(&bytes)?, &ctx.cfg.aliases);
    drop(bytes);
    let (shown, answer) = call_upstream(ctx, None, &call).await?;
    let asked = call.request.model.as_str();
    if answer.endpoint() == Endpoint::AnthropicMessages {
        let models = (asked, call.upstream_model.as_str());
        return Ok(passed_through(
            ctx,
            shown.as_ref(),
            &answer,
            Dialect::Anthropic,
            models,
            false,
        ));
    }
    let id = answer_id("msg_");
    translated(
        ctx,
        shown.as_ref(),
        answer,
        |bytes| response::from_chat(bytes, asked, &id),
        || Box::new(StreamTranslator::new(asked, &id)),
        // While upstream is silent (a model thinking), a `ping` event goes out, so that no
        // proxy between gives up on the connection.
        ctx.cfg.keepalive_ms,
    )
}

/// Answered here, never upstream: an estimate (see `api::anthropic::count_tokens`).
pub async fn count(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let bytes = body::read(req, &ctx.heads, MAX_BODY_BYTES).await?;
    let tokens = count_tokens::count(&bytes)?;
    Ok(respond::json(
        200,
        &serde_json::json!({ "input_tokens": tokens }),
    ))
}
