//! Admin policy edits: the rules in force, changes to them (each a numbered revision),
//! revisions and their restore, and explain (`check`) and `simulate`. Every change is
//! validated first, stored atomically, and in force for the next request.

use std::collections::HashMap;

use actix_web::{HttpResponse, delete, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::access::Grant;
use crate::access::explain::{Asker, GrantEffect, explain};
use crate::api::guard;
use crate::api::params::PageParams;
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, DatasetSlug};
use crate::error::{Error, Result};
use crate::masks::Carried;
use crate::policy::simulate::{self, DecisionChange, Target};
use crate::policy::store::{self, Author, Change, RevisionInfo};
use crate::policy::{self, Engine, Rule, edits};

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

fn invalid(e: policy::PolicyError) -> Error {
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
    #[schema(example = json!([{"kind": "allow", "sub": "role:researcher", "obj": "tier:conditional", "act": "data:query"}]))]
    pub rules: Vec<Rule>,
    /// Why; kept with the revision.
    #[schema(example = "researchers may query conditional data")]
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

/// A page of revisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionList {
    /// The revisions on this page, newest first.
    pub data: Vec<RevisionInfo>,
    /// Revisions there are.
    #[schema(example = 2)]
    pub total: i64,
    /// The page size used.
    #[schema(example = 50)]
    pub limit: u32,
    /// Revisions skipped before this page.
    #[schema(example = 0)]
    pub offset: u32,
}

/// List policy revisions, newest first.
#[utoipa::path(
    tag = "policy",
    operation_id = "list_policy_revisions",
    params(PageParams),
    responses(
        (status = 200, description = "A page of revisions", body = RevisionList),
        (status = 400, description = "A parameter is invalid"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/policy/revisions")]
pub async fn list_policy_revisions(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    params: web::Query<PageParams>,
) -> Result<web::Json<RevisionList>> {
    require_admin(&state, &principal, &note)?;
    let (limit, offset) = crate::api::datasets::page_bounds(params.limit, params.offset)?;
    let (data, total) = state
        .db
        .run(move |conn| store::revisions(conn, i64::from(limit), i64::from(offset)))
        .await?;
    Ok(web::Json(RevisionList {
        data,
        total,
        limit,
        offset,
    }))
}

/// One revision and the full rule set in force right after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionDetail {
    /// Who made the revision, when and why.
    pub revision: RevisionInfo,
    /// Every rule in force right after it.
    pub rules: Vec<Rule>,
}

/// Read a revision: who made it, when, why, and the full rule set then.
#[utoipa::path(
    tag = "policy",
    operation_id = "get_policy_revision",
    params(("number" = i64, Path, description = "Revision number", example = 1)),
    responses(
        (status = 200, description = "The revision and its rule set", body = RevisionDetail),
        (status = 400, description = "The number is not a whole number"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such revision"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/policy/revisions/{number}")]
pub async fn get_policy_revision(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    number: web::Path<i64>,
) -> Result<web::Json<RevisionDetail>> {
    require_admin(&state, &principal, &note)?;
    let number = number.into_inner();
    let (revision, rules) = state
        .db
        .run(move |conn| store::revision(conn, number))
        .await?;
    Ok(web::Json(RevisionDetail { revision, rules }))
}

/// Why a revision is restored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Why; kept with the new revision.
    #[schema(example = "undo the researcher grant")]
    pub reason: String,
}

/// Restore a revision: its rule set becomes the rules in force, as a new revision.
#[utoipa::path(
    tag = "policy",
    operation_id = "restore_policy_revision",
    params(("number" = i64, Path, description = "Revision number", example = 1)),
    request_body = RestoreRequest,
    responses(
        (status = 201, description = "The new revision, equal in rules to the restored one", body = RevisionInfo),
        (status = 400, description = "The reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such revision"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/admin/policy/revisions/{number}/restore")]
pub async fn restore_policy_revision(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    number: web::Path<i64>,
    body: web::Json<RestoreRequest>,
) -> Result<HttpResponse> {
    require_admin(&state, &principal, &note)?;
    let number = number.into_inner();
    let reason = edits::check_reason(&body.reason).map_err(invalid)?;
    let author = Author {
        subject: principal.subject(),
        reason: format!("restore of revision {number}: {reason}"),
    };
    let revision = state
        .db
        .run(move |conn| {
            let (_, rules) = store::revision(conn, number)?;
            store::replace_all(conn, &rules, &author)
        })
        .await?;
    state.policy.reload(&state.db).await?;
    Ok(HttpResponse::Created().json(revision))
}

/// A question for the policy: may this caller do this action to this dataset or object?
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The caller's subject, as in its tokens' `sub` (without `user:`); omit for an
    /// anonymous caller.
    #[schema(example = "alice")]
    pub subject: Option<String>,
    /// Roles the caller's token carries (assigned roles are added from the rules).
    #[serde(default)]
    #[schema(example = json!(["publisher"]))]
    pub roles: Vec<String>,
    /// Token attributes; `org` makes `publisher` and `reviewer` roles those of that
    /// organisation.
    #[serde(default)]
    #[schema(example = json!({"org": "us-dot-bts"}))]
    pub attributes: HashMap<String, String>,
    /// A dataset slug; give this or `object`.
    #[schema(example = "nyc-flights-2013")]
    pub dataset: Option<String>,
    /// A system object (`policy`, `audit`, `metrics`); give this or `dataset`.
    #[schema(example = json!(null))]
    pub object: Option<String>,
    /// The action asked about: `catalog:read`, `data:query`, `data:export`, … (a 400 lists
    /// them all).
    #[schema(example = "data:export")]
    pub action: String,
}

/// The decision and what made it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// Whether the action is allowed.
    #[schema(example = true)]
    pub allowed: bool,
    /// The deciding rule, when one decided.
    #[schema(example = "p, anonymous, tier:open, data:export, allow")]
    pub rule: Option<String>,
    /// Why, in words: which kind of rule decided, or that none matched.
    #[schema(example = "allowed by rule")]
    pub reason: String,
    /// The caller's identities after following role links.
    #[schema(example = json!(["user:alice", "role:publisher", "role:publisher:us-dot-bts", "registered", "anonymous"]))]
    pub identities: Vec<String>,
    /// The object and the groups it belongs to.
    #[schema(example = json!(["dataset:nyc-flights-2013", "tier:open", "org:us-dot-bts"]))]
    pub objects: Vec<String>,
    /// Every rule that matched, allows and denies alike.
    pub matched: Vec<Rule>,
    /// The revision decided on.
    #[schema(example = 2)]
    pub revision: i64,
    /// The access grant that decided, for a data action on a dataset that
    /// no rule decided: in force (`allowed` true, `rule` is `grant:<id>`) or
    /// lapsed (refused, with renewal advice). Null when no grant figures.
    pub grant: Option<Grant>,
    /// For a dataset: the masks and row filters the caller's reads carry.
    /// Null for system objects.
    pub carries: Option<Carried>,
}

/// Explain a decision: the answer, the deciding rule, and every rule that matched.
#[utoipa::path(
    tag = "policy",
    operation_id = "check_policy",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "The decision and its reasons", body = CheckResult),
        (status = 400, description = "The action is unknown, or neither or both of dataset and object are given"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 404, description = "No such dataset"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/admin/policy/check")]
pub async fn check_policy(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    body: web::Json<CheckRequest>,
) -> Result<web::Json<CheckResult>> {
    require_admin(&state, &principal, &note)?;
    let ask = body.into_inner();
    if !policy::ACTIONS.contains(&ask.action.as_str()) {
        return Err(Error::bad_request(format!(
            "unknown action '{}'; actions are {}",
            ask.action.chars().take(40).collect::<String>(),
            policy::ACTIONS.join(", ")
        )));
    }
    let mut dataset = None;
    let target = match (&ask.dataset, &ask.object) {
        (Some(slug), None) => {
            let slug = DatasetSlug::parse(slug)?;
            let found = state
                .db
                .run(move |conn| catalog::find_dataset(conn, &slug))
                .await?
                .ok_or_else(|| Error::not_found("no dataset with that slug"))?;
            let target = Target::dataset(&found.slug, found.tier.as_str(), &found.organization);
            dataset = Some(found);
            target
        }
        (None, Some(object)) if policy::SYSTEM_OBJECTS.contains(&object.as_str()) => Target {
            object: object.clone(),
            groups: Vec::new(),
        },
        (None, Some(_)) => {
            return Err(Error::bad_request(format!(
                "object must be one of {}; for a dataset give `dataset`",
                policy::SYSTEM_OBJECTS.join(", ")
            )));
        }
        _ => {
            return Err(Error::bad_request(
                "give exactly one of `dataset` (a slug) and `object` (policy, audit, metrics)",
            ));
        }
    };
    let ids = policy::identities_of(
        ask.subject.as_deref(),
        &ask.roles,
        ask.attributes.get("org").map(String::as_str),
    );
    let revision = state.policy.revision();
    let engine = state.policy.current();
    let explained = engine.explain(&ids, &target.object, &target.groups, &ask.action);
    let mut result = CheckResult {
        allowed: explained.decision.allowed,
        rule: explained.decision.rule,
        reason: explained.decision.reason,
        identities: explained.identities,
        objects: explained.objects,
        matched: explained.matched,
        revision,
        grant: None,
        carries: None,
    };
    if let Some(dataset) = dataset {
        let visible = result.allowed
            || engine
                .explain(&ids, &target.object, &target.groups, "catalog:read")
                .decision
                .allowed;
        let grantable = matches!(ask.action.as_str(), "data:query" | "data:export");
        let rule_decided = result.allowed || result.rule.is_some();
        let (effect, carried) = state
            .db
            .run(move |conn| {
                let asker = Asker {
                    subject: ask.subject.as_deref(),
                    ids,
                    org: ask.attributes.get("org").map(String::as_str),
                    attributes: ask.attributes.clone().into_iter().collect(),
                };
                explain(conn, &dataset, &asker, grantable, rule_decided, visible)
            })
            .await?;
        match effect {
            GrantEffect::Active(g) => {
                result.allowed = true;
                result.rule = Some(format!("grant:{}", g.id));
                result.reason = format!("allowed by access grant {} until {}", g.id, g.expires_at);
                result.grant = Some(g);
            }
            GrantEffect::Lapsed(g) => {
                result.rule = Some(format!("grant:{}", g.id));
                result.reason = format!(
                    "refused: the caller's access grant {} has ended; a new access request renews it",
                    g.id
                );
                result.grant = Some(g);
            }
            GrantEffect::None | GrantEffect::NotConsulted => {}
        }
        result.carries = Some(carried);
    }
    Ok(web::Json(result))
}

/// Fills in what each newly allowed data action on a dataset would carry.
fn carries_of_opened(
    conn: &mut crate::db::AnyConnection,
    changes: &mut [DecisionChange],
    identities: &HashMap<String, Vec<String>>,
) -> Result<()> {
    let mut datasets = HashMap::new();
    for change in changes.iter_mut() {
        let opened = change.after && matches!(change.action.as_str(), "data:query" | "data:export");
        let (Some(slug), Some(ids)) = (
            change.object.strip_prefix("dataset:"),
            identities.get(&change.caller),
        ) else {
            continue;
        };
        if !opened {
            continue;
        }
        if !datasets.contains_key(slug) {
            let found = catalog::find_dataset(conn, &DatasetSlug::parse(slug)?)?;
            datasets.insert(slug.to_string(), found);
        }
        let Some(Some(dataset)) = datasets.get(slug) else {
            continue;
        };
        let asker = Asker {
            subject: None,
            ids: ids.clone(),
            org: None,
            attributes: Default::default(),
        };
        let (_, carried) = explain(conn, dataset, &asker, false, true, true)?;
        change.carries = Some(carried);
    }
    Ok(())
}

/// A proposed change, to see its effect before applying it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// Rules that would be added.
    #[serde(default)]
    #[schema(example = json!([{"kind": "allow", "sub": "role:researcher", "obj": "tier:conditional", "act": "data:query"}]))]
    pub add: Vec<Rule>,
    /// Rules that would be removed.
    #[serde(default)]
    #[schema(example = json!([]))]
    pub remove: Vec<Rule>,
    /// Roles (without `role:`) the added rules introduce.
    #[serde(default)]
    #[schema(example = json!(["researcher"]))]
    pub new_roles: Vec<String>,
}

/// Every decision the change would flip.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimulateResult {
    /// The revision compared against.
    #[schema(example = 2)]
    pub revision: i64,
    /// Decisions compared: callers × objects × actions.
    #[schema(example = 1280)]
    pub compared: usize,
    /// The decisions that would flip; empty when none would.
    pub changes: Vec<DecisionChange>,
}

/// Simulate a change: for every dataset, system object, action and known caller (each
/// role, each user the rules name, anonymous, registered), each decision that would change.
#[utoipa::path(
    tag = "policy",
    operation_id = "simulate_policy",
    request_body = SimulateRequest,
    responses(
        (status = 200, description = "The decisions that would change; nothing is applied", body = SimulateResult),
        (status = 400, description = "A rule is malformed or names something unknown"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[post("/v1/admin/policy/simulate")]
pub async fn simulate_policy(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    body: web::Json<SimulateRequest>,
) -> Result<web::Json<SimulateResult>> {
    require_admin(&state, &principal, &note)?;
    let ask = body.into_inner();
    let change = Change {
        add: ask.add,
        remove: ask.remove,
    };
    let new_roles = ask.new_roles;
    let (revision, current, datasets, change) = state
        .db
        .run(move |conn| {
            let known =
                edits::declare_roles(store::known_names(conn)?, &new_roles).map_err(invalid)?;
            edits::check_change(&change, &known).map_err(invalid)?;
            let (revision, current) = store::snapshot(conn)?;
            Ok((revision, current, catalog::policy_targets(conn)?, change))
        })
        .await?;
    let proposed = change.applied_to(&current);
    let before = Engine::build(policy::MODEL, &current)
        .await
        .map_err(invalid)?;
    let after = Engine::build(policy::MODEL, &proposed)
        .await
        .map_err(invalid)?;
    let callers = simulate::callers([current.as_slice(), proposed.as_slice()]);
    let identities: HashMap<String, Vec<String>> = callers
        .iter()
        .map(|c| (c.label.clone(), c.identities.clone()))
        .collect();
    let (mut changes, compared) = web::block(move || {
        let mut targets = simulate::system_targets();
        targets.extend(
            datasets
                .iter()
                .map(|(slug, tier, org)| Target::dataset(slug, tier.as_str(), org)),
        );
        simulate::changes(&before, &after, &callers, &targets)
    })
    .await
    .map_err(|e| Error::internal("simulating the policy change", e.to_string()))?;
    let changes = state
        .db
        .run(move |conn| {
            carries_of_opened(conn, &mut changes, &identities)?;
            Ok(changes)
        })
        .await?;
    Ok(web::Json(SimulateResult {
        revision,
        compared,
        changes,
    }))
}
