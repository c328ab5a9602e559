//! What one caller may see of a version, as the planner enforces it:
//! protected columns (masked, hashed, hidden) and the row filter its rules
//! impose. Every path of the planner — page, count, aggregate, export —
//! goes through these checks, so a masked value can be neither returned
//! raw nor probed by filtering, ordering, grouping or aggregating on it.

use std::collections::BTreeMap;

use crate::data::mask::{MaskKey, Protection, shown_type};
use crate::data::query::Expr;
use crate::data::render::{Field, Source};
use crate::data::sql::SqlBuilder;
use crate::data::types::Column;
use crate::error::{Error, Result};

/// Limits on what one caller sees of a dataset version. The default
/// restricts nothing.
#[derive(Debug, Clone, Default)]
pub struct Restriction {
    /// Columns not shown in full, by name.
    pub protected: BTreeMap<String, Protection>,
    /// Row filters, any of which admits a row. `None`: every row;
    /// `Some(vec![])`: no row at all.
    pub row_filter: Option<Vec<Expr>>,
    /// The key of hashed columns; without it a hashed column is refused.
    pub key: Option<MaskKey>,
}

/// What the caller tried to do with a protected column.
#[derive(Debug, Clone, Copy)]
pub enum Use {
    Filter,
    Order,
    Group,
    Aggregate,
}

impl Use {
    fn gerund(self) -> &'static str {
        match self {
            Use::Filter => "filtering",
            Use::Order => "ordering",
            Use::Group => "grouping",
            Use::Aggregate => "aggregating",
        }
    }
}

impl Restriction {
    pub fn is_empty(&self) -> bool {
        self.protected.is_empty() && self.row_filter.is_none()
    }

    pub fn protection(&self, column: &str) -> Option<Protection> {
        self.protected.get(column).copied()
    }

    /// Refuses `use` of a column the caller does not see in full.
    pub fn check(&self, column: &str, how: Use) -> Result<()> {
        match self.protection(column) {
            None => Ok(()),
            Some(p) => Err(Error::forbidden(format!(
                "column '{}' is {} for you: {} by it could reveal the values it protects; \
                 filter, order, group and aggregate only by columns you see in full",
                column.chars().take(100).collect::<String>(),
                p.verb(),
                how.gerund()
            ))),
        }
    }

    /// The columns the caller may name: all but the hidden ones.
    pub fn visible(&self, columns: &[Column]) -> Vec<Column> {
        columns
            .iter()
            .filter(|c| self.protection(&c.name) != Some(Protection::Hide))
            .cloned()
            .collect()
    }

    /// The result field of `column` as this caller receives it; a hidden
    /// column is refused.
    pub fn field(&self, column: &Column) -> Result<Field> {
        match self.protection(&column.name) {
            None => Ok(Field {
                name: column.name.clone(),
                source: Source::Column(column.name.clone()),
                ty: column.ty,
            }),
            Some(Protection::Hide) => Err(Error::forbidden(format!(
                "column '{}' is hidden from you; select only the columns the dataset's \
                 metadata lists for you",
                column.name
            ))),
            Some(Protection::Hash) if self.key.is_none() => {
                Err(Error::internal("planning a hashed column", "no mask key"))
            }
            Some(p) => Ok(Field {
                name: column.name.clone(),
                source: Source::Masked(column.name.clone(), column.ty, p),
                ty: shown_type(column.ty, p),
            }),
        }
    }

    /// Whether running a plan needs the mask functions installed.
    pub fn needs_functions(&self) -> bool {
        self.protected.values().any(|p| *p != Protection::Hide)
    }

    /// Appends ` AND (<row filter>)` when there is one. The filter names
    /// any column, hidden ones included: it is the rules', not the caller's.
    pub fn push_row_filter(&self, b: &mut SqlBuilder, columns: &[Column]) -> Result<()> {
        let Some(filters) = &self.row_filter else {
            return Ok(());
        };
        b.push(" AND (");
        if filters.is_empty() {
            b.push("1 = 0");
        }
        for (i, f) in filters.iter().enumerate() {
            if i > 0 {
                b.push(" OR ");
            }
            // The cause may name hidden columns: it goes to the log only.
            crate::data::query::write_filter(f, columns, b).map_err(|e| {
                tracing::warn!(error = %e, "a row filter does not fit the current version");
                Error::conflict(
                    "the row filter set for you on this dataset no longer fits its columns; \
                     ask an administrator to update its column rules",
                )
            })?;
        }
        b.push(")");
        Ok(())
    }
}
