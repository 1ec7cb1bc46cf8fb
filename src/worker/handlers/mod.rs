//! One handler per endpoint of the route table; each takes what it needs and returns an answer
//! or a [`GatewayError`] (rendered in the route's dialect by the caller).

mod admin;
mod chat;
mod completions;
mod dashboard;
mod login;
mod messages;
mod models;
mod responses;
mod service;

use super::auth;
use super::ctx::Ctx;
use super::failover;
use super::fetch::now_ms;
use super::upstream::{Answer, Deadlines};
use crate::accounts::id::AccountId;
use crate::api::keys::Caller;
use crate::api::routes::Endpoint;
use crate::api::UpstreamCall;
use crate::error::GatewayError;
use web_sys::{Request, Response};

pub async fn serve(
    ctx: &Ctx,
    endpoint: Endpoint,
    req: Request,
    params: &[&str],
) -> Result<Response, GatewayError> {
    use Endpoint::*;
    let param = || params.first().copied().unwrap_or_default();
    match endpoint {
        ServiceInfo => Ok(service::info(ctx)),
        Liveness => Ok(service::liveness()),
        ListModels => models::list(ctx).await,
        GetModel => models::get(ctx, param()).await,
        ChatCompletions => chat::completions(ctx, &req).await,
        Messages => messages::create(ctx, &req).await,
        CountTokens => messages::count(&req).await,
        Responses => responses::create(ctx, &req).await,
        Completions => completions::text(ctx, &req).await,
        Embeddings => completions::embeddings(ctx, &req).await,
        AdminHealth => admin::health(ctx, &req).await,
        AdminListAccounts => admin::list(ctx).await,
        AdminReindex => admin::reindex(ctx).await,
        AdminGetAccount => admin::get(ctx, &account_id(param())?).await,
        AdminPutAccount => admin::put(ctx, &req, &account_id(param())?).await,
        AdminDeleteAccount => admin::delete(ctx, &account_id(param())?).await,
        AdminResetAccount => admin::reset(ctx, &account_id(param())?).await,
        AdminLoginStart => login::start(ctx, &account_id(param())?).await,
        AdminLoginPoll => login::poll(ctx, &account_id(param())?).await,
        DashboardPage => dashboard::page(ctx, &req).await,
        DashboardAsset => dashboard::asset(ctx, &req, param()).await,
    }
}

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
    req: &Request,
    session: Option<String>,
    call: &impl UpstreamCall,
) -> Result<(Option<AccountId>, Answer), GatewayError> {
    let pinned = auth::pinned_account(req, &ctx.caller)?;
    let session = auth::session_id(req).or(session);
    let deadlines = Deadlines::new(
        now_ms(),
        ctx.cfg.request_timeout_ms,
        ctx.cfg.first_byte_timeout_ms,
    );
    let (account, answer) = failover::run(ctx, pinned, session.as_deref(), call, deadlines).await?;
    Ok(((ctx.caller != Caller::Public).then_some(account), answer))
}
