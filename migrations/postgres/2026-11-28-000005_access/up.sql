-- Conditional open data: a named applicant asks for a dataset's data for a
-- stated purpose; a reviewer of the owning organisation approves (a grant,
-- possibly narrowed) or rejects. Rows are never deleted: withdrawn,
-- rejected and revoked entries stay as the record of what happened.
CREATE TABLE access_requests (
    id             TEXT PRIMARY KEY NOT NULL,
    dataset_id     BIGINT NOT NULL REFERENCES datasets (id),
    subject        TEXT NOT NULL,
    purpose        TEXT NOT NULL,
    column_list    TEXT,
    duration_days  INTEGER NOT NULL,
    status         TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    decided_at     TEXT,
    decided_by     TEXT,
    decision_note  TEXT,
    grant_id       TEXT
);
CREATE INDEX access_requests_subject ON access_requests (subject);
CREATE INDEX access_requests_dataset ON access_requests (dataset_id, status);

CREATE TABLE grants (
    id            TEXT PRIMARY KEY NOT NULL,
    request_id    TEXT NOT NULL REFERENCES access_requests (id),
    dataset_id    BIGINT NOT NULL REFERENCES datasets (id),
    subject       TEXT NOT NULL,
    column_list   TEXT,
    row_filter    TEXT,
    row_quota     BIGINT,
    created_at    TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT,
    revoked_by    TEXT,
    revoke_reason TEXT
);
CREATE INDEX grants_subject_dataset ON grants (subject, dataset_id);
CREATE INDEX grants_dataset ON grants (dataset_id);
