//! One handler per endpoint of the route table; each takes what it needs and returns an answer
//! or a [`GatewayError`] (rendered in the route's dialect by the caller).

mod admin;
mod chat;
mod completions;
mod dashboard;
mod keys;
mod login;
mod messages;
mod models;
mod responses;
mod service;

use super::auth;
use super::clients;
use super::ctx::Ctx;
use super::failover;
use super::fetch::now_ms;
use super::note::UsageSource;
use super::upstream::{Answer, Deadlines};
use super::{respond, translate};
use crate::accounts::id::AccountId;
use crate::api::keys::Caller;
use crate::api::routes::Endpoint;
use crate::api::translate::StreamTranslate;
use crate::api::Dialect;
use crate::api::UpstreamCall;
use crate::error::GatewayError;
use crate::usage::Usage;
use web_sys::{Request, Response};

pub async fn serve(
    ctx: &Ctx,
    endpoint: Endpoint,
    req: Request,
    params: &[&str],
) -> Result<Response, GatewayError> {
    use Endpoint::*;
    let param = || params.first().copied().unwrap_or_default();
    let req = &req;
    // Each handler's future is its own (boxed): its code is compiled on the first request that
    // needs it, not all of it on the first request of an isolate.
    let handler: Handler = match endpoint {
        ServiceInfo => return Ok(service::info(ctx)),
        Liveness => return Ok(service::liveness()),
        ListModels => Box::pin(models::list(ctx)),
        GetModel => Box::pin(models::get(ctx, param())),
        ChatCompletions => Box::pin(model_route(ctx, "chat", chat::completions(ctx, req))),
        Messages => Box::pin(model_route(ctx, "messages", messages::create(ctx, req))),
        CountTokens => Box::pin(messages::count(ctx, req)),
        Responses => Box::pin(model_route(ctx, "responses", responses::create(ctx, req))),
        Completions => Box::pin(model_route(ctx, "completions", completions::text(ctx, req))),
        Embeddings => Box::pin(model_route(
            ctx,
            "embeddings",
            completions::embeddings(ctx, req),
        )),
        AdminHealth => Box::pin(admin::health(ctx, req)),
        AdminListAccounts => Box::pin(admin::list(ctx)),
        AdminReindex => Box::pin(admin::reindex(ctx)),
        AdminGetAccount => Box::pin(async move { admin::get(ctx, &account_id(param())?).await }),
        AdminPutAccount => {
            Box::pin(async move { admin::put(ctx, req, &account_id(param())?).await })
        }
        AdminDeleteAccount => {
            Box::pin(async move { admin::delete(ctx, &account_id(param())?).await })
        }
        AdminResetAccount => {
            Box::pin(async move { admin::reset(ctx, &account_id(param())?).await })
        }
        AdminLoginStart => Box::pin(async move { login::start(ctx, &account_id(param())?).await }),
        AdminLoginPoll => Box::pin(async move { login::poll(ctx, &account_id(param())?).await }),
        AdminCreateKey => Box::pin(keys::create(ctx, req)),
        AdminListKeys => Box::pin(keys::list(ctx)),
        AdminGetKey => Box::pin(keys::get(ctx, param())),
        AdminUpdateKey => Box::pin(keys::update(ctx, req, param())),
        AdminRevokeKey => Box::pin(keys::revoke(ctx, param())),
        AdminUsage => Box::pin(keys::usage(ctx, req)),
        DashboardPage => Box::pin(dashboard::page(ctx, req)),
        DashboardAsset => Box::pin(dashboard::asset(ctx, req, param())),
    };
    handler.await
}

type Handler<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, GatewayError>> + 'a>>;

/// An account id from a path segment (percent-decoded), or a 400 that says what ids look like.
fn account_id(segment: &str) -> Result<AccountId, GatewayError> {
    let decoded = js_sys::decode_uri_component(segment)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    AccountId::parse(&decoded).map_err(|e| GatewayError::invalid(e.to_string(), None))
}

/// Runs `call` through the failover loop within the request's time budget, pinned or kept in
/// the client's session as its headers ask (`session`: one named by the body instead). The account that
/// answered is returned for callers allowed to know it (key holders; a public API names none).
async fn call_upstream(
    ctx: &Ctx,
    session: Option<String>,
    call: &dyn UpstreamCall,
) -> Result<(Option<AccountId>, Answer), GatewayError> {
    {
        let mut note = ctx.note.borrow_mut();
        note.model = call.asked_model().to_owned();
        note.model_sent = call.upstream_model().to_owned();
    }
    if let Caller::Named(id) = &ctx.caller {
        clients::admit(
            &ctx.env,
            id,
            call.asked_model(),
            call.upstream_model(),
            now_ms(),
        )
        .await?;
    }
    let pinned = auth::pinned_account(&ctx.heads, &ctx.caller)?;
    let session = auth::session_id(&ctx.heads).or(session);
    let deadlines = Deadlines::new(
        now_ms(),
        ctx.cfg.request_timeout_ms,
        ctx.cfg.first_byte_timeout_ms,
    );
    let (account, answer) = failover::run(ctx, pinned, session.as_deref(), call, deadlines).await?;
    Ok(((ctx.caller != Caller::Public).then_some(account), answer))
}

/// A model route: accounted under `route`, with the usage its handler found.
async fn model_route(
    ctx: &Ctx,
    route: &'static str,
    handler: impl std::future::Future<Output = Result<(Response, UsageSource), GatewayError>>,
) -> Result<Response, GatewayError> {
    ctx.note.borrow_mut().route = Some(route);
    let (resp, usage) = handler.await?;
    ctx.note.borrow_mut().usage = usage;
    Ok(resp)
}

/// Upstream's answer passed on as it came, the model named as the client asked (`asked`, when
/// it differs from the `sent` one).
fn passed_through(
    ctx: &Ctx,
    shown: Option<&AccountId>,
    answer: &Answer,
    dialect: Dialect,
    (asked, sent): (&str, &str),
    drop_usage: bool,
) -> (Response, UsageSource) {
    let rename = (asked != sent).then_some((sent, asked));
    respond::upstream_answer(
        shown,
        answer,
        dialect,
        ctx.cfg.stream_idle_timeout_ms,
        rename,
        drop_usage,
    )
}

/// Upstream's chat answer in the client's dialect: a whole one through `whole` (the answer's
/// bytes to the client's JSON and the usage), a stream through the translator `stream` makes
/// (with keep-alives every `ping_ms`, 0 for none).
fn translated(
    ctx: &Ctx,
    shown: Option<&AccountId>,
    answer: Answer,
    whole: impl FnOnce(&[u8]) -> Result<(String, Usage), GatewayError>,
    stream: impl FnOnce() -> Box<dyn StreamTranslate>,
    ping_ms: u64,
) -> Result<(Response, UsageSource), GatewayError> {
    match answer {
        Answer::Whole { exchange, body, .. } => {
            let (json, usage) = whole(&body.bytes.to_vec())?;
            Ok((
                respond::translated_json(shown, &exchange, &json),
                UsageSource::Known(usage),
            ))
        }
        Answer::Stream { exchange, body, .. } => {
            let idle_ms = ctx.cfg.stream_idle_timeout_ms;
            let t = translate::translate(&body, stream(), idle_ms, ping_ms, &exchange.abort);
            let (client_stream, usage) = t.split();
            Ok((
                respond::translated_stream(shown, &exchange, &client_stream),
                usage,
            ))
        }
    }
}
