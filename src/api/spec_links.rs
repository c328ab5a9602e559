//! The OpenAPI links between operations: where one response hands out the id
//! another operation takes (an access request's id to its review, an approval's
//! grant to its revocation, a new key to its revocation, a new revision to its
//! reading). Clients and test generators follow them instead of guessing ids.

use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi as Document, RefOr};

/// (from operation, its success status, link name, to operation, parameter, expression)
#[rustfmt::skip]
const LINKS: [(&str, &str, &str, &str, &str, &str); 11] = [
    ("create_access_request", "201", "approve", "approve_access_request", "id", "$response.body#/id"),
    ("create_access_request", "201", "reject", "reject_access_request", "id", "$response.body#/id"),
    ("create_access_request", "201", "withdraw", "withdraw_access_request", "id", "$response.body#/id"),
    ("approve_access_request", "200", "revoke_grant", "revoke_grant", "id", "$response.body#/grant/id"),
    ("create_api_key", "201", "revoke", "revoke_api_key", "id", "$response.body#/id"),
    ("add_policy_rules", "201", "revision", "get_policy_revision", "number", "$response.body#/number"),
    ("remove_policy_rules", "200", "revision", "get_policy_revision", "number", "$response.body#/number"),
    ("restore_policy_revision", "201", "revision", "get_policy_revision", "number", "$response.body#/number"),
    ("create_dataset", "201", "dataset", "get_dataset", "slug", "$response.body#/slug"),
    ("create_dataset", "201", "publish", "publish_dataset_data", "slug", "$response.body#/slug"),
    ("set_principal_roles", "200", "roles", "get_principal_roles", "subject", "$request.path.subject"),
];

/// Adds every link of `LINKS` to the success response it starts from.
pub(super) fn add_links(mut doc: Document) -> Document {
    for op in super::spec::operations_mut(&mut doc) {
        let Some(id) = op.operation_id.clone() else {
            continue;
        };
        for (from, status, name, to, param, expr) in LINKS {
            if from != id {
                continue;
            }
            if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
                let link = LinkBuilder::new()
                    .operation_id(to)
                    .parameter(param, expr)
                    .description(format!("`{param}` of {to}"))
                    .build();
                response.links.insert(name.to_owned(), RefOr::T(link));
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    /// Each link starts from a success response that exists and names an operation that
    /// exists, taking the parameter it sets.
    #[test]
    fn every_link_joins_two_operations_of_the_document() {
        let doc = serde_json::to_value(super::super::openapi()).expect("the spec serializes");
        let mut ops = std::collections::HashMap::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("path item").values() {
                if let Some(id) = op["operationId"].as_str() {
                    ops.insert(id.to_owned(), op.clone());
                }
            }
        }
        for (from, status, name, to, param, _) in super::LINKS {
            let link = &ops[from]["responses"][status]["links"][name];
            assert_eq!(link["operationId"], to, "{from} {status} {name}: {link}");
            let target = &ops[to];
            let takes = target["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == param));
            assert!(takes, "{to} takes no parameter {param}");
        }
    }
}
