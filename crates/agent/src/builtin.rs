//! Internal tools every team has: CSV export, the choice of a
//! conversation's model, and the periods usage questions are asked in.

use std::collections::BTreeMap;
use std::sync::Arc;

use agencybot_core::Attachment;
use agencybot_ofapi::{Access, Catalog};
use chrono::Duration;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use crate::model::Models;
use crate::tools::{InternalTool, ToolContext, ToolOutput};

/// Period names users say, as a start time relative to now.
pub fn period_start(
    period: &str,
    now: agencybot_core::Timestamp,
) -> Option<Option<agencybot_core::Timestamp>> {
    Some(match period {
        "today" => Some(now.date_naive().and_hms_opt(0, 0, 0)?.and_utc()),
        "7d" => Some(now - Duration::days(7)),
        "30d" => Some(now - Duration::days(30)),
        "6m" => Some(now - Duration::days(182)),
        "1y" => Some(now - Duration::days(365)),
        "all" => None,
        _ => return None,
    })
}

/// Switches the asking conversation to another configured model ("use
/// Claude from now on"). A write: members and up, after their yes.
pub struct ChooseModelTool {
    models: Arc<Models>,
}

impl ChooseModelTool {
    #[must_use]
    pub fn new(models: Arc<Models>) -> Self {
        ChooseModelTool { models }
    }
}

impl InternalTool for ChooseModelTool {
    fn name(&self) -> &str {
        "choose_model"
    }

    fn description(&self) -> &str {
        "Switch this conversation to another configured AI model (\"default\": the team's)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {"model": {"type": "string"}},
            "required": ["model"]
        })
    }

    fn access(&self) -> Access {
        Access::Write
    }

    fn check(&self, arguments: &Value) -> Result<(), String> {
        let model = arguments["model"].as_str().unwrap_or_default();
        if model == "default" {
            return Ok(());
        }
        self.models
            .check(model)
            .map(|_| ())
            .map_err(|unknown| unknown.to_string())
    }

    fn summarize(&self, arguments: &Value) -> String {
        match arguments["model"].as_str().unwrap_or_default() {
            "default" => "Make this conversation follow the team's model again".to_owned(),
            model => match self.models.route(model) {
                Ok(provider) => format!(
                    "Answer this conversation with {model} (provider {}) from now on",
                    provider.name
                ),
                Err(_) => format!("Answer this conversation with {model} from now on"),
            },
        }
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            self.check(&arguments)?;
            let model = arguments["model"].as_str().filter(|m| *m != "default");
            context
                .store
                .set_conversation_model(context.team.id, context.conversation, model, context.now)
                .await
                .map_err(|err| format!("the choice could not be saved: {err}"))?;
            Ok(ToolOutput::new(json!({
                "model": model.unwrap_or("the team's default"),
                "applies_from": "the next message"
            })))
        })
    }
}

/// Sends any list endpoint's items to the chat as a CSV file.
pub struct ExportCsvTool;

/// Pages fetched at most for one export.
const MAX_EXPORT_PAGES: u32 = 50;

impl InternalTool for ExportCsvTool {
    fn name(&self) -> &str {
        "export_csv"
    }

    fn description(&self) -> &str {
        "Fetch every page of a read endpoint (as call_api would) and send the items to the chat as a CSV file."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "endpoint": {"type": "string"},
                "arguments": {"type": "object"},
                "file_name": {"type": "string", "description": "e.g. top-fans.csv"}
            },
            "required": ["endpoint", "arguments"]
        })
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn run<'a>(
        &'a self,
        context: &'a ToolContext<'a>,
        arguments: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, String>> {
        Box::pin(async move {
            let id = arguments["endpoint"].as_str().unwrap_or_default();
            let endpoint = Catalog::onlyfans()
                .get(id)
                .ok_or_else(|| format!("unknown endpoint `{id}`"))?;
            if endpoint.access != Access::Read {
                return Err(format!(
                    "{id} is not a read endpoint; only reads can be exported"
                ));
            }
            let args = arguments["arguments"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let request = endpoint.request(&args).map_err(|err| err.message)?;
            // A page costs at least a credit: never more pages than the budget has left.
            let pages = context.credits_left.map_or(MAX_EXPORT_PAGES, |left| {
                u32::try_from(left.max(1))
                    .unwrap_or(u32::MAX)
                    .min(MAX_EXPORT_PAGES)
            });
            let collected = match context.ofapi.collect_pages(&request, pages).await {
                Ok(collected) => collected,
                Err(err) => {
                    return Ok(ToolOutput {
                        content: json!({"error": err.message}),
                        credits: err.credits_used,
                        ..ToolOutput::default()
                    });
                }
            };
            let csv = to_csv(&collected.items);
            let file_name = arguments["file_name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .map_or_else(
                    || format!("{}.csv", id.replace('.', "-")),
                    |n| {
                        if n.ends_with(".csv") {
                            n.to_owned()
                        } else {
                            format!("{n}.csv")
                        }
                    },
                );
            (context.send_file)(Attachment {
                file_name: file_name.clone(),
                mime_type: "text/csv".into(),
                bytes: csv.into_bytes(),
                caption: Some(format!(
                    "{} rows from {}",
                    collected.items.len(),
                    endpoint.title
                )),
            });
            Ok(ToolOutput {
                content: json!({
                    "sent_file": file_name,
                    "rows": collected.items.len(),
                    "complete": collected.skipped_next_page.is_none(),
                    "stopped_at_budget": collected.skipped_next_page.is_some() && pages < MAX_EXPORT_PAGES,
                }),
                credits: collected.credits_used,
                ..ToolOutput::default()
            })
        })
    }
}

/// Items as CSV: one column per scalar field, nested objects flattened
/// with dotted names, lists counted.
#[must_use]
pub fn to_csv(items: &[Value]) -> String {
    let rows: Vec<BTreeMap<String, String>> = items
        .iter()
        .map(|item| {
            let mut row = BTreeMap::new();
            flatten("", item, &mut row, 0);
            row
        })
        .collect();
    let mut columns: Vec<String> = Vec::new();
    for row in &rows {
        for key in row.keys() {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    // `id` and names first, then the rest in a stable order.
    columns.sort_by_key(|c| (!matches!(c.as_str(), "id" | "name" | "username"), c.clone()));
    let mut out = columns
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in rows {
        let line: Vec<String> = columns
            .iter()
            .map(|c| csv_field(row.get(c).map_or("", String::as_str)))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    }
    out
}

fn flatten(prefix: &str, value: &Value, row: &mut BTreeMap<String, String>, depth: usize) {
    let key = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match value {
        Value::Object(map) if depth < 2 => {
            for (name, inner) in map {
                flatten(&key(name), inner, row, depth + 1);
            }
        }
        Value::Object(_) => {}
        Value::Array(items) => {
            row.insert(format!("{prefix}.count"), items.len().to_string());
        }
        Value::Null => {}
        Value::String(text) => {
            row.insert(prefix.to_owned(), text.clone());
        }
        other => {
            row.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// Quotes a field when it holds a separator, a quote or a newline; also
/// defuses spreadsheet formulas (`=`, `+`, `-`, `@` at the start).
/// One CSV field: quoted when needed, and a leading `=`, `+`, `@` or `-`
/// neutralised so spreadsheets do not run it as a formula.
pub fn csv_field(field: &str) -> String {
    let field = if field.starts_with(['=', '+', '@'])
        || (field.starts_with('-') && field.parse::<f64>().is_err())
    {
        format!("'{field}")
    } else {
        field.to_owned()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_flattens_and_escapes() {
        let items = vec![
            json!({"id": 1, "name": "Alex, the fan", "spend": {"total": 12.5}, "tags": ["a", "b"]}),
            json!({"id": 2, "name": "=HYPERLINK(\"x\")", "spend": {"total": -3.0}}),
        ];
        assert_eq!(
            to_csv(&items),
            "id,name,spend.total,tags.count\n1,\"Alex, the fan\",12.5,2\n2,\"'=HYPERLINK(\"\"x\"\")\",-3.0,\n"
        );
    }
}
