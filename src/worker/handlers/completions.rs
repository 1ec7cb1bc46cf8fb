//! `POST /v1/completions` (legacy text completions, fill-in-the-middle) and `POST
//! /v1/embeddings`: passed to an account's own endpoint for them, or (completions without a
//! suffix) translated onto a chat call.

use super::call_upstream;
use crate::api::calls::{CompletionsCall, EmbeddingsCall};
use crate::api::openai::chat::MAX_BODY_BYTES;
use crate::api::openai::completions::{self, CompletionRequest, StreamTranslator};
use crate::api::openai::embeddings::EmbeddingsRequest;
use crate::api::Dialect;
use crate::error::GatewayError;
use crate::qwen::request::Endpoint;
use crate::worker::ctx::Ctx;
use crate::worker::upstream::Answer;
use crate::worker::{body, respond, translate};
use web_sys::{Request, Response};

pub async fn text(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let bytes = body::read(req, MAX_BODY_BYTES).await?;
    let request = CompletionRequest::parse(&bytes, &ctx.cfg.default_model)?;
    drop(bytes);
    let call = CompletionsCall::new(request, &ctx.cfg.aliases);
    let (shown, answer) = call_upstream(ctx, req, None, &call).await?;
    let asked = call.request.model.as_str();
    let idle_ms = ctx.cfg.stream_idle_timeout_ms;
    if answer.endpoint() == Endpoint::Completions {
        let rename =
            (asked != call.upstream_model).then_some((call.upstream_model.as_str(), asked));
        return Ok(respond::upstream_answer(
            shown.as_ref(),
            &answer,
            Dialect::OpenAI,
            idle_ms,
            rename,
        ));
    }
    match answer {
        Answer::Whole { exchange, body, .. } => {
            let (text, _usage) = completions::from_chat(&body.bytes.to_vec(), asked)?;
            Ok(respond::translated_json(shown.as_ref(), &exchange, &text))
        }
        Answer::Stream { exchange, body, .. } => {
            let translator = Box::new(StreamTranslator::new(asked, call.request.include_usage));
            let t = translate::translate(&body, translator, idle_ms, 0, &exchange.abort);
            Ok(respond::translated_stream(
                shown.as_ref(),
                &exchange,
                &t.stream,
            ))
        }
    }
}

pub async fn embeddings(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    let bytes = body::read(req, MAX_BODY_BYTES).await?;
    let call = EmbeddingsCall::new(EmbeddingsRequest::parse(&bytes)?, &ctx.cfg.aliases);
    drop(bytes);
    let (shown, answer) = call_upstream(ctx, req, None, &call).await?;
    let asked = call.request.model.as_str();
    let rename = (asked != call.upstream_model).then_some((call.upstream_model.as_str(), asked));
    Ok(respond::upstream_answer(
        shown.as_ref(),
        &answer,
        Dialect::OpenAI,
        ctx.cfg.stream_idle_timeout_ms,
        rename,
    ))
}
