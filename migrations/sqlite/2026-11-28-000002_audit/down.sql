DROP TRIGGER audit_checkpoints_no_update;
DROP TRIGGER audit_records_no_delete;
DROP TRIGGER audit_records_no_update;
DROP TABLE audit_checkpoints;
DROP TABLE audit_records;
