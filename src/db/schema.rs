//! Diesel's view of the metadata tables, written to be portable across
//! SQLite and PostgreSQL: ids are BigInt, times are RFC 3339 text, lists are
//! JSON text. Dataset row tables are not here: their shape is only known at
//! run time and the `data` room reaches them through the query compiler.

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::table! {
    organizations (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        description -> Text,
        created_at -> Text,
        policy_seeded -> Integer,
    }
}

diesel::table! {
    datasets (id) {
        id -> BigInt,
        slug -> Text,
        title -> Text,
        description -> Text,
        organization_id -> BigInt,
        licence -> Text,
        tier -> Text,
        sensitive_columns -> Text,
        current_version_id -> Nullable<BigInt>,
        search_text -> Text,
        created_at -> Text,
        updated_at -> Text,
    }
}

diesel::table! {
    dataset_tags (dataset_id, tag) {
        dataset_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    dataset_versions (id) {
        id -> BigInt,
        dataset_id -> BigInt,
        number -> Integer,
        table_name -> Text,
        row_count -> BigInt,
        column_schema -> Text,
        indexed -> Text,
        source_name -> Text,
        source_sha256 -> Text,
        source_bytes -> BigInt,
        imported_at -> Text,
        imported_by -> Text,
    }
}

diesel::table! {
    audit_records (id) {
        id -> BigInt,
        chain -> Text,
        seq -> BigInt,
        time -> Text,
        kind -> Text,
        request_id -> Text,
        subject -> Text,
        roles -> Text,
        auth_method -> Text,
        key_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        method -> Text,
        route -> Nullable<Text>,
        path -> Text,
        dataset -> Nullable<Text>,
        action -> Nullable<Text>,
        decision -> Nullable<Text>,
        rule -> Nullable<Text>,
        status -> Integer,
        rows -> Nullable<BigInt>,
        bytes -> Nullable<BigInt>,
        duration_us -> BigInt,
        user_agent -> Nullable<Text>,
        query -> Nullable<Text>,
        complete -> Nullable<Bool>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_checkpoints (id) {
        id -> BigInt,
        chain -> Text,
        seq -> BigInt,
        head_hash -> Text,
        count -> BigInt,
        time -> Text,
        prev_signature -> Text,
        signature -> Text,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        secret_hash -> Text,
        owner -> Text,
        roles -> Text,
        created_at -> Text,
        created_by -> Text,
        expires_at -> Nullable<Text>,
        last_used_at -> Nullable<Text>,
        revoked_at -> Nullable<Text>,
    }
}

diesel::table! {
    policy_rules (id) {
        id -> BigInt,
        ptype -> Text,
        v0 -> Text,
        v1 -> Text,
        v2 -> Text,
        v3 -> Text,
    }
}

diesel::table! {
    policy_revisions (number) {
        number -> BigInt,
        created_at -> Text,
        author -> Text,
        reason -> Text,
        added -> Text,
        removed -> Text,
        rule_count -> BigInt,
    }
}

diesel::table! {
    access_requests (id) {
        id -> Text,
        dataset_id -> BigInt,
        subject -> Text,
        purpose -> Text,
        column_list -> Nullable<Text>,
        duration_days -> Integer,
        status -> Text,
        created_at -> Text,
        decided_at -> Nullable<Text>,
        decided_by -> Nullable<Text>,
        decision_note -> Nullable<Text>,
        grant_id -> Nullable<Text>,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        request_id -> Text,
        dataset_id -> BigInt,
        subject -> Text,
        column_list -> Nullable<Text>,
        row_filter -> Nullable<Text>,
        row_quota -> Nullable<BigInt>,
        created_at -> Text,
        created_by -> Text,
        expires_at -> Text,
        revoked_at -> Nullable<Text>,
        revoked_by -> Nullable<Text>,
        revoke_reason -> Nullable<Text>,
    }
}

diesel::joinable!(access_requests -> datasets (dataset_id));
diesel::joinable!(grants -> datasets (dataset_id));
diesel::table! {
    column_rules (dataset_id, role) {
        dataset_id -> BigInt,
        role -> Text,
        treatments -> Text,
        buckets -> Text,
        row_filter -> Nullable<Text>,
        updated_at -> Text,
        updated_by -> Text,
    }
}

diesel::joinable!(datasets -> organizations (organization_id));
diesel::joinable!(dataset_tags -> datasets (dataset_id));
diesel::joinable!(dataset_versions -> datasets (dataset_id));
diesel::joinable!(column_rules -> datasets (dataset_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    organizations,
    datasets,
    dataset_tags,
    dataset_versions,
    audit_records,
    audit_checkpoints,
    api_keys,
    policy_rules,
    policy_revisions,
    access_requests,
    grants,
    column_rules,
);
