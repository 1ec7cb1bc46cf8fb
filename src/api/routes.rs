//! The route table: every (method, path) the gateway answers, who may call it, which dialect
//! its errors speak, and the endpoint that serves it. 404, 405 with `Allow`, and the route list
//! of `GET /` are all derived from this one table.

use crate::api::Dialect;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Open,
    /// Client keys and the admin key (anyone when the API is public).
    Api,
    /// The admin key only.
    Admin,
}

/// What serves a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ServiceInfo,
    Liveness,
    ListModels,
    GetModel,
    ChatCompletions,
    Messages,
    CountTokens,
    Responses,
    Completions,
    Embeddings,
    AdminHealth,
    AdminListAccounts,
    AdminReindex,
    AdminGetAccount,
    AdminPutAccount,
    AdminDeleteAccount,
    AdminResetAccount,
    AdminLoginStart,
    AdminLoginPoll,
    AdminCreateKey,
    AdminListKeys,
    AdminGetKey,
    AdminUpdateKey,
    AdminRevokeKey,
    AdminUsage,
    /// The admin dashboard's page (it signs in with the admin key itself).
    DashboardPage,
    /// One of the dashboard's content-hashed files.
    DashboardAsset,
}

#[derive(Debug)]
pub struct Route {
    pub methods: &'static [&'static str],
    /// Segments; `:name` matches one segment, `*name` (last) the rest of the path.
    pub path: &'static str,
    pub access: Access,
    pub dialect: Dialect,
    pub endpoint: Endpoint,
}

const fn route(
    methods: &'static [&'static str],
    path: &'static str,
    access: Access,
    endpoint: Endpoint,
) -> Route {
    Route {
        methods,
        path,
        access,
        dialect: Dialect::OpenAI,
        endpoint,
    }
}

/// A route of the Anthropic dialect (its errors in Anthropic's shape).
const fn anthropic(path: &'static str, endpoint: Endpoint) -> Route {
    Route {
        methods: &["POST"],
        path,
        access: Access::Api,
        dialect: Dialect::Anthropic,
        endpoint,
    }
}

use Access::{Admin, Api, Open};
use Endpoint::*;

pub static ROUTES: &[Route] = &[
    route(&["GET"], "/", Open, ServiceInfo),
    route(&["GET"], "/health", Open, Liveness),
    route(&["GET"], "/v1/models", Api, ListModels),
    route(&["GET"], "/models", Api, ListModels),
    route(&["GET"], "/v1/models/*id", Api, GetModel),
    route(&["GET"], "/models/*id", Api, GetModel),
    route(&["POST"], "/v1/chat/completions", Api, ChatCompletions),
    route(&["POST"], "/chat/completions", Api, ChatCompletions),
    anthropic("/v1/messages", Messages),
    anthropic("/messages", Messages),
    anthropic("/v1/messages/count_tokens", CountTokens),
    anthropic("/messages/count_tokens", CountTokens),
    route(&["POST"], "/v1/responses", Api, Responses),
    route(&["POST"], "/responses", Api, Responses),
    route(&["POST"], "/v1/completions", Api, Completions),
    route(&["POST"], "/completions", Api, Completions),
    route(&["POST"], "/v1/embeddings", Api, Embeddings),
    route(&["POST"], "/embeddings", Api, Embeddings),
    route(&["GET"], "/admin/health", Admin, AdminHealth),
    route(&["GET"], "/admin/accounts", Admin, AdminListAccounts),
    route(&["POST"], "/admin/reindex", Admin, AdminReindex),
    route(&["GET"], "/admin/accounts/:id", Admin, AdminGetAccount),
    route(
        &["PUT", "POST"],
        "/admin/accounts/:id",
        Admin,
        AdminPutAccount,
    ),
    route(
        &["DELETE"],
        "/admin/accounts/:id",
        Admin,
        AdminDeleteAccount,
    ),
    route(
        &["POST"],
        "/admin/accounts/:id/reset",
        Admin,
        AdminResetAccount,
    ),
    route(
        &["POST"],
        "/admin/accounts/:id/login",
        Admin,
        AdminLoginStart,
    ),
    route(
        &["POST", "GET"],
        "/admin/accounts/:id/login/poll",
        Admin,
        AdminLoginPoll,
    ),
    route(&["POST"], "/admin/keys", Admin, AdminCreateKey),
    route(&["GET"], "/admin/keys", Admin, AdminListKeys),
    route(&["GET"], "/admin/keys/:id", Admin, AdminGetKey),
    route(&["PATCH"], "/admin/keys/:id", Admin, AdminUpdateKey),
    route(&["DELETE"], "/admin/keys/:id", Admin, AdminRevokeKey),
    route(&["GET"], "/admin/usage", Admin, AdminUsage),
    // The dashboard: open, since the page and its files hold nothing secret; every call it
    // makes to the routes above carries the admin key.
    route(&["GET"], "/admin", Open, DashboardPage),
    route(&["GET"], "/admin/assets/*file", Open, DashboardAsset),
];

/// What a request's method and path come to.
#[derive(Debug)]
pub enum Match<'p> {
    /// A route, and the values of its `:`/`*` segments in order.
    Found(&'static Route, Vec<&'p str>),
    /// The path exists, the method does not: the methods that do, for `Allow` (HEAD goes with
    /// GET and OPTIONS with every path, without being listed).
    WrongMethod {
        allowed: String,
        access: Access,
        dialect: Dialect,
    },
    NotFound,
}

fn matches<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    if pattern == "/" {
        return (path == "/").then(Vec::new);
    }
    let mut params = Vec::new();
    let mut rest = path.strip_prefix('/')?;
    let mut segments = pattern.trim_start_matches('/').split('/').peekable();
    while let Some(seg) = segments.next() {
        if seg.starts_with('*') {
            // The rest of the path, slashes and all.
            return (!rest.is_empty()).then(|| {
                params.push(rest);
                params
            });
        }
        let (head, tail) = match rest.split_once('/') {
            Some((h, t)) => (h, Some(t)),
            None => (rest, None),
        };
        if head.is_empty() {
            return None;
        }
        if seg.starts_with(':') {
            params.push(head);
        } else if seg != head {
            return None;
        }
        match (tail, segments.peek()) {
            (None, None) => return Some(params),
            (Some(t), Some(_)) => rest = t,
            _ => return None,
        }
    }
    None
}

fn allows(route: &Route, method: &str) -> bool {
    route.methods.contains(&method) || (method == "HEAD" && route.methods.contains(&"GET"))
}

/// Finds the route for `method` (exactly as sent: an unknown method never passes for another)
/// and `path` (without its query; a trailing `/` ignored).
pub fn find<'p>(method: &str, path: &'p str) -> Match<'p> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut allowed: Vec<&str> = Vec::new();
    let mut seen: Option<&Route> = None;
    for r in ROUTES {
        let Some(params) = matches(r.path, path) else {
            continue;
        };
        if allows(r, method) {
            return Match::Found(r, params);
        }
        seen.get_or_insert(r);
        for m in r.methods {
            if !allowed.contains(m) {
                allowed.push(m);
            }
        }
    }
    match seen {
        Some(r) => Match::WrongMethod {
            allowed: allowed.join(", "),
            access: r.access,
            dialect: r.dialect,
        },
        None => Match::NotFound,
    }
}

/// The routes a caller of `access` may use, as `"METHOD /path"` lines for `GET /`. The dashboard
/// goes with the admin routes: it is of no use without them.
pub fn listing(include_admin: bool) -> Vec<String> {
    ROUTES
        .iter()
        .filter(|r| include_admin || !(r.access == Access::Admin || r.path.starts_with("/admin")))
        .map(|r| format!("{} {}", r.methods.join("|"), r.path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(method: &str, path: &str) -> Option<(Endpoint, Vec<String>)> {
        match find(method, path) {
            Match::Found(r, p) => Some((r.endpoint, p.into_iter().map(String::from).collect())),
            _ => None,
        }
    }

    #[test]
    fn paths_and_params() {
        assert_eq!(endpoint("GET", "/").unwrap().0, ServiceInfo);
        assert_eq!(
            endpoint("POST", "/v1/chat/completions/").unwrap().0,
            ChatCompletions
        );
        assert_eq!(
            endpoint("POST", "/chat/completions").unwrap().0,
            ChatCompletions
        );
        assert_eq!(
            endpoint("GET", "/v1/models/qwen/qwen3-coder").unwrap(),
            (GetModel, vec!["qwen/qwen3-coder".to_string()])
        );
        assert_eq!(
            endpoint("POST", "/admin/accounts/a1/login/poll").unwrap(),
            (AdminLoginPoll, vec!["a1".to_string()])
        );
        assert_eq!(
            endpoint("PUT", "/admin/accounts/a1").unwrap().0,
            AdminPutAccount
        );
        assert_eq!(endpoint("HEAD", "/health").unwrap().0, Liveness);
        for (path, e) in [
            ("/v1/messages", Messages),
            ("/messages", Messages),
            ("/v1/messages/count_tokens", CountTokens),
            ("/v1/responses", Responses),
            ("/responses", Responses),
            ("/v1/completions", Completions),
            ("/v1/embeddings", Embeddings),
            ("/embeddings", Embeddings),
        ] {
            assert_eq!(endpoint("POST", path).unwrap().0, e, "{path}");
        }
        match find("POST", "/v1/messages") {
            Match::Found(r, _) => assert_eq!(r.dialect, Dialect::Anthropic),
            other => panic!("{other:?}"),
        }
        match find("GET", "/v1/messages") {
            Match::WrongMethod { dialect, .. } => assert_eq!(dialect, Dialect::Anthropic),
            other => panic!("{other:?}"),
        }
        assert_eq!(endpoint("GET", "/v1/models/").unwrap().0, ListModels);
        assert_eq!(endpoint("GET", "/admin").unwrap().0, DashboardPage);
        assert_eq!(endpoint("HEAD", "/admin/").unwrap().0, DashboardPage);
        assert_eq!(
            endpoint("GET", "/admin/assets/app-0123abcd.js").unwrap(),
            (DashboardAsset, vec!["app-0123abcd.js".to_string()])
        );
        for missing in [
            "/v1/nothing",
            "/admin/assets",
            "/admin/nothing",
            "/admin/accounts/a/b",
            "//",
            "/adminx/health",
            "/v1//models",
        ] {
            assert!(matches!(find("GET", missing), Match::NotFound), "{missing}");
        }
    }

    #[test]
    fn wrong_methods_get_405_with_the_methods_of_every_route_on_the_path() {
        let allowed = |m: &str, p: &str| match find(m, p) {
            Match::WrongMethod { allowed, .. } => allowed,
            other => panic!("{m} {p}: {other:?}"),
        };
        assert_eq!(allowed("GET", "/v1/chat/completions"), "POST");
        assert_eq!(
            allowed("PATCH", "/admin/accounts/a1"),
            "GET, PUT, POST, DELETE"
        );
        assert_eq!(
            allowed("DELETE", "/admin/accounts/a1/login/poll"),
            "POST, GET"
        );
        // Unknown methods are never taken for GET.
        assert_eq!(allowed("PROPFIND", "/v1/models"), "GET");
        assert_eq!(
            allowed("PURGE", "/admin/accounts/a1"),
            "GET, PUT, POST, DELETE"
        );
        assert_eq!(allowed("get", "/health"), "GET");
        assert_eq!(allowed("POST", "/admin"), "GET");
    }

    #[test]
    fn the_listing_hides_admin_routes_from_others() {
        let public = listing(false);
        assert!(public.contains(&"POST /v1/chat/completions".to_string()));
        assert!(!public.iter().any(|r| r.contains("/admin")));
        assert!(listing(true).contains(&"PUT|POST /admin/accounts/:id".to_string()));
        assert!(listing(true).contains(&"GET /admin".to_string()));
    }
}
