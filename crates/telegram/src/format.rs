//! The model's Markdown as Telegram's HTML subset. Everything is escaped
//! first, so text can never inject markup, and a message is measured the
//! way Telegram measures it: the UTF-16 length of its text once the tags
//! and entities are read.

use agencybot_agent::markup::{self, Dialect, Kind, Line, Plain, Span};
use agencybot_agent::utf16_len;

/// Telegram's HTML: `<b>`, `<i>`, `<s>`, `<code>`, `<pre>`, `<a>` and
/// `<blockquote>`.
struct Html;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Html {
    fn styled(span: &Span, bold: bool) -> String {
        let mut out = escape(&span.text);
        if span.style.code {
            // Telegram's code can hold no other style.
            out = format!("<code>{out}</code>");
        } else {
            for (on, tag) in [
                (span.style.strike, "s"),
                (span.style.italic, "i"),
                (span.style.bold || bold, "b"),
            ] {
                if on {
                    out = format!("<{tag}>{out}</{tag}>");
                }
            }
        }
        match &span.link {
            Some(url) => format!(
                "<a href=\"{}\">{out}</a>",
                escape(url).replace('"', "&quot;")
            ),
            None => out,
        }
    }
}

impl Dialect for Html {
    fn span(&self, span: &Span) -> String {
        Html::styled(span, false)
    }

    fn line(&self, line: &Line, body: &str) -> String {
        match line.kind {
            Kind::Heading => line
                .spans
                .iter()
                .map(|span| Html::styled(span, true))
                .collect(),
            Kind::Rule => "──────────".to_owned(),
            _ => format!("{}{body}", markup::marker(line)),
        }
    }

    fn code_block(&self, lines: &[&str]) -> String {
        format!("<pre>{}</pre>", escape(&lines.join("\n")))
    }

    fn quote_block(&self, lines: &[String]) -> String {
        format!("<blockquote>{}</blockquote>", lines.join("\n"))
    }
}

/// Light Markdown → Telegram HTML.
#[must_use]
pub fn markdown_to_html(text: &str) -> String {
    markup::render(&markup::parse(text), &Html)
}

/// The text Telegram shows for `html`, as this module writes it: tags
/// dropped, entities read.
#[must_use]
pub fn visible(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let (character, used) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
        ]
        .iter()
        .find(|(entity, _)| rest.starts_with(entity))
        .map_or(('&', 1), |(entity, character)| (*character, entity.len()));
        out.push(character);
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

/// `(plain, html)` messages for `text`, each as full as Telegram allows:
/// at most `limit` UTF-16 units of shown text. The plain text is what is
/// sent if Telegram refuses the HTML.
#[must_use]
pub fn chunks(text: &str, limit: usize) -> Vec<(String, String)> {
    let shown = |lines: &[Line]| utf16_len(&visible(&markup::render(lines, &Html)));
    markup::split(markup::parse(text), limit, shown)
        .into_iter()
        .map(|piece| {
            (
                markup::render(&piece, &Plain),
                markup::render(&piece, &Html),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_safe_html() {
        assert_eq!(
            markdown_to_html("**Net:** $1,204 <b>x</b> & `acct_1`"),
            "<b>Net:</b> $1,204 &lt;b&gt;x&lt;/b&gt; &amp; <code>acct_1</code>"
        );
        assert_eq!(markdown_to_html("a ** b"), "a ** b");
        assert_eq!(
            markdown_to_html("**a** and **b** and **"),
            "<b>a</b> and <b>b</b> and **"
        );
        assert_eq!(
            markdown_to_html("## Top fans\n- ~~old~~ [site](https://x.test/?a=1&b=\"2\")\n> note"),
            "<b>Top fans</b>\n• <s>old</s> <a href=\"https://x.test/?a=1&amp;b=&quot;2&quot;\">site</a>\n<blockquote>note</blockquote>"
        );
        assert_eq!(
            markdown_to_html("```\n<tag> & co\n```"),
            "<pre>&lt;tag&gt; &amp; co</pre>"
        );
    }

    #[test]
    fn what_telegram_counts_is_the_text_shown() {
        let html = markdown_to_html("**a** <b> & [x](https://e.test)");
        assert_eq!(visible(&html), "a <b> & x");
    }

    #[test]
    fn escaped_pieces_fill_the_limit_as_telegram_counts() {
        let text = "<".repeat(5000);
        let pieces = chunks(&text, 4096);
        assert_eq!(pieces.len(), 2);
        // 4,096 shown characters, though the HTML holds four times as many.
        assert_eq!(utf16_len(&visible(&pieces[0].1)), 4096);
        assert_eq!(
            pieces
                .iter()
                .map(|(plain, _)| plain.as_str())
                .collect::<String>(),
            text
        );
    }

    #[test]
    fn emoji_count_twice_toward_the_limit() {
        let text = "💸".repeat(2_500);
        let pieces = chunks(&text, 4096);
        assert_eq!(pieces.len(), 2);
        assert!(pieces.iter().all(|(_, html)| utf16_len(html) <= 4096));
        assert_eq!(
            pieces
                .iter()
                .map(|(plain, _)| plain.as_str())
                .collect::<String>(),
            text
        );
    }

    #[test]
    fn a_piece_cut_inside_bold_closes_and_reopens_it() {
        let text = format!("**{}**", "big spender ".repeat(600).trim_end());
        let pieces = chunks(&text, 4096);
        assert_eq!(pieces.len(), 2);
        for (_, html) in &pieces {
            assert!(html.starts_with("<b>") && html.ends_with("</b>"), "{html}");
            assert_eq!(html.matches("<b>").count(), html.matches("</b>").count());
        }
    }
}
