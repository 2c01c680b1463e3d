//! The model writes light Markdown; Slack reads mrkdwn.

/// `**bold**` → `*bold*`; `&`, `<` and `>` escaped as Slack requires, so
/// text can never form a mention or a link by accident.
#[must_use]
pub fn markdown_to_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace("**", "*")
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
    }
}
