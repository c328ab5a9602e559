-- The audit log moves to a file of its own, attached to every connection as
-- schema `audit` (src/db/sqlite.rs: each group commit to the database's file
-- made every reader drop its page cache). Its records and checkpoints move
-- with it, unchanged; a log already in that file is kept.

CREATE TABLE IF NOT EXISTS audit.audit_records (
    id          INTEGER PRIMARY KEY NOT NULL,
    chain       TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    time        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    subject     TEXT NOT NULL,
    roles       TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    key_id      TEXT,
    client_addr TEXT,
    method      TEXT NOT NULL,
    route       TEXT,
    path        TEXT NOT NULL,
    dataset     TEXT,
    action      TEXT,
    decision    TEXT,
    rule        TEXT,
    status      INTEGER NOT NULL,
    rows        BIGINT,
    bytes       BIGINT,
    duration_us BIGINT NOT NULL,
    user_agent  TEXT,
    query       TEXT,
    complete    BOOLEAN,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE TABLE IF NOT EXISTS audit.audit_checkpoints (
    id             INTEGER PRIMARY KEY NOT NULL,
    chain          TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    head_hash      TEXT NOT NULL,
    count          BIGINT NOT NULL,
    time           TEXT NOT NULL,
    prev_signature TEXT NOT NULL,
    signature      TEXT NOT NULL,
    UNIQUE (chain, seq)
);

INSERT INTO audit.audit_records SELECT * FROM main.audit_records;
INSERT INTO audit.audit_checkpoints SELECT * FROM main.audit_checkpoints;
-- Dropping a table fires none of its triggers; they go with it.
DROP TABLE main.audit_records;
DROP TABLE main.audit_checkpoints;

-- Every index is one more page written per commit: only the filters that
-- narrow a large log most get one.
CREATE INDEX IF NOT EXISTS audit.audit_records_time ON audit_records (time);
CREATE INDEX IF NOT EXISTS audit.audit_records_dataset ON audit_records (dataset);

-- Nothing but an explicit archive may change the log: the API has no path
-- to it, and these triggers refuse updates and deletes from anywhere.
CREATE TRIGGER IF NOT EXISTS audit.audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit.audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only; use kaifang audit archive'); END;
CREATE TRIGGER IF NOT EXISTS audit.audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
