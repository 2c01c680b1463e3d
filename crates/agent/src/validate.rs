//! Checking tool arguments against an endpoint's JSON Schema.
//!
//! The catalog uses a small part of JSON Schema (type, properties, required,
//! additionalProperties, items, enum, anyOf), so this checks exactly that
//! and reports every problem with its path, in words a model can act on.

use serde_json::Value;

/// Every way `value` breaks `schema`; empty when it fits.
#[must_use]
pub fn problems(schema: &Value, value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    check(schema, value, "", &mut found);
    found
}

fn name(path: &str) -> String {
    if path.is_empty() {
        "the arguments".into()
    } else {
        format!("`{path}`")
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.as_i64().is_some() || value.as_u64().is_some(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn check(schema: &Value, value: &Value, path: &str, found: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(options) = schema.get("anyOf").and_then(Value::as_array) {
        if !options
            .iter()
            .any(|option| problems(option, value).is_empty())
        {
            found.push(format!("{} does not match any allowed form", name(path)));
        }
        return;
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str)
        && !type_matches(kind, value)
    {
        let article = if kind.starts_with(['a', 'e', 'i', 'o']) {
            "an"
        } else {
            "a"
        };
        found.push(format!(
            "{} must be {article} {kind}, not {value}",
            name(path)
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let choices: Vec<String> = allowed.iter().map(Value::to_string).collect();
        found.push(format!(
            "{} must be one of {}",
            name(path),
            choices.join(", ")
        ));
    }
    if let (Some(object), Some(properties)) = (
        value.as_object(),
        schema.get("properties").and_then(Value::as_object),
    ) {
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(key) = required.as_str()
                && object.get(key).is_none_or(Value::is_null)
            {
                found.push(format!("`{}` is required", join(path, key)));
            }
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (key, item) in object {
            match properties.get(key) {
                Some(_) if item.is_null() => {}
                Some(property) => check(property, item, &join(path, key), found),
                None if closed => {
                    let known: Vec<&str> = properties.keys().map(String::as_str).collect();
                    found.push(format!(
                        "`{}` is not an argument here; allowed: {}",
                        join(path, key),
                        known.join(", ")
                    ));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (index, item) in values.iter().enumerate() {
            check(items, item, &format!("{path}[{index}]"), found);
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check_problems(value: Value, expected: &[&str]) {
        let schema = json!({
            "type": "object",
            "properties": {
                "account": {"type": "string"},
                "limit": {"type": "integer"},
                "sort": {"type": "string", "enum": ["asc", "desc"]},
                "ids": {"type": "array", "items": {"type": "string"}},
                "filter": {"type": "object", "properties": {"tips": {"type": "integer"}}},
            },
            "required": ["account"],
            "additionalProperties": false
        });
        assert_eq!(problems(&schema, &value), expected);
    }

    #[test]
    fn valid_arguments_pass() {
        check_problems(
            json!({"account": "acct_1", "limit": 5, "sort": "asc", "ids": ["1"], "filter": {"tips": 3}}),
            &[],
        );
        check_problems(json!({"account": "acct_1", "limit": null}), &[]);
    }

    #[test]
    fn each_problem_is_named_with_its_path() {
        check_problems(
            json!({"limit": "ten", "sort": "up", "ids": [1], "extra": true, "filter": {"tips": 1.5}}),
            &[
                "`account` is required",
                "`extra` is not an argument here; allowed: account, filter, ids, limit, sort",
                "`filter.tips` must be an integer, not 1.5",
                "`ids[0]` must be a string, not 1",
                "`limit` must be an integer, not \"ten\"",
                "`sort` must be one of \"asc\", \"desc\"",
            ],
        );
        check_problems(json!([1]), &["the arguments must be an object, not [1]"]);
    }
}
