//! Dataset routes: catalog, publishing, rows, export.

mod catalog;
mod page;
mod publish;
mod resolve;
mod rows;

pub(crate) use catalog::page_bounds;
pub use catalog::{create_dataset, get_dataset, list_datasets};
pub use publish::publish_dataset_data;
pub(crate) use resolve::authorize;
pub use rows::{export_rows, query_dataset, query_rows};
