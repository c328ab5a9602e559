-- The same tables as on PostgreSQL, where they hold the fair-use counters
-- every instance shares. On SQLite they stay empty: one file is served by
-- one instance, which counts in memory. They exist so both migration
-- trees keep the same names and the same schema.

CREATE TABLE fair_use_buckets (
    key     TEXT PRIMARY KEY NOT NULL,
    tokens  DOUBLE PRECISION NOT NULL,
    last_at DOUBLE PRECISION NOT NULL,
    full_at DOUBLE PRECISION NOT NULL,
    allowed BOOLEAN NOT NULL
);

CREATE TABLE fair_use_days (
    key        TEXT NOT NULL,
    day        BIGINT NOT NULL,
    rows_sent  BIGINT NOT NULL,
    bytes_sent BIGINT NOT NULL,
    PRIMARY KEY (key, day)
);
