-- Column rules: per dataset and role, how each named column reaches the
-- callers holding that role (show, mask, hash, hide), optional bucket
-- widths of masked numbers, and an optional row filter in the query
-- language. Replaced whole per dataset by PUT …/column-rules.
CREATE TABLE column_rules (
    dataset_id BIGINT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    -- JSON object: column name -> treatment.
    treatments TEXT NOT NULL DEFAULT '{}',
    -- JSON object: column name -> bucket width.
    buckets    TEXT NOT NULL DEFAULT '{}',
    row_filter TEXT,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    PRIMARY KEY (dataset_id, role)
);

-- The mask functions: in SQLite they are Rust functions registered on each
-- connection; here they are SQL functions, so masked values are computed
-- inside the server and the raw value never leaves it. They must agree
-- with src/data/mask.rs (mask_text, mask_int, mask_real, mask_date,
-- mask_timestamp, hash_text).
CREATE FUNCTION kf_mask_text(x text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN x IS NULL THEN NULL
        WHEN char_length(x) <= 3 THEN repeat('*', char_length(x))
        ELSE left(x, 1) || repeat('*', char_length(x) - 2) || right(x, 1)
    END
$$;

-- Rounded down to a multiple of the bucket width (the given one when
-- positive, else 10^(digits - 1), at least 10); null when out of range.
CREATE FUNCTION kf_mask_int(x bigint, bucket bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN r BETWEEN -9223372036854775808 AND 9223372036854775807
                THEN r::bigint END
    FROM (SELECT floor(x::numeric / w) * w AS r
          FROM (SELECT CASE WHEN bucket > 0 THEN bucket::numeric
                            ELSE 10::numeric ^ (greatest(length(ltrim(x::text, '-')), 2) - 1)
                       END AS w) AS width) AS rounded
$$;

-- Like kf_mask_int on the integer part's digits; the width is parsed from
-- '1e<exp>' as the Rust side does, so both give the same float.
CREATE FUNCTION kf_mask_real(x double precision, bucket bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN x IS NULL OR x = 'NaN'::float8 OR x IN ('Infinity'::float8, '-Infinity'::float8)
            THEN NULL
        ELSE floor(x / w) * w + 0.0::float8
    END
    FROM (SELECT CASE
        WHEN bucket > 0 THEN bucket::float8
        WHEN x IS NULL OR x = 'NaN'::float8 OR abs(x) = 'Infinity'::float8 THEN 10::float8
        WHEN abs(x) < 10 THEN 10::float8
        ELSE ('1e' || floor(log(abs(x)))::int)::float8
    END AS w) AS width
$$;

CREATE FUNCTION kf_mask_date(x date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', x)::date
$$;

CREATE FUNCTION kf_mask_timestamp(x timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('month', x AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

-- HMAC-SHA256 with the deployment's mask key, first 32 hex characters.
-- The gateway stores the key's inner and outer pads (hex) in settings at
-- start, so this needs no extension (pgcrypto) and no key in the SQL text.
CREATE FUNCTION kf_hash(x text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT left(encode(sha256(o.p || sha256(i.p || convert_to(x, 'UTF8'))), 'hex'), 32)
    FROM (SELECT decode(value, 'hex') AS p FROM settings WHERE key = 'mask_hash_ipad') AS i,
         (SELECT decode(value, 'hex') AS p FROM settings WHERE key = 'mask_hash_opad') AS o
    WHERE x IS NOT NULL
$$;
