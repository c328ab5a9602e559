-- API keys for programs: the secret is shown once at creation and stored
-- only as its SHA-256; revoking keeps the row so the audit log's key ids
-- keep meaning something.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    secret_hash  TEXT NOT NULL,
    owner        TEXT NOT NULL,
    roles        TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_keys_owner ON api_keys (owner);
