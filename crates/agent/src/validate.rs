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

/// Writes the API refuses although their schema allows them: at least one
/// of these arguments must be present and non-empty.
const NEEDS_ONE_OF: [(&str, &[&str], &str); 4] = [
    (
        "mass-messaging.send-mass-message",
        &["userLists", "userIds"],
        "a mass message needs recipients: `userLists` (list ids) or `userIds` (fan ids)",
    ),
    (
        "mass-messaging.send-mass-message",
        &["text"],
        "a mass message needs a `text`",
    ),
    (
        "chat-messages.send-message",
        &["text", "mediaFiles"],
        "a message needs a `text` or `mediaFiles`",
    ),
    (
        "posts.send-post",
        &["text", "mediaFiles"],
        "a post needs a `text` or `mediaFiles`",
    ),
];

/// What the API would refuse in a write's arguments beyond its schema, so
/// a proposal the user approves is one the API takes.
#[must_use]
pub fn write_problems(endpoint: &str, arguments: &serde_json::Map<String, Value>) -> Vec<String> {
    let present = |key: &str| match arguments.get(key) {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.trim().is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(_) => true,
    };
    let mut found: Vec<String> = NEEDS_ONE_OF
        .iter()
        .filter(|(id, keys, _)| *id == endpoint && !keys.iter().any(|key| present(key)))
        .map(|(_, _, problem)| (*problem).to_owned())
        .collect();
    if endpoint == "mass-messaging.send-mass-message"
        && arguments
            .get("price")
            .and_then(Value::as_f64)
            .is_some_and(|price| price > 0.0)
        && !present("mediaFiles")
    {
        found.push("a priced mass message needs `mediaFiles` to unlock".into());
    }
    found
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

    #[test]
    fn a_mass_message_without_recipients_is_refused_before_it_is_proposed() {
        let args = json!({"account": "acct_1", "text": "hi"});
        let problems = write_problems(
            "mass-messaging.send-mass-message",
            args.as_object().unwrap(),
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("recipients"));
        let args = json!({"account": "acct_1", "text": "hi", "userLists": ["1"]});
        assert!(
            write_problems(
                "mass-messaging.send-mass-message",
                args.as_object().unwrap()
            )
            .is_empty()
        );
        let args = json!({"account": "acct_1", "text": "hi", "userLists": [], "userIds": []});
        assert_eq!(
            write_problems(
                "mass-messaging.send-mass-message",
                args.as_object().unwrap()
            )
            .len(),
            1
        );
    }
}
