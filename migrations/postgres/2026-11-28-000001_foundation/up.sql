-- Foundation: the catalog and the versions behind each dataset (the same
-- tables as migrations/sqlite, in PostgreSQL's types). Dataset rows live in
-- one table per version, made by the importer, not by migrations.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE organizations (
    id          BIGSERIAL PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

CREATE TABLE datasets (
    id                 BIGSERIAL PRIMARY KEY NOT NULL,
    slug               TEXT NOT NULL UNIQUE,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    organization_id    BIGINT NOT NULL REFERENCES organizations (id),
    licence            TEXT NOT NULL DEFAULT '',
    tier               TEXT NOT NULL CHECK (tier IN ('open', 'conditional', 'restricted')),
    sensitive_columns  TEXT NOT NULL DEFAULT '[]',
    current_version_id BIGINT,
    search_text        TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX datasets_organization ON datasets (organization_id);
CREATE INDEX datasets_tier ON datasets (tier);

CREATE TABLE dataset_tags (
    dataset_id BIGINT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    PRIMARY KEY (dataset_id, tag)
);
CREATE INDEX dataset_tags_tag ON dataset_tags (tag);

CREATE TABLE dataset_versions (
    id            BIGSERIAL PRIMARY KEY NOT NULL,
    dataset_id    BIGINT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    table_name    TEXT NOT NULL,
    row_count     BIGINT NOT NULL,
    column_schema TEXT NOT NULL,
    indexed       TEXT NOT NULL DEFAULT '[]',
    source_name   TEXT NOT NULL,
    source_sha256 TEXT NOT NULL,
    source_bytes  BIGINT NOT NULL,
    imported_at   TEXT NOT NULL,
    imported_by   TEXT NOT NULL,
    UNIQUE (dataset_id, number)
);
