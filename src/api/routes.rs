//! The route table as the spec lists it, to tell a wrong method on a real path (405)
//! from a path that does not exist (404).

use std::sync::OnceLock;

struct Route {
    segments: Vec<String>,
    methods: Vec<String>,
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
                    ("GET", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ];
                Route {
                    segments: path.split('/').map(str::to_owned).collect(),
                    methods: ops
                        .iter()
                        .filter(|(_, has)| *has)
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
            });
        }
        routes
    })
}

/// The methods served on `path` (any route whose template matches), in spec order;
/// empty when no route has this path.
pub fn methods_of(path: &str) -> Vec<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let mut out: Vec<String> = Vec::new();
    for route in table() {
        let matches =
            route.segments.len() == parts.len()
                && route.segments.iter().zip(&parts).all(|(t, p)| {
                    t == p || (t.starts_with('{') && t.ends_with('}') && !p.is_empty())
                });
        if matches {
            for m in &route.methods {
                if !out.contains(m) {
                    out.push(m.clone());
                }
            }
        }
    }
    out
}
