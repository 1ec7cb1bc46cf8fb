//! One handler per endpoint of the route table; each takes what it needs and returns an answer
//! or a [`GatewayError`] (rendered in the route's dialect by the caller).

mod admin;
mod chat;
mod dashboard;
mod login;
mod models;
mod service;

use super::ctx::Ctx;
use crate::accounts::id::AccountId;
use crate::api::routes::Endpoint;
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
