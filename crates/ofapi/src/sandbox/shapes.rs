//! Response shapes of the simulated endpoints, taken from the official SDK's
//! response models by `catalog/generate_shapes.py`.
//!
//! The handlers produce the values they know (ids, names, amounts…); the
//! template adds every other field the SDK declares, as `null`, and makes
//! each value the type the SDK expects there. That is how the sandbox's
//! answers stay complete for a client we did not write.
//!
//! Template format: an object lists every field; a one-element array means
//! "list of that"; a leaf is the name of a JSON type (`string`, `integer`,
//! `number`, `boolean`) or `any`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
struct ShapeFile {
    endpoints: BTreeMap<String, Shape>,
}

#[derive(Deserialize)]
struct Shape {
    /// The template covers the whole body, not the envelope's `data`.
    #[serde(default)]
    whole_response: bool,
    data: Value,
}

const SHAPES: &str = include_str!("../../catalog/sandbox_shapes.json");

fn shapes() -> &'static BTreeMap<String, Shape> {
    static SHAPES_BY_ID: OnceLock<BTreeMap<String, Shape>> = OnceLock::new();
    SHAPES_BY_ID.get_or_init(|| {
        let file: ShapeFile =
            serde_json::from_str(SHAPES).expect("the committed sandbox shapes are valid JSON");
        file.endpoints
    })
}

/// Whether the endpoint answers without the `data` envelope (`GET /api/accounts`).
pub(crate) fn is_whole_response(endpoint: &str) -> bool {
    shapes().get(endpoint).is_some_and(|s| s.whole_response)
}

/// Completes `value` to the endpoint's shape. Values of a type the SDK does
/// not declare there are replaced by `null` and reported in `mismatches`
/// (the sandbox's own tests assert there are none).
pub(crate) fn complete(endpoint: &str, value: Value, mismatches: &mut Vec<String>) -> Value {
    match shapes().get(endpoint) {
        Some(shape) => fill(&shape.data, Some(value), endpoint, mismatches),
        None => value,
    }
}

fn fill(template: &Value, value: Option<Value>, at: &str, mismatches: &mut Vec<String>) -> Value {
    let mut mismatch = |value: &Value| {
        mismatches.push(format!("{at}: {value} does not fit {template}"));
        Value::Null
    };
    match (template, value) {
        (_, Some(Value::Null)) => Value::Null,
        (Value::Object(fields), value) => {
            let mut given = match value {
                Some(Value::Object(map)) => map,
                Some(other) => return mismatch(&other),
                None => Map::new(),
            };
            let mut out = Map::new();
            for (key, field) in fields {
                let path = format!("{at}.{key}");
                out.insert(
                    key.clone(),
                    fill(field, given.remove(key), &path, mismatches),
                );
            }
            // Extra fields are kept: the SDK ignores them, people may not.
            out.extend(given);
            Value::Object(out)
        }
        (Value::Array(item), Some(Value::Array(values))) => {
            let item = item.first().cloned().unwrap_or(Value::Null);
            Value::Array(
                values
                    .into_iter()
                    .enumerate()
                    .map(|(index, v)| fill(&item, Some(v), &format!("{at}[{index}]"), mismatches))
                    .collect(),
            )
        }
        (Value::Array(_), Some(other)) => mismatch(&other),
        (Value::Array(_), None) => Value::Array(Vec::new()),
        (_, None) => Value::Null,
        (Value::String(kind), Some(value)) => match (kind.as_str(), value) {
            ("any", value) => value,
            ("string", Value::String(s)) => Value::String(s),
            // The SDK declares some counts as strings; the API sends them so.
            ("string", Value::Number(n)) => Value::String(n.to_string()),
            ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n),
            // Whole units where the SDK declares an integer (OnlyFans sums).
            ("integer", Value::Number(n)) => n
                .as_f64()
                .map_or(Value::Null, |f| Value::from(f.round() as i64)),
            ("number", Value::Number(n)) => Value::Number(n),
            ("boolean", Value::Bool(b)) => Value::Bool(b),
            (_, other) => mismatch(&other),
        },
        // `null` in a template: the SDK gives no type; anything goes.
        (_, Some(value)) => value,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_are_completed_and_typed_as_the_template_says() {
        let template = json!({
            "id": "integer", "name": "string", "clicks": "string", "total": "integer",
            "tags": ["string"], "user": {"id": "integer", "avatar": "string"}, "rows": [{"n": "integer"}],
            "extra": "any"
        });
        let mut mismatches = Vec::new();
        let filled = fill(
            &template,
            Some(
                json!({"id": 7, "clicks": 12, "total": 19.6, "rows": [{"n": 1}], "user": null, "x": true}),
            ),
            "t",
            &mut mismatches,
        );
        assert_eq!(
            filled,
            json!({"id": 7, "name": null, "clicks": "12", "total": 20, "tags": [],
                   "user": null, "rows": [{"n": 1}], "extra": null, "x": true})
        );
        assert!(mismatches.is_empty());
    }

    #[test]
    fn wrong_types_become_null_and_are_reported() {
        let mut mismatches = Vec::new();
        let filled = fill(
            &json!({"data": "string"}),
            Some(json!({"data": {"a": 1}})),
            "t",
            &mut mismatches,
        );
        assert_eq!(filled, json!({"data": null}));
        assert_eq!(mismatches, [r#"t.data: {"a":1} does not fit "string""#]);
    }
}
