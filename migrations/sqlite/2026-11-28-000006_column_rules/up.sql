-- Column rules: per dataset and role, how each named column reaches the
-- callers holding that role (show, mask, hash, hide), optional bucket
-- widths of masked numbers, and an optional row filter in the query
-- language. Replaced whole per dataset by PUT …/column-rules.
CREATE TABLE column_rules (
    dataset_id BIGINT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    -- JSON object: column name -> treatment.
    treatments TEXT NOT NULL DEFAULT '{}',
    -- JSON object: column name -> bucket width.
    buckets    TEXT NOT NULL DEFAULT '{}',
    row_filter TEXT,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (dataset_id, role)
);
