//! Integration tests: each drives a real gateway over HTTP, on its own
//! SQLite file or PostgreSQL database, through the harness in `helpers`.

// Test code may stop at the first surprise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod audit;
mod catalog;
mod catalog_cache;
mod config;
mod copy;
mod durability;
mod errors;
mod export;
mod fair_use;
mod hardening;
mod helpers;
mod identity;
mod instances;
mod masks;
mod operations;
mod outage;
mod policy;
mod policy_admin;
mod publishing;
mod query;
mod result_cache;
mod spec;
