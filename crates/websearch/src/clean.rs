//! Results made safe to show the model: HTML and control characters out,
//! http(s) URLs only, every text bounded.

use crate::SearchResult;

const TITLE_CHARS: usize = 150;
const SNIPPET_CHARS: usize = 300;
const URL_CHARS: usize = 500;
const DATE_CHARS: usize = 40;

/// The results worth showing, cleaned, at most `count`.
pub(crate) fn results(raw: Vec<SearchResult>, count: usize) -> Vec<SearchResult> {
    raw.into_iter()
        .filter_map(|result| {
            let url = result.url.trim();
            let lower = url.to_ascii_lowercase();
            let web = (lower.starts_with("https://") || lower.starts_with("http://"))
                && url.len() <= URL_CHARS
                && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if !web {
                return None;
            }
            let title = bounded(&text(&result.title), TITLE_CHARS);
            Some(SearchResult {
                title: if title.is_empty() {
                    url.to_owned()
                } else {
                    title
                },
                url: url.to_owned(),
                snippet: bounded(&text(&result.snippet), SNIPPET_CHARS),
                date: result
                    .date
                    .map(|d| bounded(&text(&d), DATE_CHARS))
                    .filter(|d| !d.is_empty()),
            })
        })
        .take(count)
        .collect()
}

/// Plain text: tags removed, common entities decoded, whitespace and
/// control characters collapsed to single spaces.
pub(crate) fn text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if in_tag => {}
            _ => out.push(c),
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    decoded
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(url: &str, title: &str, snippet: &str) -> SearchResult {
        SearchResult {
            title: title.into(),
            url: url.into(),
            snippet: snippet.into(),
            date: None,
        }
    }

    #[test]
    fn html_is_stripped_and_entities_decoded() {
        assert_eq!(
            text("<b>PPV</b> bundles&nbsp;&amp; <a href='x'>tips</a>\n\tnow"),
            "PPV bundles & tips now"
        );
        assert_eq!(text("a\u{0}b"), "a b");
    }

    #[test]
    fn only_web_urls_are_kept_and_texts_are_bounded() {
        let long = "x".repeat(1000);
        let kept = results(
            vec![
                result("javascript:alert(1)", "bad", ""),
                result("ftp://files.example", "bad", ""),
                result("https://ok.example/a b", "bad", ""),
                result("HTTPS://good.example/page", "", &long),
                result("http://second.example", "Second", "s"),
                result("https://third.example", "Third", "t"),
            ],
            2,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].title, "HTTPS://good.example/page");
        assert!(kept[0].snippet.chars().count() <= SNIPPET_CHARS + 1);
        assert_eq!(kept[1].url, "http://second.example");
    }
}
