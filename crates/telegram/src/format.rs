//! The model writes light Markdown; Telegram takes a small HTML subset.
//! Everything is escaped first, so text can never inject markup.

use agencybot_agent::{split_text_by, utf16_len};

/// `**bold**` → `<b>`, `` `code` `` → `<code>`, the rest escaped. Unpaired
/// markers stay as they are.
#[must_use]
pub fn markdown_to_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let bold = pair(&escaped, "**", "<b>", "</b>");
    pair(&bold, "`", "<code>", "</code>")
}

/// Replaces pairs of `marker` on the same line with the tags.
fn pair(text: &str, marker: &str, open: &str, close: &str) -> String {
    text.split('\n')
        .map(|line| {
            let parts: Vec<&str> = line.split(marker).collect();
            if parts.len() < 3 {
                return line.to_owned();
            }
            let mut out = String::with_capacity(line.len() + 16);
            let paired = (parts.len() - 1) / 2 * 2;
            for (index, part) in parts.iter().enumerate() {
                if index > 0 {
                    if index <= paired {
                        out.push_str(if index % 2 == 1 { open } else { close });
                    } else {
                        out.push_str(marker);
                    }
                }
                out.push_str(part);
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `(plain, html)` pieces whose HTML fits `limit` UTF-16 units, the way
/// Telegram measures message length.
#[must_use]
pub fn chunks(text: &str, limit: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for piece in split_text_by(text, limit, utf16_len) {
        let html = markdown_to_html(&piece);
        if utf16_len(&html) <= limit || piece.chars().count() < 2 {
            out.push((piece, html));
        } else {
            // Escaping made it longer than allowed: cut it smaller.
            out.extend(chunks(&piece, limit * 3 / 4));
        }
    }
    out
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
    }

    #[test]
    fn escaped_pieces_still_fit() {
        let text = "<".repeat(5000);
        let pieces = chunks(&text, 4096);
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
    fn emoji_count_twice_toward_the_limit() {
        let text = "💸".repeat(2_500);
        let pieces = chunks(&text, 4096);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|(_, html)| utf16_len(html) <= 4096));
        assert_eq!(
            pieces
                .iter()
                .map(|(plain, _)| plain.as_str())
                .collect::<String>(),
            text
        );
    }
}
