//! `GET /admin` (the dashboard's page) and `GET /admin/assets/<file>` (its content-hashed
//! scripts, styles and icon), read from the Workers Static Assets binding `ASSETS`: the folder
//! `admin-ui/dist`, built by `scripts/build.sh`. The page is a client of the admin JSON API; it
//! holds nothing secret and signs in with the admin key, which it keeps in sessionStorage.
//!
//! Every answer carries the security headers of [`secured`]: a Content-Security-Policy without
//! inline script or style (and with Trusted Types, so that no HTML string can reach the DOM),
//! `nosniff`, no referrer, no framing. The page is never cached; hashed files are cached for good.

use crate::error::GatewayError;
use crate::worker::ctx::{self, Ctx};
use crate::worker::respond;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response, ResponseInit};

/// The assets binding's name in wrangler.toml (and the test harness).
const BINDING: &str = "ASSETS";
/// The asset server looks at the path only; the origin is a placeholder.
const ASSET_ORIGIN: &str = "https://assets.invalid";

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";
const PAGE_CACHE: &str = "no-store";
const HASHED_CACHE: &str = "public, max-age=31536000, immutable";

#[wasm_bindgen]
extern "C" {
    /// The assets binding: a fetcher whose answers are the files of the assets folder.
    type AssetFetcher;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &AssetFetcher, request: &Request) -> Result<js_sys::Promise, JsValue>;
}

fn not_built(detail: &str) -> GatewayError {
    GatewayError::Internal {
        message: format!(
            "the admin dashboard is not available ({detail}): build it with scripts/build.sh \
             and serve admin-ui/dist with the [assets] section of wrangler.toml"
        ),
    }
}

pub async fn page(ctx: &Ctx, req: &Request) -> Result<Response, GatewayError> {
    match serve(ctx, req, "/index.html", PAGE_CACHE).await? {
        Some(r) => Ok(r),
        None => Err(not_built("its index.html is missing")),
    }
}

pub async fn asset(ctx: &Ctx, req: &Request, file: &str) -> Result<Response, GatewayError> {
    let missing = || GatewayError::NotFound {
        path: format!("/admin/assets/{file}"),
    };
    if !is_asset_name(file) {
        return Err(missing());
    }
    serve(ctx, req, &format!("/assets/{file}"), HASHED_CACHE)
        .await?
        .ok_or_else(missing)
}

/// A file name as the dashboard build writes them: one path segment, no dot-dot.
fn is_asset_name(file: &str) -> bool {
    file.len() <= 128
        && file.starts_with(|c: char| c.is_ascii_alphanumeric())
        && !file.contains("..")
        && file
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// The file at `path` of the assets folder with our headers; `None` when there is no such file.
async fn serve(
    ctx: &Ctx,
    req: &Request,
    path: &str,
    cache: &str,
) -> Result<Option<Response>, GatewayError> {
    let binding = ctx::binding(&ctx.env, BINDING);
    if !binding.is_object() {
        return Err(not_built("no ASSETS binding"));
    }
    let assets: AssetFetcher = binding.unchecked_into();
    let init = RequestInit::new();
    // HEAD stays HEAD; everything else that reaches here is GET.
    let method = if req.method() == "HEAD" {
        "HEAD"
    } else {
        "GET"
    };
    init.set_method(method);
    let request = Request::new_with_str_and_init(&format!("{ASSET_ORIGIN}{path}"), &init)
        .map_err(|_| not_built("the asset request could not be built"))?;
    let promise = assets
        .fetch(&request)
        .map_err(|_| not_built("the ASSETS binding cannot fetch"))?;
    let answer: Response = JsFuture::from(promise)
        .await
        .ok()
        .and_then(|r| r.dyn_into().ok())
        .ok_or_else(|| not_built("the ASSETS binding failed"))?;
    match answer.status() {
        200 => {}
        404 => return Ok(None),
        other => return Err(not_built(&format!("the asset server answered {other}"))),
    }
    let content_type = answer
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_else(|| "application/octet-stream".into());
    let headers = secured(&content_type, cache);
    let init = ResponseInit::new();
    init.set_status(200);
    init.set_headers(&headers);
    Response::new_with_opt_readable_stream_and_init(answer.body().as_ref(), &init)
        .map(Some)
        .map_err(|_| GatewayError::Internal {
            message: "the dashboard answer could not be built".into(),
        })
}

/// The headers of every dashboard answer (no CORS headers: no other site has a use for these).
fn secured(content_type: &str, cache: &str) -> Headers {
    // Headers::new() cannot fail in the runtime; a null stand-in keeps that from panicking.
    let h = Headers::new().unwrap_or_else(|_| JsValue::NULL.unchecked_into());
    respond::set_all(
        &h,
        &[
            ("content-type", content_type),
            ("content-security-policy", CONTENT_SECURITY_POLICY),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
            ("x-frame-options", "DENY"),
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cache-control", cache),
        ],
    );
    h
}
