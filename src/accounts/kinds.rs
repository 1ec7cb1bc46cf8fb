//! Account kinds and what each one is: where its endpoints live (per region), what it can serve,
//! and the terms it comes with. A record names its kind and region; everything else comes from
//! here, so a user writes little and gets it right. The bases are in docs/UPSTREAM.md.

use serde::{Deserialize, Serialize};

/// What an account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// Legacy qwen-code OAuth login (portal.qwen.ai); the free tier behind it ended in 2026-04.
    Oauth,
    /// The first landing's API-key record: any OpenAI-compatible base, default DashScope.
    ApiKey,
    /// Model Studio pay-as-you-go (DashScope), by region.
    Dashscope,
    /// Model Studio Token Plan: per-seat team keys.
    TokenPlan,
    /// Model Studio Coding Plan: a personal subscription for interactive coding tools.
    CodingPlan,
    /// Any other OpenAI-compatible provider.
    OpenaiCompatible,
}

impl AccountKind {
    pub fn name(self) -> &'static str {
        match self {
            AccountKind::Oauth => "oauth",
            AccountKind::ApiKey => "api_key",
            AccountKind::Dashscope => "dashscope",
            AccountKind::TokenPlan => "token_plan",
            AccountKind::CodingPlan => "coding_plan",
            AccountKind::OpenaiCompatible => "openai_compatible",
        }
    }

    /// The kinds a record can name (oauth records name none).
    pub fn of_record(name: &str) -> Option<AccountKind> {
        Some(match name {
            "oauth" | "qwen-oauth" => AccountKind::Oauth,
            "api_key" => AccountKind::ApiKey,
            "dashscope" => AccountKind::Dashscope,
            "token_plan" => AccountKind::TokenPlan,
            "coding_plan" => AccountKind::CodingPlan,
            "openai_compatible" => AccountKind::OpenaiCompatible,
            _ => return None,
        })
    }

    /// Model Studio products (their OpenAI-compatible API wants `max_completion_tokens`).
    pub fn is_model_studio(self) -> bool {
        matches!(
            self,
            AccountKind::Dashscope | AccountKind::TokenPlan | AccountKind::CodingPlan
        )
    }

    /// Keys whose terms allow sharing them among many clients (pooling).
    pub fn may_be_pooled(self) -> bool {
        !matches!(self, AccountKind::CodingPlan)
    }
}

pub const KIND_NAMES: &str =
    "oauth, api_key, dashscope, token_plan, coding_plan, openai_compatible";

/// Where a Model Studio key was issued: keys work only in their region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// Mainland China (Beijing).
    Cn,
    /// International (Singapore).
    Intl,
    /// United States (Virginia).
    Us,
    /// Hong Kong.
    Hk,
}

impl Region {
    /// A region as users write it: `cn`, `intl`, `us`, `hk`, or the cloud's own names.
    pub fn parse(s: &str) -> Option<Region> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "cn" | "cn-beijing" | "beijing" | "china" => Region::Cn,
            "intl" | "singapore" | "ap-southeast-1" | "international" => Region::Intl,
            "us" | "us-east-1" | "virginia" => Region::Us,
            "hk" | "cn-hongkong" | "hong-kong" | "hongkong" => Region::Hk,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Region::Cn => "cn",
            Region::Intl => "intl",
            Region::Us => "us",
            Region::Hk => "hk",
        }
    }
}

/// An endpoint family an account may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Chat,
    Embeddings,
    /// Legacy text completions at the provider itself (fill-in-the-middle models).
    Completions,
    /// Anthropic Messages at the provider itself.
    AnthropicMessages,
    /// A `GET /models` listing.
    ModelList,
}

/// The endpoints of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bases {
    /// The OpenAI-compatible base (`…/v1`): chat, and embeddings/completions/models where served.
    pub openai: String,
    /// The Anthropic-compatible base (`…/apps/anthropic`, to which `/v1/messages` is added).
    pub anthropic: Option<String>,
    pub embeddings: bool,
    pub completions: bool,
    pub model_list: bool,
}

impl Bases {
    pub fn can(&self, c: Capability) -> bool {
        match c {
            Capability::Chat => true,
            Capability::Embeddings => self.embeddings,
            Capability::Completions => self.completions,
            Capability::AnthropicMessages => self.anthropic.is_some(),
            Capability::ModelList => self.model_list,
        }
    }
}

/// The preset bases of a kind in a region (the OpenAI-compatible base, the Anthropic one).
pub fn preset(
    kind: AccountKind,
    region: Option<Region>,
    workspace: Option<&str>,
) -> (Option<String>, Option<String>) {
    use AccountKind::*;
    use Region::*;
    let s = |v: &str| Some(v.to_owned());
    match (kind, region.unwrap_or(Cn)) {
        (Dashscope, Intl) if workspace.is_some() => (
            workspace.map(|w| {
                format!("https://{w}.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1")
            }),
            s("https://dashscope-intl.aliyuncs.com/apps/anthropic"),
        ),
        (Dashscope, Cn) => (
            s("https://dashscope.aliyuncs.com/compatible-mode/v1"),
            s("https://dashscope.aliyuncs.com/apps/anthropic"),
        ),
        (Dashscope, Intl) => (
            s("https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
            s("https://dashscope-intl.aliyuncs.com/apps/anthropic"),
        ),
        (Dashscope, Us) => (
            s("https://dashscope-us.aliyuncs.com/compatible-mode/v1"),
            None,
        ),
        (Dashscope, Hk) => (
            s("https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1"),
            None,
        ),
        (TokenPlan, Intl) => (
            s("https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1"),
            s("https://token-plan.ap-southeast-1.maas.aliyuncs.com/apps/anthropic"),
        ),
        (TokenPlan, _) => (
            s("https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1"),
            s("https://token-plan.cn-beijing.maas.aliyuncs.com/apps/anthropic"),
        ),
        (CodingPlan, Intl) => (
            s("https://coding-intl.dashscope.aliyuncs.com/v1"),
            s("https://coding-intl.dashscope.aliyuncs.com/apps/anthropic"),
        ),
        (CodingPlan, _) => (
            s("https://coding.dashscope.aliyuncs.com/v1"),
            s("https://coding.dashscope.aliyuncs.com/apps/anthropic"),
        ),
        (Oauth | ApiKey | OpenaiCompatible, _) => (None, None),
    }
}

/// What a kind serves besides chat, at its preset bases. `openai_base` decides for records that
/// name their own base (legacy `api_key`): fill-in-the-middle completions exist only in DashScope's
/// Beijing region.
pub fn serves(kind: AccountKind, region: Option<Region>, openai_base: &str) -> (bool, bool, bool) {
    use AccountKind::*;
    let beijing_or_other =
        |base: &str| !base.contains("dashscope") || base.contains("://dashscope.aliyuncs.com");
    match kind {
        Oauth => (false, false, false),
        Dashscope => (true, region.unwrap_or(Region::Cn) == Region::Cn, true),
        TokenPlan | CodingPlan => (false, false, false),
        ApiKey | OpenaiCompatible => (true, beijing_or_other(openai_base), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_as_users_write_them() {
        for (s, r) in [
            ("cn", Region::Cn),
            ("Singapore", Region::Intl),
            ("us-east-1", Region::Us),
            ("hong-kong", Region::Hk),
        ] {
            assert_eq!(Region::parse(s), Some(r), "{s}");
        }
        assert_eq!(Region::parse("mars"), None);
    }

    #[test]
    fn presets_by_kind_and_region() {
        let (o, a) = preset(AccountKind::Dashscope, Some(Region::Intl), None);
        assert_eq!(
            o.as_deref(),
            Some("https://dashscope-intl.aliyuncs.com/compatible-mode/v1")
        );
        assert_eq!(
            a.as_deref(),
            Some("https://dashscope-intl.aliyuncs.com/apps/anthropic")
        );
        let (o, _) = preset(AccountKind::Dashscope, Some(Region::Intl), Some("ws-123"));
        assert_eq!(
            o.as_deref(),
            Some("https://ws-123.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1")
        );
        assert_eq!(
            preset(AccountKind::Dashscope, Some(Region::Us), None).1,
            None
        );
        assert_eq!(
            preset(AccountKind::CodingPlan, None, None).0.as_deref(),
            Some("https://coding.dashscope.aliyuncs.com/v1")
        );
        assert_eq!(
            preset(AccountKind::TokenPlan, Some(Region::Intl), None)
                .1
                .as_deref(),
            Some("https://token-plan.ap-southeast-1.maas.aliyuncs.com/apps/anthropic")
        );
        assert_eq!(
            preset(AccountKind::OpenaiCompatible, None, None),
            (None, None)
        );
        // Fill-in-the-middle completions: Beijing only.
        assert!(serves(AccountKind::Dashscope, Some(Region::Cn), "").1);
        assert!(!serves(AccountKind::Dashscope, Some(Region::Intl), "").1);
        assert!(
            !serves(
                AccountKind::ApiKey,
                None,
                "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
            )
            .1
        );
        assert!(
            serves(
                AccountKind::ApiKey,
                None,
                "https://dashscope.aliyuncs.com/compatible-mode/v1"
            )
            .1
        );
        assert!(!AccountKind::CodingPlan.may_be_pooled());
    }
}
