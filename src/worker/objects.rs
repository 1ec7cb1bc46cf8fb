//! Calling one of the Worker's Durable Objects (the pool writer, the ledger): a JSON body to the
//! one object of a binding, a JSON answer back, in one call to `js/bindings.js`.

use super::fetch::js_detail;
use js_sys::Promise;
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

#[wasm_bindgen(module = "/src/worker/js/bindings.js")]
extern "C" {
    #[wasm_bindgen(js_name = callObject)]
    fn call_object(namespace: &JsValue, name: &str, body: &str) -> Promise;

    /// What `callObject` resolves to: the object's status and the text of its answer.
    type Answered;
    #[wasm_bindgen(method, getter)]
    fn status(this: &Answered) -> u16;
    #[wasm_bindgen(method, getter)]
    fn text(this: &Answered) -> String;
}

/// Posts `body` to the object named `name` of the binding `binding`; `None` when this
/// deployment has no such binding.
pub async fn call<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    body: &impl Serialize,
) -> Option<Result<T, String>> {
    let namespace = super::ctx::binding(env, binding);
    if !namespace.is_object() {
        return None;
    }
    Some(call_in(&namespace, name, body).await)
}

async fn call_in<T: DeserializeOwned>(
    namespace: &JsValue,
    name: &str,
    body: &impl Serialize,
) -> Result<T, String> {
    let body = serde_json::to_string(body).map_err(|e| e.to_string())?;
    let answer: Answered = JsFuture::from(call_object(namespace, name, &body))
        .await
        .map_err(js_detail)?
        .unchecked_into();
    let text = answer.text();
    if answer.status() != 200 {
        return Err(text);
    }
    serde_json::from_str(&text).map_err(|e| e.to_string())
}
