//! The engine every request reads, swapped whole when rules change.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::engine::Engine;
use super::error::PolicyError;
use super::rules::Rule;

/// The engine every request reads; a rule change swaps in a whole new one, so a request
/// sees the old rules or the new ones, never a half-loaded mix.
pub struct SharedEngine {
    current: ArcSwap<Engine>,
}

impl SharedEngine {
    pub fn new(engine: Engine) -> SharedEngine {
        SharedEngine {
            current: ArcSwap::from_pointee(engine),
        }
    }

    pub fn current(&self) -> Arc<Engine> {
        self.current.load_full()
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
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
