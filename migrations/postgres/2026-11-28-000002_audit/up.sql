-- The audit log: one hash chain per gateway instance, append-only, with
-- signed checkpoints of each chain head.

CREATE TABLE audit_records (
    id          BIGSERIAL PRIMARY KEY NOT NULL,
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
CREATE INDEX audit_records_time ON audit_records (time);
CREATE INDEX audit_records_dataset ON audit_records (dataset);

CREATE TABLE audit_checkpoints (
    id             BIGSERIAL PRIMARY KEY NOT NULL,
    chain          TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    head_hash      TEXT NOT NULL,
    count          BIGINT NOT NULL,
    time           TEXT NOT NULL,
    prev_signature TEXT NOT NULL,
    signature      TEXT NOT NULL,
    UNIQUE (chain, seq)
);

-- Nothing but an explicit archive may change the log. The archive sets
-- kaifang.audit_archive for its own transaction only (SET LOCAL), so the
-- guard never has to be dropped while other instances write.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_records'
       AND current_setting('kaifang.audit_archive', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit records are append-only; use kaifang audit archive';
    END IF;
    RAISE EXCEPTION 'audit % are append-only', replace(TG_TABLE_NAME, 'audit_', '');
END;
$$;
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
