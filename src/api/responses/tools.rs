//! Tools: what a Responses client offers, as chat-completions function tools, and the map that
//! turns the function names the model calls back into the client's tools.
//!
//! - `function` tools become chat function tools (name, description, parameters; `strict`
//!   only when true).
//! - `custom` (freeform) tools, such as Codex's `apply_patch`, become a function with one
//!   required string parameter, [`CUSTOM_INPUT_PARAM`]; the tool's grammar (when it has one) is
//!   put in that parameter's description so the model can follow it. A call comes back as a
//!   `custom_tool_call` whose `input` is that string.
//! - `namespace` groups are flattened: each member is offered as `<namespace>__<tool>`
//!   ([`NAMESPACE_SEPARATOR`]), and a call of that name comes back as the member's own name with
//!   `namespace` set, which is how Codex dispatches it.
//! - Every other tool type is a built-in the upstream cannot run (web search, file search,
//!   computer use, code interpreter, image generation, local shell, MCP, tool search, …): it is
//!   dropped, never forwarded. Dropping a tool only means the model does not see it, so a new
//!   built-in type does not break a client.

use super::json::{inner, is_null, put_escaped, put_str};
use crate::error::GatewayError;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Joins a namespace and the name of one of its tools into the name offered upstream.
pub const NAMESPACE_SEPARATOR: &str = "__";

/// The one string parameter a custom tool is offered with.
pub const CUSTOM_INPUT_PARAM: &str = "input";

/// Built-in tool types we know of, all dropped (any other unknown type is dropped too).
pub const DROPPED_BUILT_INS: &[&str] = &[
    "web_search",
    "web_search_preview",
    "file_search",
    "computer_use_preview",
    "computer_use",
    "code_interpreter",
    "image_generation",
    "local_shell",
    "shell",
    "apply_patch",
    "mcp",
    "tool_search",
];

/// How a client tool is called on the Responses side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// A `function_call` item with JSON `arguments`.
    Function,
    /// A `custom_tool_call` item with a freeform `input`.
    Custom,
}

/// A client tool, as the model's call of it must be reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTool {
    pub kind: ToolKind,
    pub name: String,
    pub namespace: Option<String>,
}

/// Upstream function name → the client's tool. Small (tens of tools): a list, looked up once
/// per call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolMap {
    entries: Vec<(String, ClientTool)>,
}

/// The client's view of a call the model made under an upstream name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Called<'a> {
    pub kind: ToolKind,
    pub name: &'a str,
    pub namespace: Option<&'a str>,
}

impl ToolMap {
    /// The client tool behind `upstream`. A name the client never offered (a model's invention)
    /// is reported as a function call of that name, for the client to refuse.
    pub fn called<'a>(&'a self, upstream: &'a str) -> Called<'a> {
        match self.entries.iter().find(|(n, _)| n == upstream) {
            Some((_, t)) => Called {
                kind: t.kind,
                name: &t.name,
                namespace: t.namespace.as_deref(),
            },
            None => Called {
                kind: ToolKind::Function,
                name: upstream,
                namespace: None,
            },
        }
    }

    /// Names of the custom tools offered, as the model calls them.
    pub fn custom_names(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|(_, t)| t.kind == ToolKind::Custom)
            .map(|(n, _)| n.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The name a tool is offered (and its past calls replayed) under upstream.
pub fn upstream_name<'a>(name: &'a str, namespace: Option<&str>) -> Cow<'a, str> {
    match namespace {
        Some(ns) if !ns.is_empty() => Cow::Owned(format!("{ns}{NAMESPACE_SEPARATOR}{name}")),
        _ => Cow::Borrowed(name),
    }
}

#[derive(Deserialize)]
struct ToolIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
    #[serde(borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    strict: Option<&'a RawValue>,
    #[serde(borrow)]
    format: Option<&'a RawValue>,
    #[serde(borrow)]
    tools: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct FormatIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    syntax: Option<Cow<'a, str>>,
    #[serde(borrow)]
    definition: Option<Cow<'a, str>>,
}

/// The chat `tools` array (`None` when no tool survives) and the map back.
pub struct Offered {
    pub json: Option<String>,
    pub map: ToolMap,
}

fn bad(message: String) -> GatewayError {
    GatewayError::invalid(message, Some("tools"))
}

/// Maps the client's `tools`; `allowed` (from an `allowed_tools` tool choice) keeps only the
/// tools named there.
pub fn offer(raw: Option<&RawValue>, allowed: Option<&[String]>) -> Result<Offered, GatewayError> {
    let mut offered = Offered {
        json: None,
        map: ToolMap::default(),
    };
    let Some(raw) = raw.filter(|r| !is_null(r)) else {
        return Ok(offered);
    };
    let list: Vec<ToolIn> = serde_json::from_str(raw.get())
        .map_err(|e| bad(format!("'tools' must be an array of tool objects ({e}).")))?;
    let mut out = String::with_capacity(raw.get().len() + 64);
    out.push('[');
    for (i, tool) in list.iter().enumerate() {
        let where_ = format!("tools[{i}]");
        match tool.kind.as_deref() {
            Some("function") => add(&mut out, &mut offered.map, tool, None, &where_, allowed)?,
            Some("custom") => add(&mut out, &mut offered.map, tool, None, &where_, allowed)?,
            Some("namespace") => {
                let ns = name_of(tool, &where_)?;
                let members: Vec<ToolIn> = match tool.tools {
                    Some(r) => serde_json::from_str(r.get()).map_err(|e| {
                        bad(format!("{where_}.tools must be an array of tools ({e})."))
                    })?,
                    None => Vec::new(),
                };
                for (j, member) in members.iter().enumerate() {
                    let where_ = format!("{where_}.tools[{j}]");
                    match member.kind.as_deref() {
                        Some("function") | Some("custom") => add(
                            &mut out,
                            &mut offered.map,
                            member,
                            Some(&ns),
                            &where_,
                            allowed,
                        )?,
                        _ => {}
                    }
                }
            }
            Some(_) => {}
            None => return Err(bad(format!("{where_}.type is required."))),
        }
    }
    out.push(']');
    if !offered.map.is_empty() {
        offered.json = Some(out);
    }
    Ok(offered)
}

fn name_of(tool: &ToolIn, where_: &str) -> Result<String, GatewayError> {
    match tool.name.map(|r| serde_json::from_str::<String>(r.get())) {
        Some(Ok(n)) if !n.is_empty() => Ok(n),
        _ => Err(bad(format!("{where_}.name must be a non-empty string."))),
    }
}

/// Adds one function or custom tool (possibly a namespace member) to the chat tools.
fn add(
    out: &mut String,
    map: &mut ToolMap,
    tool: &ToolIn,
    namespace: Option<&str>,
    where_: &str,
    allowed: Option<&[String]>,
) -> Result<(), GatewayError> {
    let name = name_of(tool, where_)?;
    let upstream = upstream_name(&name, namespace).into_owned();
    if let Some(allowed) = allowed {
        if !allowed.contains(&upstream) {
            return Ok(());
        }
    }
    if map.entries.iter().any(|(n, _)| *n == upstream) {
        return Err(bad(format!(
            "{where_}: two tools would both be offered to the model as '{upstream}' \
             (namespace members are named <namespace>{NAMESPACE_SEPARATOR}<tool>); rename one."
        )));
    }
    let custom = tool.kind.as_deref() == Some("custom");
    if !map.entries.is_empty() {
        out.push(',');
    }
    out.push_str(r#"{"type":"function","function":{"name":"#);
    put_str(out, &upstream);
    if let Some(d) = tool.description.filter(|d| inner(d).is_some()) {
        out.push_str(r#","description":"#);
        out.push_str(d.get());
    }
    out.push_str(r#","parameters":"#);
    if custom {
        custom_parameters(out, tool.format, where_)?;
    } else {
        match tool.parameters.filter(|p| !is_null(p)) {
            Some(p) if p.get().starts_with('{') => out.push_str(p.get()),
            Some(_) => {
                return Err(bad(format!(
                    "{where_}.parameters must be a JSON schema object."
                )))
            }
            None => out.push_str(r#"{"type":"object","properties":{}}"#),
        }
        if tool.strict.is_some_and(|s| s.get() == "true") {
            out.push_str(r#","strict":true"#);
        }
    }
    out.push_str("}}");
    map.entries.push((
        upstream,
        ClientTool {
            kind: if custom {
                ToolKind::Custom
            } else {
                ToolKind::Function
            },
            name,
            namespace: namespace.map(str::to_owned),
        },
    ));
    Ok(())
}

/// The parameters of a custom tool: one required string, described with the tool's format.
fn custom_parameters(
    out: &mut String,
    format: Option<&RawValue>,
    where_: &str,
) -> Result<(), GatewayError> {
    let format: Option<FormatIn> = match format.filter(|f| !is_null(f)) {
        Some(f) => Some(
            serde_json::from_str(f.get())
                .map_err(|e| bad(format!("{where_}.format must be a format object ({e}).")))?,
        ),
        None => None,
    };
    out.push_str(r#"{"type":"object","properties":{""#);
    out.push_str(CUSTOM_INPUT_PARAM);
    out.push_str(r#"":{"type":"string","description":""#);
    put_escaped(
        out,
        "The tool's input as plain text, exactly as the tool reads it (not JSON-encoded).",
    );
    if let Some(FormatIn {
        kind: Some(kind),
        syntax,
        definition: Some(definition),
    }) = format
    {
        if kind == "grammar" {
            let rule = match syntax.as_deref() {
                Some("regex") => " It must match this regular expression:\n".to_owned(),
                Some(s) => format!(" It must follow this {s} grammar:\n"),
                None => " It must follow this grammar:\n".to_owned(),
            };
            put_escaped(out, &rule);
            put_escaped(out, &definition);
        }
    }
    out.push_str(r#""}},"required":[""#);
    out.push_str(CUSTOM_INPUT_PARAM);
    out.push_str(r#""],"additionalProperties":false}"#);
    Ok(())
}

#[derive(Deserialize)]
struct ChoiceIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    mode: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tools: Option<Vec<ChoiceIn<'a>>>,
}

/// A tool choice, read before the tools (an `allowed_tools` choice narrows them).
pub enum Choice {
    /// `auto`, `none`, `required`.
    Mode(String),
    /// One function, by its upstream name.
    Named(String),
}

fn bad_choice(message: impl Into<String>) -> GatewayError {
    GatewayError::invalid(message, Some("tool_choice"))
}

/// Reads `tool_choice`. With an `allowed_tools` choice, also returns the upstream names allowed.
pub fn read_choice(
    raw: Option<&RawValue>,
) -> Result<(Option<Choice>, Option<Vec<String>>), GatewayError> {
    let Some(raw) = raw.filter(|r| !is_null(r)) else {
        return Ok((None, None));
    };
    if let Some(s) = inner(raw) {
        return match s {
            "auto" | "none" | "required" => Ok((Some(Choice::Mode(s.to_owned())), None)),
            _ => Err(bad_choice(format!(
                "tool_choice '{s}' is not one of auto, none, required, or a tool object."
            ))),
        };
    }
    let c: ChoiceIn = serde_json::from_str(raw.get()).map_err(|e| {
        bad_choice(format!(
            "'tool_choice' must be a string or an object ({e})."
        ))
    })?;
    match c.kind.as_deref() {
        Some("function") | Some("custom") => match c.name.as_deref() {
            Some(n) if !n.is_empty() => Ok((
                Some(Choice::Named(
                    upstream_name(n, c.namespace.as_deref()).into_owned(),
                )),
                None,
            )),
            _ => Err(bad_choice("tool_choice.name must name the tool to call.")),
        },
        Some("allowed_tools") => {
            let mode = match c.mode.as_deref() {
                None | Some("auto") => "auto",
                Some("required") => "required",
                Some(m) => {
                    return Err(bad_choice(format!(
                        "tool_choice.mode '{m}' is not one of auto, required."
                    )))
                }
            };
            let names = c
                .tools
                .unwrap_or_default()
                .iter()
                .filter(|t| matches!(t.kind.as_deref(), Some("function") | Some("custom")))
                .filter_map(|t| {
                    t.name
                        .as_deref()
                        .map(|n| upstream_name(n, t.namespace.as_deref()).into_owned())
                })
                .collect();
            Ok((Some(Choice::Mode(mode.to_owned())), Some(names)))
        }
        Some(other) => Err(bad_choice(format!(
            "tool_choice forces the tool type '{other}', which this gateway does not offer: \
             built-in tools are not available here; use auto, none, required or a function."
        ))),
        None => Err(bad_choice("tool_choice.type is required.")),
    }
}

/// The chat `tool_choice` value.
pub fn write_choice(out: &mut String, choice: &Choice) {
    match choice {
        Choice::Mode(m) => put_str(out, m),
        Choice::Named(n) => {
            out.push_str(r#"{"type":"function","function":{"name":"#);
            put_str(out, n);
            out.push_str("}}");
        }
    }
}
