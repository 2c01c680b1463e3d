//! Making API answers small enough to hand to the model.
//!
//! OnlyFans objects carry dozens of fields nobody asks about (avatars,
//! permission flags, thumbnails). Sending them would multiply the cost of
//! every answer, so they are dropped, empty values removed, and long lists
//! cut with a note saying how to get the rest.

use serde_json::{Map, Value, json};

/// Characters of JSON a tool result may take (about 2,500 tokens).
const MAX_CHARS: usize = 10_000;

/// Fields that never help answer an agency's question.
const NOISE: [&str; 19] = [
    "avatar",
    "avatarThumbs",
    "header",
    "headerSize",
    "headerThumbs",
    "listsStates",
    "promoOffers",
    "subscriptionBundles",
    "links",
    "view",
    "_view",
    "previews",
    "releaseForms",
    "videoSources",
    "files",
    "subscribes",
    "csrf",
    "wsAuthToken",
    "upload",
];

/// `data` as the model should see it; `has_more` notes that further pages exist.
#[must_use]
pub fn for_model(data: Value, has_more: bool) -> Value {
    let mut value = strip(data).unwrap_or(Value::Null);
    if has_more && let Value::Object(map) = &mut value {
        map.insert(
            "_more".into(),
            json!("more pages exist: repeat with a larger offset (or use export_csv)"),
        );
    }
    let mut length = value.to_string().len();
    while length > MAX_CHARS {
        if !shorten_longest_list(&mut value) {
            break;
        }
        length = value.to_string().len();
    }
    value
}

fn is_permission_flag(key: &str) -> bool {
    key.strip_prefix("can")
        .is_some_and(|rest| rest.starts_with(char::is_uppercase))
}

/// Removes noise and empty values; `None` when nothing is left.
fn strip(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::Array(items) => {
            let items: Vec<Value> = items.into_iter().filter_map(strip).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Value::Object(map) => {
            let map: Map<String, Value> = map
                .into_iter()
                .filter(|(key, _)| !NOISE.contains(&key.as_str()) && !is_permission_flag(key))
                .filter_map(|(key, value)| strip(value).map(|value| (key, value)))
                .collect();
            (!map.is_empty()).then_some(Value::Object(map))
        }
        other => Some(other),
    }
}

/// Halves the longest list in `value` and notes how many items were left
/// out; false when there is no list left to cut.
fn shorten_longest_list(value: &mut Value) -> bool {
    fn longest(value: &mut Value) -> Option<&mut Vec<Value>> {
        let mut best: Option<&mut Vec<Value>> = None;
        match value {
            Value::Array(items) if items.len() > 1 => {
                return Some(items);
            }
            Value::Object(map) => {
                for inner in map.values_mut() {
                    if let Some(found) = longest(inner)
                        && best.as_ref().is_none_or(|b| found.len() > b.len())
                    {
                        best = Some(found);
                    }
                }
            }
            _ => {}
        }
        best
    }
    let Some(items) = longest(value) else {
        return false;
    };
    // A note from an earlier cut carries how many items it already left out.
    let already_omitted = match items.last() {
        Some(last) if last.get("_omitted").is_some() => {
            let omitted = last["_omitted"].as_u64().unwrap_or(0) as usize;
            items.pop();
            omitted
        }
        _ => 0,
    };
    let keep = items.len() / 2;
    let omitted = already_omitted + items.len() - keep;
    items.truncate(keep);
    items.push(json!({
        "_omitted": omitted,
        "_note": format!("{omitted} more items not shown; ask with a smaller limit, a narrower period, or use export_csv"),
    }));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_and_empty_values_are_dropped() {
        let fan = json!({"id": 1, "name": "Alex", "avatar": "https://x", "canChat": true, "about": "", "lastSeen": null,
                         "subscribedOnData": {"totalSumm": 40, "subscribes": [{"id": 1}]}, "isVerified": false});
        assert_eq!(
            for_model(fan, false),
            json!({"id": 1, "name": "Alex", "subscribedOnData": {"totalSumm": 40}, "isVerified": false})
        );
    }

    #[test]
    fn long_lists_are_cut_with_a_note() {
        let items: Vec<Value> = (0..2000)
            .map(|i| json!({"id": i, "name": format!("fan {i}")}))
            .collect();
        let value = for_model(json!({"list": items, "hasMore": true}), true);
        let list = value["list"].as_array().unwrap();
        assert!(value.to_string().len() <= MAX_CHARS);
        assert!(
            list.last().unwrap()["_note"]
                .as_str()
                .unwrap()
                .contains("more items not shown")
        );
        assert_eq!(
            value["_more"],
            "more pages exist: repeat with a larger offset (or use export_csv)"
        );
    }
}
