//! The OpenAPI 3.1 document: the parts no route carries (info, tags,
//! security schemes, the problem schema) and a pass that gives every error
//! response the `application/problem+json` body it really has.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, RefOr, Response};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::{PROBLEM_JSON, Problem};

/// The document's fixed parts; routes are added by `configure`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kaifang",
        description = "Public data sharing gateway: open government datasets behind one policy-checked REST API. Errors are application/problem+json (RFC 9457).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "catalog", description = "Datasets and organisations: what exists and how open it is"),
        (name = "data", description = "Rows: query, aggregate, export"),
        (name = "publishing", description = "Creating datasets and uploading their data"),
        (name = "admin", description = "API keys for programs"),
        (name = "access", description = "Conditional open data: access requests, their review, and the grants approvals create"),
        (name = "policy", description = "Who may do what: the rules in force, role assignments, revisions, explain and simulate"),
        (name = "audit", description = "The hash-chained record of every request: listing, export, verification"),
        (name = "fair use", description = "Rate limits and daily quotas: the caller's use, and the limits administrators set"),
        (name = "operations", description = "Liveness, readiness and metrics for the people and programs that run the gateway"),
    ),
    components(schemas(Problem)),
    modifiers(&Security, &ProblemResponses)
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "X-API-Key",
                    "An API key created by an administrator (kfk_<id>_<secret>)",
                ),
            )),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A JWT from the configured identity provider, or the admin token set in the server's configuration"))
                    .build(),
            ),
        );
    }
}

struct ProblemResponses;

impl Modify for ProblemResponses {
    fn modify(&self, doc: &mut Document) {
        for op in operations_mut(doc) {
            // Every operation can fail inside the server.
            op.responses
                .responses
                .entry("500".to_string())
                .or_insert_with(|| {
                    RefOr::T(Response::new("The server failed; quote the request id"))
                });
            op.responses
                    .responses
                    .entry("429".to_string())
                    .or_insert_with(|| {
                        RefOr::T(Response::new(
                            "Over the caller's rate limit, or (queries and exports) a daily quota used up; retry after the seconds in Retry-After",
                        ))
                    });
            op.responses
                .responses
                .entry("503".to_string())
                .or_insert_with(|| {
                    RefOr::T(Response::new("The database is unavailable; retry shortly"))
                });
            for (status, response) in op.responses.responses.iter_mut() {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if let (true, RefOr::T(response)) = (is_error, response) {
                    response.content.clear();
                    response.content.insert(
                        PROBLEM_JSON.to_string(),
                        RefOr::T(Content::new(Some(utoipa::openapi::Ref::from_schema_name(
                            "Problem",
                        )))),
                    );
                }
            }
        }
    }
}

/// Every operation of the document.
pub(super) fn operations_mut(
    doc: &mut Document,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

/// The full document, collected from the same registration the server uses.
pub fn openapi() -> Document {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(super::configure)
        .split_for_parts();
    // Modifiers run in `ApiDoc::openapi()` before the routes are merged in,
    // so they run again over the complete document.
    let mut doc = doc;
    ProblemResponses.modify(&mut doc);
    super::spec_links::add_links(describe_nullable_references(name_union_members(doc)))
}

/// Gives each inline member of a tagged union (`Expr`, `Rule`) a component of its own,
/// `Expr` + `Eq` = `ExprEq`: the JSON is the same, but client generators that cannot
/// follow a recursive inline union (openapi-python-client) get a class per member.
fn name_union_members(mut doc: Document) -> Document {
    use utoipa::openapi::schema::Schema;
    let Some(components) = doc.components.as_mut() else {
        return doc;
    };
    let mut hoisted = Vec::new();
    for (name, schema) in components.schemas.iter_mut() {
        let RefOr::T(Schema::OneOf(one_of)) = schema else {
            continue;
        };
        for member in one_of.items.iter_mut() {
            let Some(tag) = union_tag(member) else {
                continue;
            };
            describe_tag(member, &tag);
            let member_name = format!("{name}{}", camel(&tag));
            let reference = RefOr::Ref(utoipa::openapi::Ref::from_schema_name(&member_name));
            hoisted.push((member_name, std::mem::replace(member, reference)));
        }
    }
    components.schemas.extend(hoisted);
    doc
}

/// Gives the `op` or `kind` property of a union member, which serde's internal tag adds and
/// no Rust field carries, the description and example every property has.
fn describe_tag(member: &mut RefOr<utoipa::openapi::schema::Schema>, tag: &str) {
    use utoipa::openapi::schema::Schema;
    let RefOr::T(Schema::Object(object)) = member else {
        return;
    };
    for (key, what) in [("op", "operator"), ("kind", "kind of rule")] {
        if let Some(RefOr::T(Schema::Object(prop))) = object.properties.get_mut(key) {
            prop.description = Some(format!("The {what}: always `{tag}` in this form."));
            prop.example = Some(serde_json::Value::String(tag.to_owned()));
        }
    }
}

/// utoipa renders an optional field of a named type (`Option<VersionInfo>`) as
/// `oneOf: [{$ref, description}, {type: null}]`, leaving the field's doc comment on the
/// reference inside; client generators read the property's own description, so it moves
/// up to the `oneOf`.
fn describe_nullable_references(mut doc: Document) -> Document {
    use utoipa::openapi::schema::Schema;
    fn lift(schema: &mut Schema) {
        match schema {
            Schema::Object(object) => {
                for prop in object.properties.values_mut() {
                    let RefOr::T(Schema::OneOf(one_of)) = prop else {
                        continue;
                    };
                    if one_of.description.is_some() {
                        continue;
                    }
                    for item in one_of.items.iter_mut() {
                        if let RefOr::Ref(reference) = item
                            && !reference.description.is_empty()
                        {
                            one_of.description = Some(std::mem::take(&mut reference.description));
                        }
                    }
                }
            }
            Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(|item| {
                if let RefOr::T(inner) = item {
                    lift(inner);
                }
            }),
            _ => {}
        }
    }
    if let Some(components) = doc.components.as_mut() {
        for schema in components.schemas.values_mut() {
            if let RefOr::T(schema) = schema {
                lift(schema);
            }
        }
    }
    doc
}

/// The single value of the `op` or `kind` enum that tells an inline union member apart.
fn union_tag(member: &RefOr<utoipa::openapi::schema::Schema>) -> Option<String> {
    use utoipa::openapi::schema::Schema;
    let RefOr::T(Schema::Object(object)) = member else {
        return None;
    };
    ["op", "kind"].iter().find_map(|key| {
        let RefOr::T(Schema::Object(prop)) = object.properties.get(*key)? else {
            return None;
        };
        match prop.enum_values.as_deref()? {
            [only] => only.as_str().map(str::to_owned),
            _ => None,
        }
    })
}

fn camel(tag: &str) -> String {
    tag.split(['_', '-', ':'])
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
