//! The catalog against the published endpoint list.

use std::collections::BTreeSet;

use agencybot_ofapi::{Access, Catalog, Location};
use serde_json::{Value, json};

/// Endpoints whose catalog method/path differ from the shared list, and why.
/// (The SDK renames some path placeholders; the comparison ignores names.)
const PATH_EXCEPTIONS: &[(&str, &str)] = &[];

fn shared_list() -> Vec<Value> {
    // A copy of the published list, kept in the repository so a clone
    // anywhere runs this test.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/endpoints.json");
    let text = std::fs::read_to_string(path).expect("tests/data/endpoints.json");
    let all: Vec<Value> = serde_json::from_str(&text).unwrap();
    all.into_iter()
        .filter(|e| e["platform"] == "onlyfans")
        .collect()
}

fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_catalog_holds_every_onlyfans_endpoint_with_matching_method_and_path() {
    let catalog = Catalog::onlyfans();
    let shared = shared_list();
    assert_eq!(shared.len(), 280);
    assert_eq!(catalog.endpoints().len(), 280);
    for expected in &shared {
        let id = expected["id"].as_str().unwrap();
        let endpoint = catalog.get(id).unwrap_or_else(|| panic!("{id} missing"));
        if PATH_EXCEPTIONS.iter().any(|(e, _)| *e == id) {
            continue;
        }
        assert_eq!(
            endpoint.method,
            expected["method"].as_str().unwrap(),
            "{id}"
        );
        assert_eq!(
            shape(&endpoint.path),
            shape(expected["path"].as_str().unwrap()),
            "{id}"
        );
    }
    let ids: BTreeSet<&str> = catalog.endpoints().iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 280, "ids are unique");
}

/// A structural check of the JSON Schema subset the catalog uses, so a
/// broken schema cannot reach the model.
fn check_schema(id: &str, at: &str, schema: &Value) {
    let object = schema
        .as_object()
        .unwrap_or_else(|| panic!("{id} {at}: schema is not an object"));
    if let Some(any_of) = object.get("anyOf") {
        for (index, option) in any_of.as_array().unwrap().iter().enumerate() {
            check_schema(id, &format!("{at}.anyOf[{index}]"), option);
        }
        return;
    }
    // No type accepts anything: used where the SDK gives none.
    let Some(kind) = object.get("type").map(|t| {
        t.as_str()
            .unwrap_or_else(|| panic!("{id} {at}: type is not a string"))
    }) else {
        assert!(
            object.keys().all(|k| k == "description"),
            "{id} {at}: untyped schema with {object:?}"
        );
        return;
    };
    assert!(
        [
            "object", "array", "string", "integer", "number", "boolean", "null"
        ]
        .contains(&kind),
        "{id} {at}: unknown type {kind}"
    );
    if let Some(values) = object.get("enum") {
        assert!(
            !values.as_array().unwrap().is_empty(),
            "{id} {at}: empty enum"
        );
    }
    match kind {
        "object" => {
            let properties = object.get("properties").and_then(Value::as_object);
            if let Some(required) = object.get("required") {
                for name in required.as_array().unwrap() {
                    let name = name.as_str().unwrap();
                    assert!(
                        properties.is_some_and(|p| p.contains_key(name)),
                        "{id} {at}: required `{name}` is not a property"
                    );
                }
            }
            for (name, property) in properties.into_iter().flatten() {
                check_schema(id, &format!("{at}.{name}"), property);
            }
        }
        "array" => check_schema(
            id,
            &format!("{at}[]"),
            object.get("items").unwrap_or(&json!({})),
        ),
        _ => {}
    }
}

#[test]
fn every_endpoint_has_a_valid_schema_and_every_argument_a_location() {
    for endpoint in Catalog::onlyfans().endpoints() {
        let id = &endpoint.id;
        assert_eq!(endpoint.schema["type"], "object", "{id}");
        check_schema(id, "", &endpoint.schema);
        let properties = endpoint.schema["properties"].as_object().unwrap();
        for name in properties.keys() {
            assert!(
                endpoint.locations.contains_key(name),
                "{id}: `{name}` has no location"
            );
            assert!(
                properties[name]["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{id}: `{name}` undescribed"
            );
        }
        let required: Vec<&str> = endpoint.schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for param in endpoint.path_params() {
            assert_eq!(
                endpoint.locations.get(param),
                Some(&Location::Path),
                "{id}: {param}"
            );
            assert!(
                required.contains(&param),
                "{id}: path parameter {param} not required"
            );
        }
        assert!(!endpoint.description.is_empty(), "{id}");
    }
}

#[test]
fn access_classes_are_decided_by_meaning() {
    let catalog = Catalog::onlyfans();
    let find = |method: &str, path: &str| {
        catalog
            .endpoints()
            .iter()
            .find(|e| e.method == method && e.path == path)
            .unwrap_or_else(|| panic!("{method} {path} not in catalog"))
    };
    assert_eq!(find("GET", "/api/{account}/fans/top").access, Access::Read);
    assert_eq!(
        find("POST", "/api/{account}/mass-messaging").access,
        Access::Write
    );
    assert_eq!(
        find("GET", "/api/{account}/statistics/statements/earnings").access,
        Access::Read
    );
    assert_eq!(
        find("POST", "/api/analytics/summary/earnings").access,
        Access::Read
    );
    assert_eq!(
        find("DELETE", "/api/{account}/tracking-links/{tracking_link_id}").access,
        Access::Destructive
    );
    for endpoint in catalog.endpoints() {
        if endpoint.method == "DELETE" {
            assert_eq!(endpoint.access, Access::Destructive, "{}", endpoint.id);
        }
        if endpoint.method == "GET" {
            assert_eq!(endpoint.access, Access::Read, "{}", endpoint.id);
        }
    }
}

#[test]
fn requests_are_built_from_arguments() {
    let endpoint = Catalog::onlyfans()
        .get("tracking-links.create-tracking-link")
        .unwrap();
    let args = json!({"account": "acct 1/x", "name": "TikTok bio", "tags": ["tiktok"]});
    let request = endpoint.request(args.as_object().unwrap()).unwrap();
    assert_eq!(request.method, reqwest::Method::POST);
    assert_eq!(request.path, "/api/acct%201%2Fx/tracking-links");
    assert_eq!(
        request.body,
        Some(json!({"name": "TikTok bio", "tags": ["tiktok"]}))
    );
    assert_eq!(request.access, Access::Write);

    let missing = endpoint
        .request(json!({"name": "x"}).as_object().unwrap())
        .unwrap_err();
    assert_eq!(
        missing.message,
        "`account` is required by tracking-links.create-tracking-link (POST /api/{account}/tracking-links)"
    );
    let unknown = endpoint
        .request(json!({"account": "a", "nmae": "x"}).as_object().unwrap())
        .unwrap_err();
    assert!(
        unknown.message.starts_with(
            "tracking-links.create-tracking-link has no argument `nmae`; its arguments are: "
        ),
        "{}",
        unknown.message
    );

    let fans = Catalog::onlyfans().get("fans.list-all-fans").unwrap();
    let request = fans
        .request(
            json!({"account": "acct_1", "limit": 5, "fresh": true})
                .as_object()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(request.query, vec![("limit".to_owned(), "5".to_owned())]);
    assert!(request.fresh);
}

#[test]
fn request_paths_match_their_endpoint_literal_segments_first() {
    let catalog = Catalog::onlyfans();
    let (endpoint, params) = catalog
        .match_request("GET", "/api/acct_1/fans/top")
        .unwrap();
    assert_eq!(endpoint.id, "fans.list-top-fans");
    assert_eq!(params["account"], "acct_1");
    let (endpoint, params) = catalog
        .match_request("DELETE", "/api/acct_1/tracking-links/77")
        .unwrap();
    assert_eq!(endpoint.id, "tracking-links.delete-tracking-link");
    assert_eq!(params["tracking_link_id"], "77");
    assert!(
        catalog
            .match_request("GET", "/api/acct_1/nothing/here")
            .is_none()
    );
}
