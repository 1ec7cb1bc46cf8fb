//! The model list served at `/v1/models`.

use serde_json::{json, Value};

pub const DEFAULT_MODEL: &str = "qwen3-coder-plus";

/// Models seen on Qwen OAuth accounts; API-key accounts accept these and more (any model name is
/// forwarded as given).
pub const MODELS: &[&str] = &[
    "qwen3-coder-plus",
    "qwen3-coder-flash",
    "coder-model",
    "vision-model",
];

/// Fixed creation time so the list is stable (the date of Qwen3-Coder's release).
const CREATED: u64 = 1_753_142_400;

fn entry(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "qwen"})
}

/// `GET /v1/models`.
pub fn list() -> Value {
    json!({
        "object": "list",
        "data": MODELS.iter().map(|id| entry(id)).collect::<Vec<_>>(),
    })
}

/// `GET /v1/models/<id>`.
pub fn find(id: &str) -> Option<Value> {
    MODELS.contains(&id).then(|| entry(id))
}

#[cfg(test)]
mod tests {
    #[test]
    fn openai_list_shape() {
        let l = super::list();
        assert_eq!(l["object"], "list");
        assert_eq!(l["data"][0]["id"], super::DEFAULT_MODEL);
        assert_eq!(l["data"][0]["object"], "model");
        assert_eq!(
            super::find("qwen3-coder-flash").unwrap()["id"],
            "qwen3-coder-flash"
        );
        assert!(super::find("gpt-4").is_none());
    }
}
