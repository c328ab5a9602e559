//! Admin policy edits: the rules in force, changes to them (each a numbered revision),
//! and revisions and their restore; explain in `check`, proposed changes in `simulate`.
//! Every change is validated first, stored atomically, and in force for the next request.

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::guard;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::policy::store::{self, Author, Change, RevisionInfo};
use crate::policy::{self, Rule, edits};

pub mod check;
pub mod revisions;
pub mod simulate;

pub(crate) fn require_admin(state: &AppState, principal: &Principal, note: &Note) -> Result<()> {
    guard::require(
        &state.policy.current(),
        principal,
        note,
        "policy",
        "policy:admin",
        "changing the policy",
    )
}

pub(super) fn invalid(e: policy::PolicyError) -> Error {
    Error::bad_request(e.to_string())
}

/// Checks, stores and enforces `change`; answers the new revision.
pub(crate) async fn commit(
    state: &AppState,
    principal: &Principal,
    change: Change,
    reason: &str,
    new_roles: Vec<String>,
) -> Result<RevisionInfo> {
    let author = Author {
        subject: principal.subject(),
        reason: edits::check_reason(reason).map_err(invalid)?,
    };
    let revision = state
        .db
        .run(move |conn| {
            let known =
                edits::declare_roles(store::known_names(conn)?, &new_roles).map_err(invalid)?;
            edits::check_change(&change, &known).map_err(invalid)?;
            store::apply(conn, &change, &author)
        })
        .await?;
    state.policy.reload(&state.db).await?;
    Ok(revision)
}

/// Rules to add or remove, with the reason kept in the revision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleEdit {
    /// 1 to 1,000 rules.
    #[schema(
        example = json!([{"kind": "allow", "sub": "role:researcher", "obj": "tier:conditional", "act": "data:query"}]),
        min_items = 1,
        max_items = 1000
    )]
    pub rules: Vec<Rule>,
    /// Why, 1 to 500 characters; kept with the revision.
    #[schema(
        example = "researchers may query conditional data",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
    /// Roles (without `role:`) these rules introduce; any other unknown role is refused as
    /// a likely typo.
    #[serde(default)]
    #[schema(example = json!(["researcher"]))]
    pub new_roles: Vec<String>,
}

/// Which rules to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RuleFilter {
    /// Only rules of this kind: allow, deny, role or group.
    #[param(example = "allow")]
    pub kind: Option<String>,
    /// Only rules naming exactly this value in any field (a subject, role, object or action).
    #[param(example = "role:auditor")]
    pub naming: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(example = 50, minimum = 1, maximum = 500)]
    #[serde(default, deserialize_with = "crate::api::params::limit")]
    pub limit: Option<u32>,
    /// Items to skip.
    #[param(example = 0)]
    #[serde(default, deserialize_with = "crate::api::params::offset")]
    pub offset: Option<u32>,
}

/// A page of the rules in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    /// The revision these rules are from.
    #[schema(example = 2)]
    pub revision: i64,
    /// The rules on this page, in the order they were added.
    pub data: Vec<Rule>,
    /// Rules matching the filter.
    #[schema(example = 44)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Rules skipped before this page.
    #[schema(example = 0)]
    pub offset: u32,
}

/// List the rules in force.
#[utoipa::path(
    tag = "policy",
    operation_id = "list_policy_rules",
    params(RuleFilter),
    responses(
        (status = 200, description = "A page of rules", body = RuleList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/policy/rules")]
pub async fn list_policy_rules(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<RuleFilter>,
) -> Result<web::Json<RuleList>> {
    require_admin(&state, &principal, &note)?;
    let params = params.into_inner();
    let (limit, offset) = crate::api::datasets::page_bounds(params.limit, params.offset)?;
    let kind = params.kind.clone();
    if let Some(k) = kind
        .as_deref()
        .filter(|k| !["allow", "deny", "role", "group"].contains(k))
    {
        return Err(Error::bad_request(format!(
            "kind must be allow, deny, role or group, not '{}'",
            k.chars().take(40).collect::<String>()
        )));
    }
    let (revision, rules) = state.db.run(store::snapshot).await?;
    let matching: Vec<Rule> = rules
        .into_iter()
        .filter(|r| kind.as_deref().is_none_or(|k| rule_kind(r) == k))
        .filter(|r| {
            params
                .naming
                .as_deref()
                .is_none_or(|n| r.values().iter().any(|v| v == n))
        })
        .collect();
    let total = matching.len() as i64;
    let data = matching
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .collect();
    Ok(web::Json(RuleList {
        revision,
        data,
        total,
        limit,
        offset,
    }))
}

fn rule_kind(rule: &Rule) -> &'static str {
    match rule {
        Rule::Allow { .. } => "allow",
        Rule::Deny { .. } => "deny",
        Rule::Role { .. } => "role",
        Rule::Group { .. } => "group",
    }
}

/// Add rules, as one new revision.
#[utoipa::path(
    tag = "policy",
    operation_id = "add_policy_rules",
    request_body = RuleEdit,
    responses(
        (status = 201, description = "The revision that added them; in force from the next request", body = RevisionInfo),
        (status = 400, description = "A rule is malformed or names an unknown action, role, dataset or organisation (the error names it)"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 409, description = "A rule is already in force; nothing was changed"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/admin/policy/rules")]
pub async fn add_policy_rules(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    body: web::Json<RuleEdit>,
) -> Result<HttpResponse> {
    require_admin(&state, &principal, &note)?;
    let edit = body.into_inner();
    let change = Change {
        add: edit.rules,
        remove: Vec::new(),
    };
    let revision = commit(&state, &principal, change, &edit.reason, edit.new_roles).await?;
    Ok(HttpResponse::Created().json(revision))
}

/// Remove rules, as one new revision.
#[utoipa::path(
    tag = "policy",
    operation_id = "remove_policy_rules",
    request_body = RuleEdit,
    responses(
        (status = 200, description = "The revision that removed them; in force from the next request", body = RevisionInfo),
        (status = 400, description = "A rule is malformed or the reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "A rule is not in force; nothing was changed"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[delete("/v1/admin/policy/rules")]
pub async fn remove_policy_rules(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    body: web::Json<RuleEdit>,
) -> Result<web::Json<RevisionInfo>> {
    require_admin(&state, &principal, &note)?;
    let edit = body.into_inner();
    let change = Change {
        add: Vec::new(),
        remove: edit.rules,
    };
    let revision = commit(&state, &principal, change, &edit.reason, edit.new_roles).await?;
    Ok(web::Json(revision))
}
