//! The model's Markdown as Slack's mrkdwn: `&`, `<` and `>` escaped as
//! Slack requires (so text can never form a mention or a link by accident),
//! headings bold, lists with bullets, links as `<url|label>`. Long answers
//! are cut between words of the parsed text, so an escape or a link is
//! never cut in two.

use agencybot_agent::markup::{self, Dialect, Kind, Line, Span};

struct Mrkdwn;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Mrkdwn {
    fn styled(span: &Span, in_heading: bool) -> String {
        let text = escape(&span.text);
        let mut out = if span.style.code {
            format!("`{}`", text.replace('`', "'"))
        } else {
            let mut out = text;
            for (on, mark) in [
                (span.style.strike, "~"),
                (span.style.italic, "_"),
                (span.style.bold && !in_heading, "*"),
            ] {
                if on {
                    out = format!("{mark}{out}{mark}");
                }
            }
            out
        };
        if let Some(url) = &span.link {
            out = format!("<{}|{out}>", escape(url).replace('|', "%7C"));
        }
        out
    }
}

impl Dialect for Mrkdwn {
    fn span(&self, span: &Span) -> String {
        Mrkdwn::styled(span, false)
    }

    fn line(&self, line: &Line, body: &str) -> String {
        match line.kind {
            Kind::Heading => {
                let title: String = line
                    .spans
                    .iter()
                    .map(|span| Mrkdwn::styled(span, true))
                    .collect();
                format!("*{title}*")
            }
            Kind::Rule => "———".to_owned(),
            Kind::Quote => format!("> {body}"),
            _ => format!("{}{body}", markup::marker(line)),
        }
    }

    fn code_block(&self, lines: &[&str]) -> String {
        format!(
            "```\n{}\n```",
            escape(&lines.join("\n")).replace("```", "'''")
        )
    }
}

/// Light Markdown → mrkdwn.
#[must_use]
pub fn markdown_to_mrkdwn(text: &str) -> String {
    markup::render(&markup::parse(text), &Mrkdwn)
}

/// mrkdwn messages for `text`, each at most `limit` characters as sent.
#[must_use]
pub fn chunks(text: &str, limit: usize) -> Vec<String> {
    let length = |lines: &[Line]| markup::render(lines, &Mrkdwn).chars().count();
    markup::split(markup::parse(text), limit, length)
        .iter()
        .map(|piece| markup::render(piece, &Mrkdwn))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_safe_mrkdwn() {
        assert_eq!(
            markdown_to_mrkdwn("**Net:** $1,204 <@U1> & co"),
            "*Net:* $1,204 &lt;@U1&gt; &amp; co"
        );
        assert_eq!(
            markdown_to_mrkdwn(
                "## Top **fans**\n\n- ~~old~~ and *new*\n1. [site](https://x.test/?a=1&b=2)\n> said\n```\nif a < b {}\n```"
            ),
            "*Top fans*\n\n• ~old~ and _new_\n1. <https://x.test/?a=1&amp;b=2|site>\n> said\n```\nif a &lt; b {}\n```"
        );
    }

    #[test]
    fn long_text_is_never_cut_inside_an_escape_or_a_link() {
        let text = "Tom & Jerry <3 [link](https://x.test/a&b) ".repeat(200);
        for piece in chunks(&text, 3000) {
            assert!(piece.chars().count() <= 3000);
            // Every & starts a whole escape; every link is closed.
            for (at, _) in piece.match_indices('&') {
                let rest = &piece[at..];
                assert!(
                    ["&amp;", "&lt;", "&gt;"]
                        .iter()
                        .any(|e| rest.starts_with(e)),
                    "a cut escape: {}",
                    &rest[..rest.len().min(8)]
                );
            }
            assert_eq!(piece.matches('<').count(), piece.matches('>').count());
        }
    }
}
