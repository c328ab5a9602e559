-- On SQLite the audit log moves to a file of its own. PostgreSQL's shared
-- buffers are not dropped by other sessions' commits, so its log stays where
-- it is; this migration keeps the two trees name for name.
SELECT 1;
