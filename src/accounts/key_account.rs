//! Key-based account records: `{"kind": "dashscope" | "token_plan" | "coding_plan" |
//! "openai_compatible" | "api_key", "api_key": "…", "region"?, "workspace"?, "base_url"?,
//! "anthropic_base_url"?, "models"?, "subscription_day"?}`. Checked where they enter (the admin
//! API, the account tool), with an error that says what to write instead; unknown fields are
//! kept on every rewrite.

use crate::accounts::credentials::{is_header_safe, CredentialsError};
use crate::accounts::kinds::{preset, serves, AccountKind, Bases, Region};
use serde_json::{Map, Value};

/// The prefix of Coding Plan keys, and of no other kind's.
pub const CODING_PLAN_KEY_PREFIX: &str = "sk-sp-";

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyCredentials {
    /// Never `Oauth`.
    pub kind: AccountKind,
    pub api_key: String,
    pub region: Option<Region>,
    /// A DashScope workspace id (Singapore workspaces have their own host).
    pub workspace: Option<String>,
    /// Overrides the kind's OpenAI-compatible base (required for `openai_compatible`).
    pub base_url: Option<String>,
    /// Overrides the kind's Anthropic-compatible base.
    pub anthropic_base_url: Option<String>,
    /// The models this account serves; absent: its kind's catalogue.
    pub models: Option<Vec<String>>,
    /// Coding Plan: the day of the month the subscription renews (its monthly quota resets).
    pub subscription_day: Option<u8>,
    /// Every other field, kept as it was.
    pub extra: Map<String, Value>,
}

fn err(m: impl Into<String>) -> CredentialsError {
    CredentialsError(m.into())
}

fn take_string(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<String>, CredentialsError> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(err(format!("'{field}' must be a non-empty string"))),
    }
}

/// A base URL as written (kept as it is in the record). A host without a scheme means https
/// (the first landing's records were written that way); another scheme is refused.
fn url(field: &str, v: Option<String>) -> Result<Option<String>, CredentialsError> {
    match v {
        Some(u) if u.contains("://") && !(u.starts_with("https://") || u.starts_with("http://")) => {
            Err(err(format!(
                "'{field}' must be an http(s) URL such as https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
            )))
        }
        other => Ok(other),
    }
}

/// A base as requests use it: with a scheme, without a trailing `/`.
fn normalized(base: &str) -> String {
    let b = base.trim().trim_end_matches('/');
    if b.contains("://") {
        b.to_owned()
    } else {
        format!("https://{b}")
    }
}

impl ApiKeyCredentials {
    /// Reads and checks a key-based record of `kind`.
    pub fn from_object(
        kind: AccountKind,
        mut obj: Map<String, Value>,
    ) -> Result<Self, CredentialsError> {
        let api_key = match obj.remove("api_key") {
            Some(Value::String(s)) if is_header_safe(&s) => s,
            Some(Value::String(s)) if !s.is_empty() => {
                return Err(err(
                    "api_key must be visible ASCII (no spaces, line breaks or other characters a header cannot carry)",
                ))
            }
            _ => return Err(err("api_key is missing or empty")),
        };
        let region = match take_string(&mut obj, "region")? {
            None => None,
            Some(r) => Some(Region::parse(&r).ok_or_else(|| {
                err("'region' must be one of cn, intl, us, hk (cn-beijing, singapore, us-east-1, hong-kong work too)")
            })?),
        };
        let workspace = take_string(&mut obj, "workspace")?;
        let base_url = url("base_url", take_string(&mut obj, "base_url")?)?;
        let anthropic_base_url = url(
            "anthropic_base_url",
            take_string(&mut obj, "anthropic_base_url")?,
        )?;
        let models = match obj.remove("models") {
            None | Some(Value::Null) => None,
            Some(Value::Array(list)) => Some(
                list.into_iter()
                    .map(|m| match m {
                        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
                        _ => Err(err("'models' must be an array of model ids (strings)")),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(err("'models' must be an array of model ids (strings)")),
        };
        let subscription_day = match obj.remove("subscription_day") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.as_u64().is_some_and(|d| (1..=31).contains(&d)) => {
                n.as_u64().map(|d| d as u8)
            }
            Some(_) => {
                return Err(err(
                    "'subscription_day' must be a day of the month, 1 to 31",
                ))
            }
        };
        let coding_key = api_key.starts_with(CODING_PLAN_KEY_PREFIX);
        match kind {
            AccountKind::CodingPlan if !coding_key => {
                return Err(err(format!(
                    "a coding_plan key starts with '{CODING_PLAN_KEY_PREFIX}'; for a pay-as-you-go key use kind dashscope"
                )))
            }
            AccountKind::Dashscope | AccountKind::TokenPlan if coding_key => {
                return Err(err(format!(
                    "an '{CODING_PLAN_KEY_PREFIX}' key is a Coding Plan key: use kind coding_plan (personal use in coding tools only)"
                )))
            }
            AccountKind::Dashscope if region.is_none() && base_url.is_none() => {
                return Err(err("a dashscope account needs its key's 'region': cn, intl, us or hk"))
            }
            AccountKind::TokenPlan | AccountKind::CodingPlan
                if matches!(region, Some(Region::Us | Region::Hk)) =>
            {
                return Err(err(format!("a {} account's region is cn or intl", kind.name())))
            }
            AccountKind::OpenaiCompatible if base_url.is_none() => {
                return Err(err("an openai_compatible account needs 'base_url' (its OpenAI-compatible base, ending in /v1)"))
            }
            _ => {}
        }
        if let Some(w) = &workspace {
            let plain = w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if kind != AccountKind::Dashscope || region != Some(Region::Intl) || !plain {
                return Err(err("'workspace' is a DashScope Singapore workspace id (letters, digits, '-'), with region intl"));
            }
        }
        Ok(ApiKeyCredentials {
            kind,
            api_key,
            region,
            workspace,
            base_url,
            anthropic_base_url,
            models,
            subscription_day,
            extra: obj,
        })
    }

    /// The record as stored.
    pub fn to_value(&self) -> Value {
        let mut o = Map::new();
        o.insert("kind".into(), self.kind.name().into());
        o.insert("api_key".into(), self.api_key.clone().into());
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                o.insert(k.into(), v);
            }
        };
        put("region", self.region.map(|r| r.name().into()));
        put("workspace", self.workspace.clone().map(Value::from));
        put("base_url", self.base_url.clone().map(Value::from));
        put(
            "anthropic_base_url",
            self.anthropic_base_url.clone().map(Value::from),
        );
        put("models", self.models.clone().map(Value::from));
        put("subscription_day", self.subscription_day.map(Value::from));
        for (k, v) in &self.extra {
            o.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(o)
    }

    /// Where this account's endpoints are; `default_base` serves legacy `api_key` records that
    /// name no base.
    pub fn bases(&self, default_base: &str) -> Bases {
        let (preset_openai, preset_anthropic) =
            preset(self.kind, self.region, self.workspace.as_deref());
        let openai = normalized(
            self.base_url
                .as_deref()
                .or(preset_openai.as_deref())
                .unwrap_or(default_base),
        );
        let (embeddings, completions, model_list) = serves(self.kind, self.region, &openai);
        Bases {
            anthropic: self
                .anthropic_base_url
                .as_deref()
                .map(normalized)
                .or(preset_anthropic),
            openai,
            embeddings,
            completions,
            model_list,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::credentials::Credentials;

    fn parse(json: &str) -> Result<Credentials, String> {
        Credentials::parse(json).map_err(|e| e.0)
    }

    #[test]
    fn each_kind_gets_its_bases_from_kind_and_region() {
        let Credentials::ApiKey(d) =
            parse(r#"{"kind":"dashscope","api_key":"sk-1","region":"singapore"}"#).unwrap()
        else {
            panic!()
        };
        let b = d.bases("https://default/v1");
        assert_eq!(
            b.openai,
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
        );
        assert_eq!(
            b.anthropic.as_deref(),
            Some("https://dashscope-intl.aliyuncs.com/apps/anthropic")
        );
        assert!(b.embeddings && !b.completions && b.model_list);
        let Credentials::ApiKey(c) =
            parse(r#"{"kind":"coding_plan","api_key":"sk-sp-1"}"#).unwrap()
        else {
            panic!()
        };
        let b = c.bases("x");
        assert_eq!(b.openai, "https://coding.dashscope.aliyuncs.com/v1");
        assert!(!b.embeddings && !b.model_list);
        let Credentials::ApiKey(o) = parse(r#"{"kind":"openai_compatible","api_key":"k","base_url":"http://127.0.0.1:9/v1/","anthropic_base_url":"http://127.0.0.1:9/anthropic"}"#).unwrap() else {
            panic!()
        };
        let b = o.bases("x");
        assert_eq!(b.openai, "http://127.0.0.1:9/v1");
        assert_eq!(b.anthropic.as_deref(), Some("http://127.0.0.1:9/anthropic"));
        let Credentials::ApiKey(legacy) = parse(r#"{"kind":"api_key","api_key":"k"}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            legacy.bases("https://default/v1").openai,
            "https://default/v1"
        );
    }

    #[test]
    fn key_shapes_and_fields_are_checked_with_a_way_out() {
        for (json, says) in [
            (
                r#"{"kind":"coding_plan","api_key":"sk-abc"}"#,
                "starts with 'sk-sp-'",
            ),
            (
                r#"{"kind":"dashscope","api_key":"sk-sp-abc","region":"cn"}"#,
                "use kind coding_plan",
            ),
            (
                r#"{"kind":"token_plan","api_key":"sk-sp-abc"}"#,
                "use kind coding_plan",
            ),
            (r#"{"kind":"dashscope","api_key":"sk-1"}"#, "region"),
            (
                r#"{"kind":"dashscope","api_key":"sk-1","region":"mars"}"#,
                "one of cn, intl",
            ),
            (
                r#"{"kind":"coding_plan","api_key":"sk-sp-1","region":"us"}"#,
                "cn or intl",
            ),
            (
                r#"{"kind":"openai_compatible","api_key":"k"}"#,
                "needs 'base_url'",
            ),
            (
                r#"{"kind":"openai_compatible","api_key":"k","base_url":"ftp://x"}"#,
                "http(s) URL",
            ),
            (
                r#"{"kind":"dashscope","api_key":"sk-1","region":"cn","models":"qwen"}"#,
                "array of model ids",
            ),
            (
                r#"{"kind":"dashscope","api_key":"sk-1","region":"cn","workspace":"w"}"#,
                "region intl",
            ),
            (
                r#"{"kind":"coding_plan","api_key":"sk-sp-1","subscription_day":40}"#,
                "1 to 31",
            ),
            (r#"{"kind":"banana","api_key":"k"}"#, "unknown account kind"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains(says), "{json}: {e}");
            assert!(
                !e.contains("sk-sp-abc") && !e.contains("sk-abc"),
                "no key in the error: {e}"
            );
        }
    }

    #[test]
    fn records_round_trip_with_unknown_fields_and_old_records_stay_as_they_were() {
        let json = r#"{"kind":"dashscope","api_key":"sk-1","region":"intl","models":["qwen3-coder-plus"],"note":"team A"}"#;
        let c = parse(json).unwrap();
        let back: Value = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap());
        let old = r#"{"kind":"api_key","api_key":"sk-1","base_url":"https://dashscope-intl.aliyuncs.com/compatible-mode/v1"}"#;
        let back: Value = serde_json::from_str(&parse(old).unwrap().to_json()).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(old).unwrap());
    }
}
