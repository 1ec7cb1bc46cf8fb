//! `POST /v1/embeddings`: checked, then passed to an account that serves embeddings, with the
//! model its alias stands for. The answer goes back as upstream sent it.

use crate::error::GatewayError;
use crate::raw_json::{parse_body, RawObject};
use serde_json::Value;

#[derive(Debug)]
pub struct EmbeddingsRequest {
    top: RawObject,
    pub model: String,
}

impl EmbeddingsRequest {
    pub fn parse(body: &[u8]) -> Result<Self, GatewayError> {
        let top = parse_body(body, "'model' and 'input'")?;
        let model = top
            .get("model")
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| {
                GatewayError::invalid(
                    "'model' is required: an embedding model such as text-embedding-v4.",
                    Some("model"),
                )
            })?;
        let input_ok = match top
            .get("input")
            .map(|v| serde_json::from_str::<Value>(v.get()))
        {
            Some(Ok(Value::String(s))) => !s.is_empty(),
            Some(Ok(Value::Array(a))) => {
                !a.is_empty() && a.iter().all(|i| i.is_string() || i.is_array())
            }
            _ => false,
        };
        if !input_ok {
            return Err(GatewayError::invalid(
                "'input' is required: a non-empty string or array of strings.",
                Some("input"),
            ));
        }
        Ok(EmbeddingsRequest { top, model })
    }

    /// The body with the upstream model.
    pub fn body(&self, upstream_model: &str) -> String {
        let model = Value::from(upstream_model).to_string();
        let mut out = String::with_capacity(self.top.len_hint() + 32);
        self.top
            .write_edited(&mut out, &[("model", Some(model))], &|_| None);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_and_input_are_required_and_the_rest_passes() {
        for (body, param) in [
            (r#"{"input":"x"}"#, "model"),
            (r#"{"model":"m"}"#, "input"),
            (r#"{"model":"m","input":""}"#, "input"),
            (r#"{"model":"m","input":[1]}"#, "input"),
        ] {
            assert_eq!(
                EmbeddingsRequest::parse(body.as_bytes())
                    .unwrap_err()
                    .param(),
                Some(param),
                "{body}"
            );
        }
        let r = EmbeddingsRequest::parse(
            br#"{"model":"emb","input":["a","b"],"dimensions":64,"encoding_format":"base64"}"#,
        )
        .unwrap();
        let v: Value = serde_json::from_str(&r.body("text-embedding-v4")).unwrap();
        assert_eq!(v["model"], "text-embedding-v4");
        assert_eq!(v["dimensions"], 64);
        assert_eq!(v["encoding_format"], "base64");
    }
}
