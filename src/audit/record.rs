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
    #[schema(example = "main")]
    pub chain: String,
    /// Position in its chain, from 1, without gaps.
    #[schema(example = 6)]
    pub seq: i64,
    /// When the request arrived, RFC 3339 UTC with microseconds.
    #[schema(example = "2026-11-29T06:24:10.346718Z")]
    pub time: String,
    /// `request`, `export_start` or `export_end`.
    #[schema(example = "request")]
    pub kind: String,
    /// The request id (also the `instance` of problem responses).
    #[schema(example = "4a85828a-f03a-d5d5-0871-3fa0dd3c743d")]
    pub request_id: String,
    /// Who called: `anonymous`, `admin`, `user:<sub>`, `key:<id>`.
    #[schema(example = "anonymous")]
    pub subject: String,
    /// Roles the caller held.
    #[schema(example = json!([]))]
    pub roles: Vec<String>,
    /// How the caller authenticated: `anonymous`, `admin_token`, `jwt`, `api_key`; `none` when authentication failed.
    #[schema(example = "anonymous")]
    pub auth_method: String,
    /// Id of the API key used, if any.
    #[schema(example = "f3ccfd85e0d1")]
    pub key_id: Option<String>,
    /// Client address.
    #[schema(example = "127.0.0.1")]
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
    #[schema(example = "nyc-flights-2013")]
    pub dataset: Option<String>,
    /// Policy action decided.
    #[schema(example = "data:query")]
    pub action: Option<String>,
    /// `allow`, `deny` or `hidden`.
    #[schema(example = "allow")]
    pub decision: Option<String>,
    /// The rule that decided.
    #[schema(example = "p, anonymous, tier:open, data:query, allow")]
    pub rule: Option<String>,
    /// HTTP status answered.
    #[schema(example = 200)]
    pub status: i32,
    /// Rows sent.
    #[schema(example = 2)]
    pub rows: Option<i64>,
    /// Body bytes sent.
    #[schema(example = 184)]
    pub bytes: Option<i64>,
    /// Time to answer (or, for an export's completion, to stream), microseconds.
    #[schema(example = 2286)]
    pub duration_us: i64,
    /// User-Agent header.
    #[schema(example = "curl/7.88.1")]
    pub user_agent: Option<String>,
    /// The query asked (select, filter, order), as JSON text.
    #[schema(example = r#"{"select":["carrier","flight"]}"#)]
    pub query: Option<String>,
    /// For `export_end`: whether every row was sent.
    #[schema(example = true)]
    pub complete: Option<bool>,
    /// Hash of the previous record of the chain, hex (64 zeros for the first).
    #[schema(example = "cd3402307b235a96ab617023695af93f9eedf89fbe6e7ac667991c960a6c0be2")]
    pub prev_hash: String,
    /// SHA-256(prev_hash ‖ canonical record), hex.
    #[schema(example = "0a464ea77d2e717264584bcaabe87f04f457ba5c2db030d5385f62a780b80790")]
    pub hash: String,
}
