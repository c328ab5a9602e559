//! The route table as the spec lists it, to tell a wrong method on a real path (405)
//! from a path that does not exist (404).

use std::sync::OnceLock;

struct Route {
    segments: Vec<String>,
    methods: Vec<String>,
    /// Methods whose operation needs credentials (its security has no empty entry).
    guarded: Vec<String>,
}

/// Whether an operation's security list demands credentials: no entry is `{}`.
fn needs_credentials(op: Option<&utoipa::openapi::path::Operation>) -> bool {
    let Some(security) = op.and_then(|o| o.security.as_ref()) else {
        return false;
    };
    !security.iter().any(|req| {
        serde_json::to_value(req).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
    })
}

fn table() -> &'static [Route] {
    static TABLE: OnceLock<Vec<Route>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let doc = super::openapi();
        let mut routes: Vec<Route> = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let ops = [
                    ("GET", item.get.as_ref()),
                    ("PUT", item.put.as_ref()),
                    ("POST", item.post.as_ref()),
                    ("DELETE", item.delete.as_ref()),
                    ("PATCH", item.patch.as_ref()),
                ];
                Route {
                    segments: path.split('/').map(str::to_owned).collect(),
                    methods: ops
                        .iter()
                        .filter(|(_, op)| op.is_some())
                        .map(|(m, _)| (*m).to_owned())
                        .collect(),
                    guarded: ops
                        .iter()
                        .filter(|(_, op)| op.is_some() && needs_credentials(*op))
                        .map(|(m, _)| (*m).to_owned())
                        .collect(),
                }
            })
            .collect();
        // Served outside the API routes.
        for path in ["/openapi.json", "/docs"] {
            routes.push(Route {
                segments: path.split('/').map(str::to_owned).collect(),
                methods: vec!["GET".to_owned()],
                guarded: Vec::new(),
            });
        }
        routes
    })
}

/// Whether `method` on `path` is an operation the spec says needs credentials, so an
/// anonymous call can be refused before its body is even read.
pub fn requires_credentials(method: &str, path: &str) -> bool {
    // Runs for every anonymous request: the method test first, as it rules
    // out most routes at the cost of a string compare or two.
    let parts: Vec<&str> = path.split('/').collect();
    table()
        .iter()
        .any(|route| route.guarded.iter().any(|m| m == method) && route_matches(route, &parts))
}

fn route_matches(route: &Route, parts: &[&str]) -> bool {
    route.segments.len() == parts.len()
        && route
            .segments
            .iter()
            .zip(parts)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty()))
}

/// The methods served on `path` (any route whose template matches), in spec order;
/// empty when no route has this path.
pub fn methods_of(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    for route in table() {
        if route_matches(route, &parts) {
            for m in &route.methods {
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
    }
    out
}
