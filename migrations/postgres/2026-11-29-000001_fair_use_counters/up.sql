-- Fair-use counters shared by every instance on this database, so a limit
-- holds however many instances serve (src/fair_use/shared.rs). Times are
-- seconds since the epoch as the gateway's clock gives them: the gateway
-- passes `now` in, so the server's clock never decides.

-- A token bucket per caller. `allowed` is the answer to the latest take,
-- kept so the one upsert that takes can return it; `full_at` is when the
-- bucket is full again, after which its row may be dropped (a missing
-- bucket starts full, so nothing is lost).
CREATE TABLE fair_use_buckets (
    key     TEXT PRIMARY KEY NOT NULL,
    tokens  DOUBLE PRECISION NOT NULL,
    last_at DOUBLE PRECISION NOT NULL,
    full_at DOUBLE PRECISION NOT NULL,
    allowed BOOLEAN NOT NULL
);

-- Rows and bytes of data sent per caller (or grant) and UTC day number.
-- Days before yesterday are deleted now and then.
CREATE TABLE fair_use_days (
    key        TEXT NOT NULL,
    day        BIGINT NOT NULL,
    rows_sent  BIGINT NOT NULL,
    bytes_sent BIGINT NOT NULL,
    PRIMARY KEY (key, day)
);
