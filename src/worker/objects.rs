//! Calling one of the Worker's Durable Objects (the pool writer, the ledger): a JSON body to the
//! one object of a binding, a JSON answer back.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, Request};

/// Posts `body` to the object named `name` of the binding `binding`; `None` when this
/// deployment has no such binding.
pub async fn call<T: DeserializeOwned>(
    env: &Env,
    binding: &str,
    name: &str,
    body: &impl Serialize,
) -> Option<Result<T, String>> {
    let namespace = env.durable_object(binding).ok()?;
    Some(call_in(&namespace, name, body).await)
}

async fn call_in<T: DeserializeOwned>(
    namespace: &worker::ObjectNamespace,
    name: &str,
    body: &impl Serialize,
) -> Result<T, String> {
    let stub = namespace.get_by_name(name).map_err(|e| e.to_string())?;
    let body = serde_json::to_string(body).map_err(|e| e.to_string())?;
    let init = worker::RequestInit {
        method: worker::Method::Post,
        body: Some(body.into()),
        ..Default::default()
    };
    let req =
        Request::new_with_init(&format!("https://{name}/"), &init).map_err(|e| e.to_string())?;
    let mut resp = stub
        .fetch_with_request(req)
        .await
        .map_err(|e| e.to_string())?;
    if resp.status_code() != 200 {
        return Err(resp.text().await.unwrap_or_default());
    }
    resp.json::<T>().await.map_err(|e| e.to_string())
}
