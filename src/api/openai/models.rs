//! The model list in OpenAI's shape (`GET /v1/models`).

use serde_json::{json, Value};

/// Fixed creation time so the list is stable (the date of Qwen3-Coder's release).
const CREATED: u64 = 1_753_142_400;

/// One model.
pub fn entry(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": CREATED, "owned_by": "qwen"})
}

/// `GET /v1/models`.
pub fn list(ids: &[String]) -> Value {
    json!({
        "object": "list",
        "data": ids.iter().map(|id| entry(id)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn openai_list_shape() {
        let l = super::list(&["qwen3-coder-plus".to_string()]);
        assert_eq!(l["object"], "list");
        assert_eq!(l["data"][0]["id"], "qwen3-coder-plus");
        assert_eq!(l["data"][0]["object"], "model");
    }
}
