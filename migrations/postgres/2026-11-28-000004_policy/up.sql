-- The access rules: the database is their source of truth once the gateway
-- has started; policies/policy.csv only seeds the first revision.
CREATE TABLE policy_rules (
    id    BIGSERIAL PRIMARY KEY NOT NULL,
    ptype TEXT NOT NULL,
    v0    TEXT NOT NULL,
    v1    TEXT NOT NULL,
    v2    TEXT NOT NULL DEFAULT '',
    v3    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX policy_rules_line ON policy_rules (ptype, v0, v1, v2, v3);

-- Every change to the rules, numbered; every instance polls the highest
-- number to know when to reload.
CREATE TABLE policy_revisions (
    number     BIGINT PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    author     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    added      TEXT NOT NULL,
    removed    TEXT NOT NULL,
    rule_count BIGINT NOT NULL
);

ALTER TABLE organizations ADD COLUMN policy_seeded INTEGER NOT NULL DEFAULT 0;
