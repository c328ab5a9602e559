DROP FUNCTION kf_hash(text);
DROP FUNCTION kf_mask_timestamp(timestamptz);
DROP FUNCTION kf_mask_date(date);
DROP FUNCTION kf_mask_real(double precision, bigint);
DROP FUNCTION kf_mask_int(bigint, bigint);
DROP FUNCTION kf_mask_text(text);
DROP TABLE column_rules;
