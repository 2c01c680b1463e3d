//! Finding integration tools by what they do: BM25 over each tool's name,
//! title and description. Input schemas come from the servers and are not
//! searched; they reach the model only with a tool that was found.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};

use crate::catalog::IntegrationTool;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Words of a text: lower case, split at anything not a letter or digit
/// and at camelCase humps, stemmed.
fn words(text: &str, stemmer: &Stemmer) -> Vec<String> {
    let mut spaced = String::with_capacity(text.len() + 8);
    let mut previous_lower = false;
    for c in text.chars() {
        if c.is_uppercase() && previous_lower {
            spaced.push(' ');
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        spaced.push(c);
    }
    spaced
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| stemmer.stem(w).into_owned())
        .collect()
}

/// What a tool is found by: its name (twice, as it says most), its title
/// and its description, with the integration's title.
fn document(integration: &str, tool: &IntegrationTool, stemmer: &Stemmer) -> Vec<String> {
    let remote = words(&tool.remote, stemmer);
    let mut all = remote.clone();
    all.extend(remote);
    all.extend(words(tool.title.as_deref().unwrap_or_default(), stemmer));
    all.extend(words(&tool.description, stemmer));
    all.extend(words(integration, stemmer));
    all
}

/// The best `limit` tools for `query`, best first; those scoring below a
/// quarter of the best are left out.
#[must_use]
pub fn rank<'a>(
    query: &str,
    tools: &[(&'a str, &'a IntegrationTool)],
    limit: usize,
) -> Vec<&'a IntegrationTool> {
    let stemmer = Stemmer::create(Algorithm::English);
    let terms = words(query, &stemmer);
    if terms.is_empty() || tools.is_empty() {
        return Vec::new();
    }
    let documents: Vec<Vec<String>> = tools
        .iter()
        .map(|(integration, tool)| document(integration, tool, &stemmer))
        .collect();
    let count = documents.len() as f64;
    let average = documents.iter().map(Vec::len).sum::<usize>() as f64 / count;
    let mut frequency: HashMap<&str, f64> = HashMap::new();
    for document in &documents {
        let mut seen: Vec<&str> = document.iter().map(String::as_str).collect();
        seen.sort_unstable();
        seen.dedup();
        for word in seen {
            *frequency.entry(word).or_default() += 1.0;
        }
    }
    let mut scored: Vec<(f64, usize)> = documents
        .iter()
        .enumerate()
        .map(|(index, document)| {
            let length = document.len() as f64;
            let score: f64 = terms
                .iter()
                .map(|term| {
                    let n = frequency.get(term.as_str()).copied().unwrap_or(0.0);
                    if n == 0.0 {
                        return 0.0;
                    }
                    let tf = document.iter().filter(|w| *w == term).count() as f64;
                    let idf = ((count - n + 0.5) / (n + 0.5) + 1.0).ln();
                    idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * length / average.max(1.0)))
                })
                .sum();
            (score, index)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let best = scored.first().map_or(0.0, |s| s.0);
    scored
        .into_iter()
        .filter(|(score, _)| *score >= best * 0.25)
        .take(limit)
        .map(|(_, index)| tools[index].1)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tool(remote: &str, description: &str) -> IntegrationTool {
        IntegrationTool {
            name: format!("x__{remote}"),
            remote: remote.into(),
            title: None,
            description: description.into(),
            input_schema: json!({"type": "object"}),
            read_only: true,
            destructive: false,
        }
    }

    #[test]
    fn finds_the_tool_among_hundreds() {
        let mut tools: Vec<IntegrationTool> = (0..400)
            .map(|i| {
                tool(
                    &format!("filler_{i:04}"),
                    &format!("Returns record {i} of the archive."),
                )
            })
            .collect();
        tools.push(tool(
            "get_current_time",
            "Get current time in a specific timezone",
        ));
        tools.push(tool("appendRow", "Append a row of values to a sheet"));
        let pairs: Vec<(&str, &IntegrationTool)> = tools.iter().map(|t| ("demo", t)).collect();
        let found = rank("what time is it in Tokyo", &pairs, 5);
        assert_eq!(found[0].remote, "get_current_time");
        let found = rank("add rows to my spreadsheet sheet", &pairs, 5);
        assert_eq!(found[0].remote, "appendRow");
        assert!(rank("", &pairs, 5).is_empty());
        assert!(rank("zebra", &pairs, 5).is_empty());
    }
}
