//! Conditional open data: access requests (a named applicant, a stated purpose, the
//! dataset's terms accepted), their review by the owning organisation, and the grants an
//! approval creates. A grant is checked when a request is decided, so it ends at its
//! expiry without any job running. Rows are never deleted: what was asked, decided and
//! revoked stays on record.

pub mod explain;
mod grants;
mod requests;
mod review;
mod scope;

pub use grants::{Grant, GrantCheck, check_grant, find_grant, list_grants, revoke_grant};
pub use requests::{
    AccessRequest, Approval, NewAccessRequest, RequestFilter, RequestStatus, create, find,
    list_requests,
};
pub use review::{approve, reject, withdraw};
pub use scope::check_columns;

/// Longest access a request may ask for or an approval may give, in days.
pub const MAX_DURATION_DAYS: i32 = 366;

fn new_id() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
