//! `GET /v1/models` and `GET /v1/models/<id>`.

use crate::api::openai::models;
use crate::error::GatewayError;
use crate::worker::respond;
use web_sys::Response;

pub fn list() -> Response {
    respond::json(200, &models::list())
}

pub fn get(id: &str) -> Result<Response, GatewayError> {
    models::find(id)
        .map(|m| respond::json(200, &m))
        .ok_or_else(|| GatewayError::NotFound {
            path: format!("/v1/models/{id}"),
        })
}
