//! The audit record: one per request (two for a streamed export: its start
//! and its completion). The field order here is the order of the canonical
//! serialization the hash chain is computed over; changing it breaks every
//! existing chain.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditRecord {
    /// Chain (one per gateway instance) this record belongs to.
    #[schema(example = "7f3c9a1e")]
    pub chain: String,
    /// Position in its chain, from 1, without gaps.
    #[schema(example = 1042)]
    pub seq: i64,
    /// When the request arrived, RFC 3339 UTC with microseconds.
    #[schema(example = "2026-11-28T14:03:11.402117Z")]
    pub time: String,
    /// `request`, `export_start` or `export_end`.
    #[schema(example = "request")]
    pub kind: String,
    /// The request id (also the `instance` of problem responses).
    pub request_id: String,
    /// Who called: `anonymous`, `admin`, `user:<sub>`, `key:<id>`.
    #[schema(example = "anonymous")]
    pub subject: String,
    /// Roles the caller held.
    pub roles: Vec<String>,
    /// How the caller authenticated: `anonymous`, `admin_token`, `jwt`, `api_key`; `none` when authentication failed.
    #[schema(example = "anonymous")]
    pub auth_method: String,
    /// Id of the API key used, if any.
    pub key_id: Option<String>,
    /// Client address.
    pub client_addr: Option<String>,
    /// HTTP method.
    #[schema(example = "GET")]
    pub method: String,
    /// Route template that matched, if any.
    #[schema(example = "/v1/datasets/{slug}/rows")]
    pub route: Option<String>,
    /// Request path (without the query string).
    #[schema(example = "/v1/datasets/nyc-flights-2013/rows")]
    pub path: String,
    /// Dataset slug the request concerned.
    pub dataset: Option<String>,
    /// Policy action decided.
    #[schema(example = "data:query")]
    pub action: Option<String>,
    /// `allow`, `deny` or `hidden`.
    pub decision: Option<String>,
    /// The rule that decided.
    pub rule: Option<String>,
    /// HTTP status answered.
    #[schema(example = 200)]
    pub status: i32,
    /// Rows sent.
    pub rows: Option<i64>,
    /// Body bytes sent.
    pub bytes: Option<i64>,
    /// Time to answer (or, for an export's completion, to stream), microseconds.
    pub duration_us: i64,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// The query asked (select, filter, order), as JSON text.
    pub query: Option<String>,
    /// For `export_end`: whether every row was sent.
    pub complete: Option<bool>,
    /// Hash of the previous record of the chain, hex (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256(prev_hash ‖ canonical record), hex.
    pub hash: String,
}
