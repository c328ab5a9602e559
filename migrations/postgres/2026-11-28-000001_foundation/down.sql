DROP TABLE dataset_versions;
DROP TABLE dataset_tags;
DROP TABLE datasets;
DROP TABLE organizations;
DROP TABLE settings;
