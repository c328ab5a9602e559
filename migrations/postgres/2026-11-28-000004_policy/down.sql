ALTER TABLE organizations DROP COLUMN policy_seeded;
DROP TABLE policy_revisions;
DROP TABLE policy_rules;
