//! `AGENCYBOT_<SECTION>_<KEY>` environment overrides of scalar keys.

use super::load::invalid;
use super::{ConfigError, ENV_PREFIX, OVERRIDABLE_SECTIONS, Origin};

pub(super) type Override = (String, String, String, toml::Value);

/// `AGENCYBOT_<SECTION>_<KEY>=value` → (variable, section, key, value).
pub(super) fn env_overrides(env: &[(String, String)]) -> Result<Vec<Override>, ConfigError> {
    let mut overrides = Vec::new();
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let rest = rest.to_lowercase();
        // Sections may hold an underscore themselves (`web_search`).
        let Some((section, key)) = OVERRIDABLE_SECTIONS.iter().find_map(|section| {
            rest.strip_prefix(section)
                .and_then(|tail| tail.strip_prefix('_'))
                .filter(|key| !key.is_empty())
                .map(|key| (*section, key))
        }) else {
            continue;
        };
        if key == "prices" {
            return Err(invalid(
                Origin::Environment(var.clone()),
                "prices cannot be set from the environment".into(),
                Some("set [llm.prices] in the config file".into()),
            ));
        }
        overrides.push((var.clone(), section.to_owned(), key.to_owned(), scalar(raw)));
    }
    overrides.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(overrides)
}

/// Numbers and booleans keep their type; anything else is a string.
fn scalar(raw: &str) -> toml::Value {
    if let Ok(number) = raw.parse::<i64>() {
        return toml::Value::Integer(number);
    }
    if let Ok(number) = raw.parse::<f64>()
        && raw.contains('.')
    {
        return toml::Value::Float(number);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}
