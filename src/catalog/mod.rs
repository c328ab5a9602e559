//! The catalog room: organisations, datasets, their versions and tags — the
//! metadata that says what exists, who publishes it, how open it is and
//! which table holds its current rows. It never reads dataset rows.

mod cache;
mod datasets;
mod names;
mod organizations;
mod versions;
mod visibility;

pub use cache::{CatalogCache, CatalogEntry, changes, note_change};
pub use datasets::{
    DatasetDetail, DatasetFilter, DatasetRecord, DatasetSummary, NewDataset, create_dataset,
    find_dataset, list_datasets,
};
pub use names::{DatasetSlug, OrgSlug, Tier};
pub use organizations::{
    Organization, dataset_slugs_of, ensure_organization, list_organizations, organization_slugs,
};
pub use versions::{
    NewVersion, VersionInfo, VersionRecord, current_version, live_tables, record_version,
};
pub use visibility::{Visible, policy_targets, visible_dataset_ids};

/// The current time as RFC 3339 text, the portable form the catalog stores.
pub fn now_text() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
