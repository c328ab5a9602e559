//! Kaifang (开放, "open") is a public data sharing gateway: government bodies
//! publish open datasets into it, and citizens, researchers and programs read
//! them through one REST API. The crate is organised in rooms, each with one
//! job; `api` sits on top, `db` and `error` at the bottom, and no room imports
//! one above it (see ARCHITECTURE.md).

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod data;
pub mod db;
pub mod demo;
pub mod error;
pub mod fair_use;
pub mod logging;
pub mod masks;
pub mod metrics;
pub mod policy;
pub mod startup;
