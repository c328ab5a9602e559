//! The engine every request reads, swapped whole when rules change.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;

use super::adapter::DbAdapter;
use super::engine::Engine;
use super::error::PolicyError;
use super::rules::Rule;
use super::store::{self, Author};
use crate::db::Db;
use crate::error::{Error, Result};

/// The engine every request reads; a rule change swaps in a whole new one, so a request
/// sees the old rules or the new ones, never a half-loaded mix.
pub struct SharedEngine {
    current: ArcSwap<Engine>,
    /// The stored policy revision `current` was built from (0: not from the database).
    revision: AtomicI64,
    /// Serialises reloads, so a slow reload of an older revision cannot swap in after a
    /// newer one.
    reloading: tokio::sync::Mutex<()>,
}

impl SharedEngine {
    pub fn new(engine: Engine) -> SharedEngine {
        SharedEngine {
            current: ArcSwap::from_pointee(engine),
            revision: AtomicI64::new(0),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// An engine over the rules stored in `db`.
    pub async fn load(db: &Db) -> Result<SharedEngine> {
        let (revision, engine) = load_engine(db).await?;
        let shared = SharedEngine::new(engine);
        shared.revision.store(revision, Ordering::SeqCst);
        Ok(shared)
    }

    pub fn current(&self) -> Arc<Engine> {
        self.current.load_full()
    }

    /// The stored policy revision the current engine was built from.
    pub fn revision(&self) -> i64 {
        self.revision.load(Ordering::SeqCst)
    }

    /// Returns the engine it replaced.
    pub fn swap(&self, new: Engine) -> Arc<Engine> {
        self.current.swap(Arc::new(new))
    }

    /// Builds from scratch and swaps only on success, so a bad rule set keeps the old engine.
    pub async fn rebuild(&self, model_text: &str, rules: &[Rule]) -> Result<(), PolicyError> {
        let engine = Engine::build(model_text, rules).await?;
        self.swap(engine);
        Ok(())
    }

    /// Rebuilds from the rules stored in `db` when they are newer than the current engine;
    /// returns the revision now in force. On failure the old engine stays.
    pub async fn reload(&self, db: &Db) -> Result<i64> {
        let _one_at_a_time = self.reloading.lock().await;
        let stored = db.run(store::current_revision).await?.unwrap_or(0);
        if stored == self.revision() {
            return Ok(stored);
        }
        let (revision, engine) = load_engine(db).await?;
        self.swap(engine);
        self.revision.store(revision, Ordering::SeqCst);
        Ok(revision)
    }
}

async fn load_engine(db: &Db) -> Result<(i64, Engine)> {
    let adapter = DbAdapter::new(db.clone(), Author::system("loaded by the gateway"));
    let loaded = adapter.loaded_revision();
    let engine = Engine::load(super::MODEL, adapter)
        .await
        .map_err(|e| Error::internal("building the policy engine", e.to_string()))?;
    Ok((loaded.load(Ordering::SeqCst), engine))
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
