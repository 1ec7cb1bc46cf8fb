//! The Worker (wasm32 only): it sequences I/O around the pure modules. A request goes through
//! [`fetch`]: the route table, the caller once, one handler, and an error in the route's dialect.

mod accounting;
mod accounts;
mod auth;
mod body;
mod cache;
mod client_headers;
mod clients;
mod ctx;
mod executor;
mod failover;
mod fetch;
mod handlers;
mod kv;
mod ledger;
mod note;
mod objects;
mod pool_state;
mod pool_writer;
mod refresh;
mod respond;
mod streams;
mod translate;
mod upstream;

use crate::api::keys::Caller;
use crate::api::routes::{self, Access, Match};
use crate::api::{Audience, Dialect};
use crate::error::{GatewayError, Level};
use ctx::Ctx;
use std::rc::Rc;
use worker::{event, Context, Env};

#[event(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| worker::console_error!("panic: {info}")));
    executor::prefer_promise_reactions();
}

#[event(fetch)]
async fn fetch(
    req: web_sys::Request,
    env: Env,
    context: Context,
) -> worker::Result<web_sys::Response> {
    let started_ms = fetch::now_ms();
    let request_id: Rc<str> = fetch::request_id().into();
    let cfg = ctx::config(&env);
    let method = req.method();
    let url = req.url();
    let path = path_of(&url);
    if method == "OPTIONS" {
        return Ok(respond::stamped(respond::preflight(), &request_id));
    }
    let early = |e: &GatewayError, dialect: Dialect, audience: Audience| {
        let resp = respond::stamped(failed(e, dialect, audience), &request_id);
        accounting::log_refused(&cfg, &request_id, path, resp.status(), started_ms);
        resp
    };
    let heads = Rc::new(client_headers::ClientHeaders::read(&req));
    let found = routes::find(&method, path);
    // Who may learn that a route exists is decided before the method is looked at; unknown
    // admin paths say nothing to anyone without the admin key.
    let (access, dialect) = match &found {
        Match::Found(route, _) => (route.access, route.dialect),
        Match::WrongMethod {
            access, dialect, ..
        } => (*access, *dialect),
        Match::NotFound if path == "/admin" || path.starts_with("/admin/") => {
            (Access::Admin, Dialect::OpenAI)
        }
        Match::NotFound => (Access::Open, Dialect::OpenAI),
    };
    let caller = match authenticate(&heads, &cfg, &env, access).await {
        Ok(c) => c,
        Err(e) => return Ok(early(&e, dialect, Audience::Public)),
    };
    let (route, params) = match found {
        Match::Found(route, params) => (route, params),
        Match::WrongMethod { allowed, .. } => {
            let e = GatewayError::MethodNotAllowed { method, allowed };
            return Ok(early(&e, dialect, caller.audience()));
        }
        Match::NotFound => {
            let e = GatewayError::NotFound {
                path: path.to_owned(),
            };
            return Ok(early(&e, dialect, caller.audience()));
        }
    };
    let arrival = ctx::Arrival {
        caller,
        heads,
        request_id: request_id.clone(),
        started_ms,
        route_name: route.path,
    };
    let ctx = Ctx::new(env, cfg, arrival, Rc::new(context));
    let resp = match handlers::serve(&ctx, route.endpoint, req, &params).await {
        Ok(resp) => resp,
        Err(e) => {
            if let GatewayError::UpstreamClient { status, .. } = &e {
                ctx.note.borrow_mut().upstream_status = Some(*status);
            }
            failed(&e, route.dialect, ctx.audience())
        }
    };
    let resp = respond::stamped(resp, &request_id);
    accounting::close(&ctx, resp.status());
    Ok(resp)
}

/// The path of a request URL, without its query.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| &url[i + 3..]).unwrap_or(url);
    let path = after_scheme
        .find('/')
        .map(|i| &after_scheme[i..])
        .unwrap_or("/");
    path.split(['?', '#']).next().unwrap_or("/")
}

async fn authenticate(
    heads: &client_headers::ClientHeaders,
    cfg: &crate::config::Config,
    env: &Env,
    access: Access,
) -> Result<Caller, GatewayError> {
    match access {
        Access::Open => Ok(Caller::Public),
        Access::Api => auth::api_caller(heads, cfg, env).await,
        Access::Admin => auth::admin_caller(heads, cfg),
    }
}

/// An error answer, logged at the error's level.
fn failed(e: &GatewayError, dialect: Dialect, audience: Audience) -> web_sys::Response {
    match e.level() {
        Level::Error => worker::console_error!("{}", e.message(Audience::Admin)),
        Level::Warn => worker::console_warn!("{}", e.message(Audience::Admin)),
        Level::Quiet => {}
    }
    respond::error(e, dialect, audience)
}
