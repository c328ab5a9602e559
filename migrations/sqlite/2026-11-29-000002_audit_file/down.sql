-- The audit log back inside the database file. The attached file keeps its
-- copy: nothing may delete audit records but an archive.

CREATE TABLE main.audit_records (
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
CREATE TABLE main.audit_checkpoints (
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

INSERT INTO main.audit_records SELECT * FROM audit.audit_records;
INSERT INTO main.audit_checkpoints SELECT * FROM audit.audit_checkpoints;
CREATE INDEX main.audit_records_time ON audit_records (time);
CREATE INDEX main.audit_records_dataset ON audit_records (dataset);
CREATE TRIGGER main.audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER main.audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only; use kaifang audit archive'); END;
CREATE TRIGGER main.audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
