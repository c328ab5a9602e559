//! Which columns get an index: the counting of distinct values during the
//! scan and the rule applied to the counts. Must never keep the values
//! themselves; it holds at most 1,001 64-bit hashes per column.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use crate::data::types::ColumnType;

/// More distinct values than this and an equality filter on the column is
/// selective enough without an index to help much, while the index costs
/// space and insert time.
pub(crate) const MAX_DISTINCT: usize = 1000;

/// Distinct non-empty values of one column, counted up to `MAX_DISTINCT + 1`.
#[derive(Debug, Default)]
pub(crate) struct Distinct {
    /// Hashes of the values seen; `None` once past the limit, which frees
    /// the set. A 64-bit hash collision among 1,001 values is negligible
    /// and would only shift the count by one.
    hashes: Option<HashSet<u64>>,
    over_limit: bool,
    /// Booleans are compared as values (`TRUE` = `true`), not as text.
    saw_true: bool,
    saw_false: bool,
}

impl Distinct {
    pub(crate) fn observe(&mut self, value: &str) {
        if value.is_empty() || self.over_limit {
            return;
        }
        if value.eq_ignore_ascii_case("true") {
            self.saw_true = true;
        } else if value.eq_ignore_ascii_case("false") {
            self.saw_false = true;
        }
        // DefaultHasher::new() has fixed keys, so counts are reproducible.
        let mut h = DefaultHasher::new();
        value.hash(&mut h);
        let set = self.hashes.get_or_insert_with(HashSet::new);
        set.insert(h.finish());
        if set.len() > MAX_DISTINCT {
            self.hashes = None;
            self.over_limit = true;
        }
    }

    /// Distinct values of the column read as `ty`, or `None` past the limit.
    fn count(&self, ty: ColumnType) -> Option<usize> {
        if ty == ColumnType::Boolean {
            return Some(usize::from(self.saw_true) + usize::from(self.saw_false));
        }
        if self.over_limit {
            return None;
        }
        Some(self.hashes.as_ref().map_or(0, HashSet::len))
    }
}

/// Dates and timestamps are what range filters and time series hit, so
/// they are always indexed. Text and boolean columns are indexed when they
/// look like categories: 2 to 1,000 distinct values (one value gains
/// nothing from an index). Integer and real columns are mostly counts and
/// measurements (delays, distances, populations); an index on each would
/// double an import's time for filters that are rarely that selective.
pub(crate) fn wants_index(ty: ColumnType, distinct: &Distinct) -> bool {
    match ty {
        ColumnType::Date | ColumnType::Timestamp => true,
        ColumnType::Real | ColumnType::Integer => false,
        ColumnType::Text | ColumnType::Boolean => {
            matches!(distinct.count(ty), Some(2..=MAX_DISTINCT))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distinct(values: impl IntoIterator<Item = String>) -> Distinct {
        let mut d = Distinct::default();
        for v in values {
            d.observe(&v);
        }
        d
    }

    #[test]
    fn categories_between_two_and_a_thousand_values_are_indexed() {
        let d = distinct(["EWR", "JFK", "", "LGA", "JFK"].map(String::from));
        assert_eq!(d.count(ColumnType::Text), Some(3));
        assert!(wants_index(ColumnType::Text, &d));
        assert!(!wants_index(
            ColumnType::Integer,
            &distinct((0..1000).map(|i| i.to_string()))
        ));
    }

    #[test]
    fn single_valued_empty_and_high_cardinality_columns_are_not() {
        assert!(!wants_index(
            ColumnType::Integer,
            &distinct(["2013".into(), "2013".into()])
        ));
        assert!(!wants_index(ColumnType::Text, &distinct(["".into()])));
        let many = distinct((0..5000).map(|i| i.to_string()));
        assert_eq!(many.count(ColumnType::Integer), None);
        assert!(many.hashes.is_none(), "the set is freed past the limit");
        assert!(!wants_index(ColumnType::Integer, &many));
    }

    #[test]
    fn booleans_count_values_not_spellings() {
        let one = distinct(["true", "TRUE", "True"].map(String::from));
        assert!(!wants_index(ColumnType::Boolean, &one));
        assert!(wants_index(
            ColumnType::Boolean,
            &distinct(["true".into(), "False".into()])
        ));
    }

    #[test]
    fn dates_and_timestamps_always_reals_never() {
        let one = distinct(["2013-01-01".into()]);
        assert!(wants_index(ColumnType::Date, &one));
        assert!(wants_index(ColumnType::Timestamp, &one));
        assert!(!wants_index(
            ColumnType::Real,
            &distinct(["1.5".into(), "2.5".into()])
        ));
    }
}
