//! The model's Markdown as Discord writes it. Discord reads Markdown
//! itself, so the answer is parsed and written back with stray markers
//! escaped (they would otherwise style what they were never meant to),
//! links that show no preview, and code blocks closed in each message when
//! a long answer is cut.

use agencybot_agent::markup::{self, Dialect, Kind, Line, Span};
use agencybot_agent::utf16_len;

struct DiscordMarkdown;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']') {
            out.push('\\');
        }
        out.push(character);
    }
    out
}

impl DiscordMarkdown {
    fn styled(span: &Span, in_heading: bool) -> String {
        let mut out = if span.style.code {
            if span.text.contains('`') {
                format!("`` {} ``", span.text)
            } else {
                format!("`{}`", span.text)
            }
        } else {
            let mut out = escape(&span.text);
            for (on, mark) in [
                (span.style.strike, "~~"),
                (span.style.italic, "*"),
                (span.style.bold && !in_heading, "**"),
            ] {
                if on {
                    out = format!("{mark}{out}{mark}");
                }
            }
            out
        };
        if let Some(url) = &span.link {
            // `<url>` keeps Discord from attaching a preview.
            out = format!("[{out}](<{}>)", url.replace('>', "%3E"));
        }
        out
    }
}

impl Dialect for DiscordMarkdown {
    fn span(&self, span: &Span) -> String {
        DiscordMarkdown::styled(span, false)
    }

    fn line(&self, line: &Line, body: &str) -> String {
        let indent = |depth: usize| "  ".repeat(depth);
        match &line.kind {
            _ if line.continued && line.kind != Kind::Heading => body.to_owned(),
            Kind::Heading => {
                let title: String = line
                    .spans
                    .iter()
                    .map(|span| DiscordMarkdown::styled(span, true))
                    .collect();
                format!("## {title}")
            }
            Kind::Bullet { depth } => format!("{}- {body}", indent(*depth)),
            Kind::Numbered { depth, number } => format!("{}{number} {body}", indent(*depth)),
            Kind::Quote => format!("> {body}"),
            Kind::Rule => "———".to_owned(),
            Kind::Text | Kind::Code => body.to_owned(),
        }
    }

    fn code_block(&self, lines: &[&str]) -> String {
        format!(
            "```\n{}\n```",
            lines.join("\n").replace("```", "`\u{200b}``")
        )
    }
}

/// Messages for `text`, each at most `limit` long as Discord counts.
#[must_use]
pub fn chunks(text: &str, limit: usize) -> Vec<String> {
    let length = |lines: &[Line]| utf16_len(&markup::render(lines, &DiscordMarkdown));
    markup::split(markup::parse(text), limit, length)
        .iter()
        .map(|piece| markup::render(piece, &DiscordMarkdown))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markdown(text: &str) -> String {
        markup::render(&markup::parse(text), &DiscordMarkdown)
    }

    #[test]
    fn markdown_is_written_back_with_stray_markers_escaped() {
        assert_eq!(
            markdown("# Top **fans**\n- 5 * 3 and fan_id [site](https://x.test)\n~~old~~ `a*b`"),
            "## Top fans\n- 5 \\* 3 and fan\\_id [site](<https://x.test>)\n~~old~~ `a*b`"
        );
    }

    #[test]
    fn a_code_block_cut_in_two_is_closed_in_each_message() {
        let code: Vec<String> = (0..300).map(|i| format!("row {i}: 12345")).collect();
        let text = format!("Here:\n```\n{}\n```", code.join("\n"));
        let pieces = chunks(&text, 2000);
        assert!(pieces.len() >= 2);
        for piece in &pieces {
            assert!(utf16_len(piece) <= 2000);
            assert_eq!(piece.matches("```").count() % 2, 0, "{piece}");
        }
    }
}
