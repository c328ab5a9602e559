DROP TABLE audit_checkpoints;
DROP TABLE audit_records;
DROP FUNCTION audit_append_only();
