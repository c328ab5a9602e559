//! The filter syntax tree. It is also the typed JSON form clients may send
//! instead of filter text, so its serde shape is public API: changing a
//! tag or field name breaks callers. It holds no column knowledge and must
//! never produce SQL; validation against a dataset lives in `compile`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// A filter condition over the rows of one dataset version.
///
/// Tagged by `op`. Column names are matched exactly (case-sensitive) against
/// the dataset's columns.
//
// `no_recursion` on the three recursive fields: utoipa 6 collects referenced
// schemas by calling `ToSchema::schemas` on every field type, and an
// `Expr` field inside `Expr` would recurse forever (a stack overflow at
// run time, not a compile error). With it the fields are still rendered
// as `$ref: #/components/schemas/Expr`; `Expr` itself is registered by
// whoever names it as a request body, and `Literal` is still collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
#[schema(
    examples(
        json!({"op": "and", "args": [
            {"op": "eq", "column": "carrier", "value": "UA"},
            {"op": "gt", "column": "dep_delay", "value": 30}
        ]}),
        json!({"op": "not", "arg": {"op": "in", "column": "origin", "values": ["JFK", "LGA"]}}),
        json!({"op": "is_null", "column": "tailnum"})
    )
)]
pub enum Expr {
    /// True when every condition in `args` holds.
    And {
        /// The conditions, at least one.
        #[schema(no_recursion, example = json!([
            {"op": "eq", "column": "carrier", "value": "UA"},
            {"op": "gt", "column": "dep_delay", "value": 30}
        ]))]
        args: Vec<Expr>,
    },
    /// True when at least one condition in `args` holds.
    Or {
        /// The conditions, at least one.
        #[schema(no_recursion, example = json!([
            {"op": "eq", "column": "carrier", "value": "UA"},
            {"op": "gt", "column": "dep_delay", "value": 30}
        ]))]
        args: Vec<Expr>,
    },
    /// True when `arg` does not hold.
    Not {
        /// The condition to negate.
        #[schema(no_recursion)]
        arg: Box<Expr>,
    },
    /// `column = value`.
    Eq {
        /// Column name.
        #[schema(example = "carrier")]
        column: String,
        /// Value to compare with.
        value: Literal,
    },
    /// `column != value`. Rows where the column is null do not match.
    Ne {
        /// Column name.
        #[schema(example = "carrier")]
        column: String,
        /// Value to compare with.
        value: Literal,
    },
    /// `column < value`.
    Lt {
        /// Column name.
        #[schema(example = "dep_delay")]
        column: String,
        /// Value to compare with.
        value: Literal,
    },
    /// `column <= value`.
    Le {
        /// Column name.
        #[schema(example = "dep_delay")]
        column: String,
        /// Value to compare with.
        value: Literal,
    },
    /// `column > value`.
    Gt {
        /// Column name.
        #[schema(example = "dep_delay")]
        column: String,
        /// Value to compare with.
        value: Literal,
    },
    /// `column >= value`.
    Ge {
        /// Column name.
        #[schema(example = "time_hour")]
        column: String,
        /// Value to compare with.
        value: Literal,
    },
    /// True when the column equals any of `values`.
    In {
        /// Column name.
        #[schema(example = "origin")]
        column: String,
        /// Candidate values, 1 to 1000 of them.
        #[schema(example = json!(["JFK", "LGA"]))]
        values: Vec<Literal>,
    },
    /// Case-insensitive pattern match on a text column: `%` matches any
    /// run of characters, `_` any single character.
    Like {
        /// Column name; must be a text column.
        #[schema(example = "dest")]
        column: String,
        /// The pattern, e.g. `S%`.
        #[schema(example = "S%")]
        pattern: String,
    },
    /// True when the column has no value.
    IsNull {
        /// Column name.
        #[schema(example = "tailnum")]
        column: String,
    },
    /// True when the column has a value.
    IsNotNull {
        /// Column name.
        #[schema(example = "tailnum")]
        column: String,
    },
}

/// A constant in a filter: a JSON boolean, integer, number or string.
/// Dates and timestamps are strings (`2013-06-01`, `2013-06-01T00:00:00Z`).
/// There is no null literal: use the `is_null` / `is_not_null` operators.
//
// Variant order matters for `untagged`: serde tries them in turn, so a JSON
// integer becomes `Int` and only a number with a fraction or exponent (or
// one beyond i64) falls through to `Real`.
//
// The schema is written by hand (below) because the derive renders an
// untagged enum as `oneOf`, and `oneOf` of `integer` and `number` rejects
// every whole number under strict JSON Schema (it matches both branches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Literal {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number (64-bit signed).
    Int(i64),
    /// A finite number with a fraction or exponent.
    Real(f64),
    /// Text; also how dates and timestamps are written.
    Text(String),
}

impl utoipa::PartialSchema for Literal {
    fn schema() -> RefOr<Schema> {
        let typed = |ty: Type, format: Option<KnownFormat>, doc: &str| {
            ObjectBuilder::new()
                .schema_type(ty)
                .format(format.map(SchemaFormat::KnownFormat))
                .description(Some(doc))
        };
        AnyOfBuilder::new()
            .item(typed(Type::Boolean, None, "`true` or `false`."))
            .item(typed(
                Type::Integer,
                Some(KnownFormat::Int64),
                "A whole number (64-bit signed).",
            ))
            .item(typed(
                Type::Number,
                Some(KnownFormat::Double),
                "A finite number with a fraction or exponent.",
            ))
            .item(typed(
                Type::String,
                None,
                "Text; also how dates (`2013-06-01`) and timestamps \
                 (`2013-06-01T00:00:00Z`) are written.",
            ))
            .description(Some(
                "A constant in a filter: a JSON boolean, integer, number or string. \
                 There is no null literal: use the `is_null` / `is_not_null` operators.",
            ))
            .examples([json!("UA"), json!(30), json!(2.5), json!(true)])
            .into()
    }
}

impl ToSchema for Literal {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("Literal")
    }
}

/// Keywords of the text syntax, matched case-insensitively; a column with
/// one of these names must be written in double quotes.
const KEYWORDS: [&str; 9] = [
    "and", "or", "not", "in", "like", "is", "null", "true", "false",
];

pub(super) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

// Tests fail by panicking; `unwrap` is the plain way to say "this must work".
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn eq(c: &str, v: Literal) -> Expr {
        Expr::Eq {
            column: c.into(),
            value: v,
        }
    }

    #[test]
    fn json_form_is_tagged_by_op() {
        let e: Expr = serde_json::from_str(
            r#"{"op":"and","args":[
                {"op":"eq","column":"carrier","value":"UA"},
                {"op":"not","arg":{"op":"in","column":"origin","values":["JFK", 1, 2.5, true]}},
                {"op":"like","column":"dest","pattern":"S%"},
                {"op":"is_not_null","column":"tailnum"}
            ]}"#,
        )
        .unwrap();
        let expected = Expr::And {
            args: vec![
                eq("carrier", Literal::Text("UA".into())),
                Expr::Not {
                    arg: Box::new(Expr::In {
                        column: "origin".into(),
                        values: vec![
                            Literal::Text("JFK".into()),
                            Literal::Int(1),
                            Literal::Real(2.5),
                            Literal::Bool(true),
                        ],
                    }),
                },
                Expr::Like {
                    column: "dest".into(),
                    pattern: "S%".into(),
                },
                Expr::IsNotNull {
                    column: "tailnum".into(),
                },
            ],
        };
        assert_eq!(e, expected);
        let back: Expr = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn json_null_is_not_a_literal_and_unknown_fields_are_refused() {
        assert!(serde_json::from_str::<Expr>(r#"{"op":"eq","column":"a","value":null}"#).is_err());
        assert!(
            serde_json::from_str::<Expr>(r#"{"op":"is_null","column":"a","value":1}"#).is_err()
        );
        assert!(serde_json::from_str::<Expr>(r#"{"op":"xor","args":[]}"#).is_err());
    }

    #[test]
    fn openapi_schema_builds_and_serializes() {
        let schema: RefOr<Schema> = <Expr as utoipa::PartialSchema>::schema();
        let json = serde_json::to_string(&schema).unwrap();
        assert!(json.contains("#/components/schemas/Expr"), "{json}");
        assert!(json.contains("is_not_null"), "{json}");
        assert!(json.contains("#/components/schemas/Literal"), "{json}");
        let lit = serde_json::to_value(<Literal as utoipa::PartialSchema>::schema()).unwrap();
        assert_eq!(lit["anyOf"].as_array().map(Vec::len), Some(4), "{lit}");
    }

    #[test]
    fn openapi_schema_collection_terminates() {
        // Without `no_recursion` this call overflows the stack.
        let mut schemas = Vec::new();
        <Expr as utoipa::ToSchema>::schemas(&mut schemas);
        let names: Vec<&str> = schemas.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"Literal"), "{names:?}");
        assert_eq!(<Expr as utoipa::ToSchema>::name(), "Expr");
    }
}
