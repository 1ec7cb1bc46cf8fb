//! `POST /v1/completions` (legacy text completions, fill-in-the-middle) and `POST
//! /v1/embeddings`: passed to an account's own endpoint for them, or (completions without a
//! suffix) translated onto a chat call.

use super::{call_upstream, passed_through, translated};
use crate::api::calls::{CompletionsCall, EmbeddingsCall};
use crate::api::openai::chat::MAX_BODY_BYTES;
use crate::api::openai::completions::{self, CompletionRequest, StreamTranslator};
use crate::api::openai::embeddings::EmbeddingsRequest;
use crate::api::Dialect;
use crate::error::GatewayError;
use crate::qwen::request::Endpoint;
use crate::worker::body;
use crate::worker::ctx::Ctx;
use crate::worker::note::UsageSource;
use web_sys::{Request, Response};

pub async fn text(ctx: &Ctx, req: &Request) -> Result<(Response, UsageSource), GatewayError> {
    let bytes = body::read(req, &ctx.heads, MAX_BODY_BYTES).await?;
    let request = CompletionRequest::parse(&bytes, &ctx.cfg.default_model)?;
    drop(bytes);
    let call = CompletionsCall::new(request, &ctx.cfg.aliases);
    let (shown, answer) = call_upstream(ctx, None, &call).await?;
    let asked = call.request.model.as_str();
    if answer.endpoint() == Endpoint::Completions {
        let models = (asked, call.upstream_model.as_str());
        return Ok(passed_through(
            ctx,
            shown.as_ref(),
            &answer,
            Dialect::OpenAI,
            models,
            false,
        ));
    }
    let include_usage = call.request.include_usage;
    translated(
        ctx,
        shown.as_ref(),
        answer,
        |bytes| completions::from_chat(bytes, asked),
        || Box::new(StreamTranslator::new(asked, include_usage)),
        0,
    )
}

pub async fn embeddings(ctx: &Ctx, req: &Request) -> Result<(Response, UsageSource), GatewayError> {
    let bytes = body::read(req, &ctx.heads, MAX_BODY_BYTES).await?;
    let call = EmbeddingsCall::new(EmbeddingsRequest::parse(&bytes)?, &ctx.cfg.aliases);
    drop(bytes);
    let (shown, answer) = call_upstream(ctx, None, &call).await?;
    let models = (call.request.model.as_str(), call.upstream_model.as_str());
    Ok(passed_through(
        ctx,
        shown.as_ref(),
        &answer,
        Dialect::OpenAI,
        models,
        false,
    ))
}
