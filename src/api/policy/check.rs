//! Asking the policy what it would decide, and why: `POST /v1/admin/policy/check`.

use std::collections::HashMap;

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::require_admin;
use crate::access::Grant;
use crate::access::explain::{Asker, GrantEffect, explain};
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, DatasetSlug};
use crate::error::{Error, Result};
use crate::masks::Carried;
use crate::policy::simulate::Target;
use crate::policy::{self, Rule};

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
