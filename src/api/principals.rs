//! Role assignments kept in the policy: `g, user:<subject>, role:<name>` links, read and
//! replaced per subject. A caller holds these roles on top of those its token carries.

use actix_web::{get, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::policy::{commit, require_admin};
use crate::api::state::AppState;
use crate::audit::Note;
use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::policy::Rule;
use crate::policy::store::{self, Change};

/// The roles the policy assigns to a subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleAssignment {
    /// The subject asked about, as in the path.
    #[schema(example = "alice")]
    pub subject: String,
    /// Role names without `role:`.
    #[schema(example = json!(["auditor"]))]
    pub roles: Vec<String>,
    /// The policy revision this is read from.
    #[schema(example = 5)]
    pub revision: i64,
}

/// The complete new set of assigned roles.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoles {
    /// Role names without `role:`, e.g. `auditor` or `publisher:us-dot-bts`; empty
    /// removes every assignment.
    #[schema(example = json!(["auditor"]))]
    pub roles: Vec<String>,
    /// Why, 1 to 500 characters; kept with the policy revision the change makes.
    #[schema(
        example = "alice joins the audit team",
        min_length = 1,
        max_length = 500
    )]
    pub reason: String,
}

fn member_of(subject: &str) -> Result<String> {
    let member = format!("user:{subject}");
    crate::policy::Rule::Role {
        member: member.clone(),
        role: "role:admin".to_owned(),
    }
    .check_syntax()
    .map_err(|e| Error::bad_request(e.to_string().replace("invalid member", "invalid subject")))?;
    Ok(member)
}

/// Read the roles the policy assigns to a subject.
#[utoipa::path(
    tag = "policy",
    operation_id = "get_principal_roles",
    params(("subject" = String, Path, description = "The subject, as in its tokens' `sub`", example = "alice")),
    responses(
        (status = 200, description = "The assigned roles (empty when none)", body = RoleAssignment),
        (status = 400, description = "The subject is malformed"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[get("/v1/admin/principals/{subject}/roles")]
pub async fn get_principal_roles(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    subject: web::Path<String>,
) -> Result<web::Json<RoleAssignment>> {
    require_admin(&state, &principal, &note)?;
    let subject = subject.into_inner();
    member_of(&subject)?;
    let who = subject.clone();
    let (revision, roles) = state
        .db
        .run(move |conn| {
            let revision = store::current_revision(conn)?.unwrap_or(0);
            Ok((revision, store::roles_of(conn, &who)?))
        })
        .await?;
    Ok(web::Json(RoleAssignment {
        subject,
        roles,
        revision,
    }))
}

/// Replace the roles the policy assigns to a subject, as one revision.
#[utoipa::path(
    tag = "policy",
    operation_id = "set_principal_roles",
    params(("subject" = String, Path, description = "The subject, as in its tokens' `sub`", example = "alice")),
    request_body = SetRoles,
    responses(
        (status = 200, description = "The roles now assigned; in force from the next request", body = RoleAssignment),
        (status = 400, description = "A role is unknown (the error names it and the closest known roles) or the reason is missing"),
        (status = 401, description = "No or invalid credentials"),
        (status = 403, description = "The caller may not administer the policy"),
        (status = 409, description = "The roles are already exactly these; nothing was changed"),
        (status = 413, description = "The body is too large"),
        (status = 415, description = "The body is not JSON"),
    ),
    security(("bearer" = []), ("api_key" = []))
)]
#[put("/v1/admin/principals/{subject}/roles")]
pub async fn set_principal_roles(
    state: web::Data<AppState>,
    principal: Principal,
    note: Note,
    subject: web::Path<String>,
    body: web::Json<SetRoles>,
) -> Result<web::Json<RoleAssignment>> {
    require_admin(&state, &principal, &note)?;
    let subject = subject.into_inner();
    let member = member_of(&subject)?;
    let SetRoles { roles, reason } = body.into_inner();
    let who = subject.clone();
    let current = state
        .db
        .run(move |conn| store::roles_of(conn, &who))
        .await?;
    let link = |role: &String| Rule::Role {
        member: member.clone(),
        role: format!("role:{role}"),
    };
    let wanted: Vec<Rule> = roles.iter().map(link).collect();
    let held: Vec<Rule> = current.iter().map(link).collect();
    let change = Change::between(&held, &wanted);
    if change.is_empty() {
        return Err(Error::conflict(format!(
            "'{subject}' already holds exactly these roles; nothing was changed"
        )));
    }
    let revision = commit(&state, &principal, change, &reason, Vec::new()).await?;
    let who = subject.clone();
    let roles = state
        .db
        .run(move |conn| store::roles_of(conn, &who))
        .await?;
    Ok(web::Json(RoleAssignment {
        subject,
        roles,
        revision: revision.number,
    }))
}
