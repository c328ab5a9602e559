DROP TABLE column_rules;
