//! What reading a dataset's rows needs from the catalog — the dataset, its
//! current version and its column rules — kept in memory, so that a page
//! the result cache holds is answered without three catalog queries.
//!
//! Why it stays right: a dataset row never changes after it is created but
//! for its current version, and a version never changes at all. What does
//! change — a new version switched in, a dataset's column rules replaced —
//! raises a counter in the settings table in the same transaction
//! (`note_change`). Every lookup reads that counter first (one primary-key
//! read, against the three catalog queries it saves) and starts the cache
//! over when it moved, so a change committed through any instance or by
//! `kaifang import` is seen by every request that starts after it, as it was
//! without the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{DatasetRecord, DatasetSlug, VersionRecord, current_version, find_dataset};
use crate::db::{self, AnyConnection};
use crate::error::Result;
use crate::masks::{self, RoleRules};

/// The settings counter every catalog change a reader must see raises.
const CHANGES_KEY: &str = "catalog_changes";
/// Datasets kept at most; the cache starts over when it is full.
const MAX_ENTRIES: usize = 10_000;

/// One dataset as a read of its rows needs it.
#[derive(Debug)]
pub struct CatalogEntry {
    pub dataset: DatasetRecord,
    /// `None` until the dataset's first upload.
    pub version: Option<Arc<VersionRecord>>,
    pub rules: Vec<RoleRules>,
}

/// Records that the catalog changed in a way readers must see. Called in the
/// transaction that makes the change, so the two commit together.
pub fn note_change(conn: &mut AnyConnection) -> Result<()> {
    db::raise_counter(conn, CHANGES_KEY).map(drop)
}

/// How many such changes the database has seen.
pub fn changes(conn: &mut AnyConnection) -> Result<i64> {
    db::counter(conn, CHANGES_KEY)
}

#[derive(Default)]
struct Inner {
    /// Raised each time the cache starts over; an entry read under an older
    /// generation may predate the change and is not kept.
    generation: u64,
    /// The highest change counter a lookup has read.
    followed: i64,
    entries: HashMap<String, Arc<CatalogEntry>>,
}

/// The shared cache of catalog entries, by dataset slug.
#[derive(Default)]
pub struct CatalogCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for CatalogCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogCache").finish_non_exhaustive()
    }
}

impl CatalogCache {
    pub fn new() -> CatalogCache {
        CatalogCache::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map holds no invariant a panic elsewhere could break.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of `slug` as of now, from memory or read from the catalog
    /// (then kept); `None` when no such dataset exists (not kept: it may be
    /// created any moment).
    pub fn entry(
        &self,
        conn: &mut AnyConnection,
        slug: &DatasetSlug,
    ) -> Result<Option<Arc<CatalogEntry>>> {
        let seen = changes(conn)?;
        let generation = {
            let mut inner = self.lock();
            if seen > inner.followed {
                inner.followed = seen;
                inner.generation += 1;
                inner.entries.clear();
            }
            if seen == inner.followed
                && let Some(e) = inner.entries.get(slug.as_str())
            {
                return Ok(Some(Arc::clone(e)));
            }
            inner.generation
        };
        let Some(dataset) = find_dataset(conn, slug)? else {
            return Ok(None);
        };
        let version = current_version(conn, &dataset)?.map(Arc::new);
        let (rules, _) = masks::store::load(conn, dataset.id)?;
        let entry = Arc::new(CatalogEntry {
            dataset,
            version,
            rules,
        });
        let mut inner = self.lock();
        // A lookup that read an older counter than another may have read the
        // catalog before the change that other one saw: it is answered, not kept.
        if inner.generation == generation && inner.followed == seen {
            if inner.entries.len() >= MAX_ENTRIES {
                inner.entries.clear();
            }
            inner
                .entries
                .insert(slug.as_str().to_string(), Arc::clone(&entry));
        }
        Ok(Some(entry))
    }
}
