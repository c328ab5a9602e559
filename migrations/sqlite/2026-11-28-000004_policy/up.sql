-- The access rules: the database is their source of truth once the gateway
-- has started; policies/policy.csv only seeds the first revision. One row
-- per Casbin line, in the shape Casbin adapters use (ptype, v0..v3).
CREATE TABLE policy_rules (
    id    INTEGER PRIMARY KEY NOT NULL,
    ptype TEXT NOT NULL,
    v0    TEXT NOT NULL,
    v1    TEXT NOT NULL,
    v2    TEXT NOT NULL DEFAULT '',
    v3    TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX policy_rules_line ON policy_rules (ptype, v0, v1, v2, v3);

-- Every change to the rules, numbered. A revision keeps only what it added
-- and removed (one CSV line each, newline-separated); the rule set at
-- revision n is the replay of revisions 1..n.
CREATE TABLE policy_revisions (
    number     INTEGER PRIMARY KEY NOT NULL,
    created_at TEXT NOT NULL,
    author     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    added      TEXT NOT NULL,
    removed    TEXT NOT NULL,
    rule_count INTEGER NOT NULL
);

-- Whether an organisation's publisher and reviewer rules were added; they
-- are added once, so an administrator's later removal of them sticks.
ALTER TABLE organizations ADD COLUMN policy_seeded INTEGER NOT NULL DEFAULT 0;
