DROP TABLE fair_use_days;
DROP TABLE fair_use_buckets;
