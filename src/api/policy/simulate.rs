//! What a proposed rule change would change: `POST /v1/admin/policy/simulate`.

use std::collections::HashMap;

use actix_web::{post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid, require_admin};
use crate::access::explain::{Asker, explain};
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::catalog::{self, DatasetSlug};
use crate::error::{Error, Result};
use crate::policy::simulate::{self, DecisionChange, Target};
use crate::policy::store::{self, Change};
use crate::policy::{self, Engine, Rule, edits};

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
