//! What the layers of a request learn for its audit record while they work
//! (the dataset, the action, the decision, rows sent, the query) — shared
//! between the middleware that writes the record and the handler, which may
//! run part of its work on another thread.

use std::sync::{Arc, Mutex};

/// What a streamed answer sent by the time it ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOutcome {
    pub rows: i64,
    pub bytes: i64,
    /// False when the client went away or reading failed before the end.
    pub complete: bool,
}

/// The facts a handler adds to its request's audit record.
#[derive(Debug, Default)]
pub struct NoteData {
    pub subject: Option<String>,
    pub auth_method: Option<String>,
    pub roles: Vec<String>,
    pub dataset: Option<String>,
    pub action: Option<String>,
    pub decision: Option<String>,
    pub rule: Option<String>,
    pub rows: Option<i64>,
    pub bytes: Option<i64>,
    pub query: Option<String>,
    /// Set by an export: resolves with what the stream sent when it ends.
    pub export_done: Option<tokio::sync::oneshot::Receiver<StreamOutcome>>,
}

/// A cheap, thread-safe handle to one request's notes.
#[derive(Debug, Clone, Default)]
pub struct Note(Arc<Mutex<NoteData>>);

impl Note {
    /// Changes the notes; a poisoned lock (a panic elsewhere) still records.
    pub fn update(&self, f: impl FnOnce(&mut NoteData)) {
        let mut guard = match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard);
    }

    /// Takes the notes out, leaving defaults.
    pub fn take(&self) -> NoteData {
        let mut out = NoteData::default();
        self.update(|d| std::mem::swap(d, &mut out));
        out
    }

    pub fn decision(&self, dataset: &str, action: &str, decision: &str, rule: &str) {
        self.update(|d| {
            d.dataset = Some(dataset.to_string());
            d.action = Some(action.to_string());
            d.decision = Some(decision.to_string());
            d.rule = Some(rule.to_string());
        });
    }
}
