//! The light Markdown the model writes, read once into lines of styled
//! spans. Each platform renders those lines its own way (Telegram HTML,
//! Slack mrkdwn, Discord Markdown), and a long answer is cut into messages
//! by what the platform counts, between lines and words of the parsed text,
//! so a piece never ends inside a tag, an escape, a link or a code block:
//! every piece is rendered whole on its own.

/// How a run of text looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    pub bold: bool,
    pub italic: bool,
    pub strike: bool,
    pub code: bool,
}

/// A run of text in one style, perhaps a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: Style,
    pub link: Option<String>,
}

/// What a line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Heading,
    /// `- item`, nested `depth` levels deep.
    Bullet {
        depth: usize,
    },
    /// `3. item` (the number as written, with its `.` or `)`).
    Numbered {
        depth: usize,
        number: String,
    },
    Quote,
    /// One line of a code block (or of a table, laid out in columns).
    Code,
    /// `---`
    Rule,
}

/// One line of the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: Kind,
    pub spans: Vec<Span>,
    /// A blank line comes before it: a paragraph starts here.
    pub gap_before: bool,
    /// The rest of a line cut because it was too long for one message: it
    /// goes on without its bullet or number.
    pub continued: bool,
}

impl Line {
    fn new(kind: Kind, spans: Vec<Span>, gap_before: bool) -> Line {
        Line {
            kind,
            spans,
            gap_before,
            continued: false,
        }
    }

    /// The line's text without any styling.
    #[must_use]
    pub fn text(&self) -> String {
        self.spans.iter().map(|span| span.text.as_str()).collect()
    }
}

/// Reads `text` as the model's Markdown: headings, bullet and numbered
/// lists, quotes, code blocks, tables (laid out as a code block, which every
/// platform shows), rules, and inline bold, italic, strikethrough, code and
/// links. Whatever is not well formed stays as written.
#[must_use]
pub fn parse(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut gap = false;
    let mut fence: Option<&str> = None;
    let mut table: Vec<&str> = Vec::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if let Some(open) = fence {
            if trimmed.starts_with(open) && trimmed.trim_start_matches(open).trim().is_empty() {
                fence = None;
            } else {
                lines.push(Line::new(Kind::Code, vec![plain(raw.trim_end())], gap));
                gap = false;
            }
            continue;
        }
        if is_table_row(trimmed) {
            table.push(trimmed);
            continue;
        }
        if !table.is_empty() {
            lines.extend(table_lines(&std::mem::take(&mut table), gap));
            gap = false;
        }
        if trimmed.is_empty() {
            gap = !lines.is_empty();
            continue;
        }
        if let Some(open) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
            fence = Some(open);
            continue;
        }
        lines.push(block_line(raw, gap));
        gap = false;
    }
    if !table.is_empty() {
        lines.extend(table_lines(&table, gap));
    }
    lines
}

fn plain(text: &str) -> Span {
    Span {
        text: text.to_owned(),
        style: Style::default(),
        link: None,
    }
}

fn block_line(raw: &str, gap: bool) -> Line {
    let indent = raw.len() - raw.trim_start().len();
    let depth = indent / 2;
    let trimmed = raw.trim();
    let hashes = trimmed.bytes().take_while(|&b| b == b'#').count();
    if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
        let title = trimmed[hashes..].trim().trim_end_matches('#').trim_end();
        return Line::new(Kind::Heading, inline(title), gap);
    }
    let rule_chars: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
    if rule_chars.len() >= 3
        && ["-", "*", "_"]
            .iter()
            .any(|c| rule_chars.chars().all(|x| x.to_string() == *c))
    {
        return Line::new(Kind::Rule, Vec::new(), gap);
    }
    for marker in ["- ", "* ", "+ ", "• "] {
        if let Some(item) = trimmed.strip_prefix(marker) {
            return Line::new(Kind::Bullet { depth }, inline(item.trim_start()), gap);
        }
    }
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) {
        let after = &trimmed[digits..];
        if let Some(item) = after
            .strip_prefix(". ")
            .or_else(|| after.strip_prefix(") "))
        {
            let number = trimmed[..=digits].to_owned();
            return Line::new(
                Kind::Numbered { depth, number },
                inline(item.trim_start()),
                gap,
            );
        }
    }
    if let Some(quoted) = trimmed.strip_prefix('>') {
        return Line::new(Kind::Quote, inline(quoted.trim_start()), gap);
    }
    Line::new(Kind::Text, inline(trimmed), gap)
}

fn is_table_row(line: &str) -> bool {
    line.len() >= 2 && line.starts_with('|') && line.ends_with('|')
}

/// A Markdown table as code lines in aligned columns; the `|---|` row
/// under the header becomes a line of dashes.
fn table_lines(rows: &[&str], gap: bool) -> Vec<Line> {
    let is_separator = |row: &str| {
        row.chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
    };
    let cells: Vec<Option<Vec<String>>> = rows
        .iter()
        .map(|row| {
            (!is_separator(row)).then(|| {
                row.trim_matches('|')
                    .split('|')
                    .map(|cell| {
                        inline(cell.trim())
                            .iter()
                            .map(|span| span.text.as_str())
                            .collect()
                    })
                    .collect()
            })
        })
        .collect();
    let columns = cells.iter().flatten().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in cells.iter().flatten() {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let total = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
    cells
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            let text = match row {
                Some(row) => {
                    let mut text = String::new();
                    for (column, width) in widths.iter().enumerate() {
                        let cell = row.get(column).map_or("", String::as_str);
                        if column > 0 {
                            text.push_str("  ");
                        }
                        text.push_str(cell);
                        let pad = width - cell.chars().count();
                        text.extend(std::iter::repeat_n(' ', pad));
                    }
                    text.trim_end().to_owned()
                }
                None => "-".repeat(total),
            };
            Line::new(Kind::Code, vec![plain(&text)], gap && index == 0)
        })
        .collect()
}

/// Inline styles of one line.
fn inline(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    inline_into(text, Style::default(), None, &mut spans);
    merge(spans)
}

fn merge(spans: Vec<Span>) -> Vec<Span> {
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        if span.text.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some(last) if last.style == span.style && last.link == span.link => {
                last.text.push_str(&span.text);
            }
            _ => merged.push(span),
        }
    }
    merged
}

fn inline_into(text: &str, style: Style, link: Option<&str>, out: &mut Vec<Span>) {
    let mut literal = String::new();
    let flush = |literal: &mut String, out: &mut Vec<Span>| {
        if !literal.is_empty() {
            out.push(Span {
                text: std::mem::take(literal),
                style,
                link: link.map(str::to_owned),
            });
        }
    };
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let before = text[..at].chars().next_back();
        if let Some((inner, used, add)) = styled(rest, before, style) {
            flush(&mut literal, out);
            if add.code {
                out.push(Span {
                    text: inner.to_owned(),
                    style: add,
                    link: link.map(str::to_owned),
                });
            } else {
                inline_into(inner, add, link, out);
            }
            at += used;
            continue;
        }
        if link.is_none()
            && let Some((label, url, used)) = markdown_link(rest)
        {
            flush(&mut literal, out);
            inline_into(label, style, Some(url), out);
            at += used;
            continue;
        }
        let character = rest.chars().next().unwrap_or(' ');
        literal.push(character);
        at += character.len_utf8();
    }
    flush(&mut literal, out);
}

/// A styled run starting at `rest`: its inside, the bytes it spans, and
/// the style inside it.
fn styled(rest: &str, before: Option<char>, style: Style) -> Option<(&str, usize, Style)> {
    let word_before = before.is_some_and(char::is_alphanumeric);
    for (marker, apply) in [
        ("**", (|s: &mut Style| s.bold = true) as fn(&mut Style)),
        ("__", |s| s.bold = true),
        ("~~", |s| s.strike = true),
        ("`", |s| s.code = true),
        ("*", |s| s.italic = true),
        ("_", |s| s.italic = true),
    ] {
        if !rest.starts_with(marker) || style.code {
            continue;
        }
        // `snake_case` and `2*3` are not emphasis.
        if marker.starts_with('_') && word_before {
            continue;
        }
        let body = &rest[marker.len()..];
        let close = if marker == "`" {
            body.find('`')
        } else {
            closing(body, marker)
        };
        let Some(close) = close.filter(|&close| close > 0) else {
            continue;
        };
        let inner = &body[..close];
        if marker != "`" && (inner.starts_with(' ') || inner.ends_with(' ')) {
            continue;
        }
        let mut add = style;
        apply(&mut add);
        return Some((inner, marker.len() * 2 + close, add));
    }
    None
}

/// Where `marker` closes in `body`: not doubled (for a single marker) and,
/// for `_`, not inside a word.
fn closing(body: &str, marker: &str) -> Option<usize> {
    let single = marker.len() == 1;
    let mut from = 0;
    while let Some(found) = body[from..].find(marker) {
        let at = from + found;
        let after = &body[at + marker.len()..];
        let doubled = single && after.starts_with(marker);
        let word_after = after.chars().next().is_some_and(char::is_alphanumeric);
        if doubled {
            from = at + 2 * marker.len();
            continue;
        }
        if !(marker.starts_with('_') && word_after) {
            return Some(at);
        }
        from = at + marker.len();
    }
    None
}

/// `[label](url)`: the label, the URL and the bytes it spans.
fn markdown_link(rest: &str) -> Option<(&str, &str, usize)> {
    let label_end = rest.strip_prefix('[')?.find("](")? + 1;
    let label = &rest[1..label_end];
    let after = &rest[label_end + 2..];
    let url_end = after.find(')')?;
    let url = after[..url_end].trim();
    let allowed = ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    (allowed && !label.is_empty() && !url.contains(char::is_whitespace)).then_some((
        label,
        url,
        label_end + 3 + url_end,
    ))
}

/// Cuts `lines` into pieces that each cost at most `limit` by `cost` (what
/// the platform counts of a piece rendered whole). Each piece holds as much
/// as fits, cut at a paragraph break when that keeps at least half of it,
/// else at a line break, and only a line too long on its own is cut
/// between words (or, a word too long on its own, between characters).
/// Nothing is lost but the spaces a line was cut at.
#[must_use]
pub fn split(
    mut lines: Vec<Line>,
    limit: usize,
    cost: impl Fn(&[Line]) -> usize,
) -> Vec<Vec<Line>> {
    let mut pieces = Vec::new();
    while !lines.is_empty() {
        if cost(&lines) <= limit {
            pieces.push(lines);
            break;
        }
        let fits = largest(lines.len(), |count| cost(&lines[..count]) <= limit);
        if fits == 0 {
            let (head, tail) = cut_line(&lines[0], limit, &cost);
            pieces.push(vec![head]);
            if tail.spans.is_empty() {
                lines.remove(0);
            } else {
                lines[0] = tail;
            }
            continue;
        }
        let full = cost(&lines[..fits]);
        let at = if lines[fits].gap_before {
            fits
        } else {
            (1..fits)
                .rev()
                .find(|&at| lines[at].gap_before && cost(&lines[..at]) * 2 >= full)
                .unwrap_or(fits)
        };
        let rest = lines.split_off(at);
        pieces.push(std::mem::replace(&mut lines, rest));
        if let Some(first) = lines.first_mut() {
            first.gap_before = false;
        }
    }
    pieces
}

/// The largest `count` in `0..=most` for which `fits(count)` holds, given
/// that it holds for 0 and, once false, stays false.
fn largest(most: usize, fits: impl Fn(usize) -> bool) -> usize {
    let (mut low, mut high) = (0, most);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        if fits(middle) {
            low = middle;
        } else {
            high = middle - 1;
        }
    }
    low
}

/// Cuts one line too long for a piece: the head that fits, and the rest.
fn cut_line(line: &Line, limit: usize, cost: &impl Fn(&[Line]) -> usize) -> (Line, Line) {
    let text = line.text();
    let spaces: Vec<usize> = text
        .char_indices()
        .filter(|(_, c)| *c == ' ')
        .map(|(at, _)| at)
        .collect();
    let head_fits = |at: usize| cost(&[cut_at(line, at).0]) <= limit;
    let fitting_space = largest(spaces.len(), |count| {
        count == 0 || head_fits(spaces[count - 1])
    });
    let at = if fitting_space > 0 && spaces[fitting_space - 1] > 0 {
        spaces[fitting_space - 1]
    } else {
        // Not even one word fits: cut between characters, at least one.
        let bounds: Vec<usize> = text
            .char_indices()
            .map(|(at, c)| at + c.len_utf8())
            .collect();
        let count = largest(bounds.len(), |count| {
            count == 0 || head_fits(bounds[count - 1])
        });
        bounds[count.max(1) - 1]
    };
    cut_at(line, at)
}

/// `line` cut at byte `at` of its text; the space there is dropped
/// (kept, in code).
fn cut_at(line: &Line, at: usize) -> (Line, Line) {
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let mut offset = 0;
    for span in &line.spans {
        let end = offset + span.text.len();
        if end <= at {
            head.push(span.clone());
        } else if offset >= at {
            tail.push(span.clone());
        } else {
            let (left, right) = span.text.split_at(at - offset);
            head.push(Span {
                text: left.to_owned(),
                ..span.clone()
            });
            tail.push(Span {
                text: right.to_owned(),
                ..span.clone()
            });
        }
        offset = end;
    }
    if line.kind != Kind::Code {
        trim_spans(&mut head, false);
        trim_spans(&mut tail, true);
    }
    (
        Line {
            spans: head,
            ..line.clone()
        },
        Line {
            kind: line.kind.clone(),
            spans: tail,
            gap_before: false,
            continued: true,
        },
    )
}

fn trim_spans(spans: &mut Vec<Span>, start: bool) {
    if start {
        if let Some(first) = spans.first_mut() {
            first.text = first.text.trim_start().to_owned();
        }
    } else if let Some(last) = spans.last_mut() {
        last.text = last.text.trim_end().to_owned();
    }
    spans.retain(|span| !span.text.is_empty());
}

/// How each kind of line is written around its spans, and how lines join:
/// the parts a platform's renderer fills in.
pub trait Dialect {
    /// A run of text, escaped and styled.
    fn span(&self, span: &Span) -> String;
    /// A whole line from its rendered spans (`body`).
    fn line(&self, line: &Line, body: &str) -> String;
    /// Several code lines as one block.
    fn code_block(&self, lines: &[&str]) -> String;
    /// Several quote lines as one quote.
    fn quote_block(&self, lines: &[String]) -> String {
        lines.join("\n")
    }
}

/// `lines` written in `dialect`: code lines grouped into blocks and quote
/// lines into quotes, a blank line where a paragraph starts.
pub fn render(lines: &[Line], dialect: &impl Dialect) -> String {
    let mut out = String::new();
    let mut index = 0;
    while index < lines.len() {
        let first = &lines[index];
        let group = lines[index..]
            .iter()
            .enumerate()
            .take_while(|(offset, line)| {
                line.kind == first.kind && (*offset == 0 || !line.gap_before)
            })
            .count();
        if index > 0 {
            out.push_str(if first.gap_before { "\n\n" } else { "\n" });
        }
        match first.kind {
            Kind::Code => {
                let texts: Vec<String> =
                    lines[index..index + group].iter().map(Line::text).collect();
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                out.push_str(&dialect.code_block(&refs));
                index += group;
            }
            Kind::Quote => {
                let rendered: Vec<String> = lines[index..index + group]
                    .iter()
                    .map(|line| dialect.line(line, &spans(line, dialect)))
                    .collect();
                out.push_str(&dialect.quote_block(&rendered));
                index += group;
            }
            _ => {
                out.push_str(&dialect.line(first, &spans(first, dialect)));
                index += 1;
            }
        }
    }
    out
}

fn spans(line: &Line, dialect: &impl Dialect) -> String {
    line.spans.iter().map(|span| dialect.span(span)).collect()
}

/// The bullet, number or nothing that starts `line` in plain text.
#[must_use]
pub fn marker(line: &Line) -> String {
    if line.continued {
        return String::new();
    }
    match &line.kind {
        Kind::Bullet { depth } => format!("{}• ", "  ".repeat(*depth)),
        Kind::Numbered { depth, number } => format!("{}{number} ", "  ".repeat(*depth)),
        _ => String::new(),
    }
}

/// Plain text, as a platform shows it when its own markup is refused:
/// links followed by their address.
pub struct Plain;

impl Dialect for Plain {
    fn span(&self, span: &Span) -> String {
        match &span.link {
            Some(url) if *url != span.text => format!("{} ({url})", span.text),
            _ => span.text.clone(),
        }
    }

    fn line(&self, line: &Line, body: &str) -> String {
        match line.kind {
            Kind::Rule => "——————".to_owned(),
            Kind::Quote => format!("> {body}"),
            _ => format!("{}{body}", marker(line)),
        }
    }

    fn code_block(&self, lines: &[&str]) -> String {
        lines.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bold(text: &str) -> Span {
        Span {
            text: text.into(),
            style: Style {
                bold: true,
                ..Style::default()
            },
            link: None,
        }
    }

    #[test]
    fn inline_styles_are_read_and_odd_markers_stay() {
        assert_eq!(
            inline("**Net:** $1,204"),
            vec![bold("Net:"), plain(" $1,204")]
        );
        assert_eq!(inline("a ** b"), vec![plain("a ** b")]);
        assert_eq!(inline("5 * 3 * 2"), vec![plain("5 * 3 * 2")]);
        assert_eq!(inline("fan_id_list"), vec![plain("fan_id_list")]);
        let spans = inline("~~old~~ *new* `acct_1` [site](https://x.test/a?b=1)");
        assert!(spans[0].style.strike && spans[0].text == "old");
        assert!(spans[2].style.italic && spans[2].text == "new");
        assert!(spans[4].style.code && spans[4].text == "acct_1");
        assert_eq!(spans[6].link.as_deref(), Some("https://x.test/a?b=1"));
        assert_eq!(spans[6].text, "site");
        // Only web and mail links become links.
        assert_eq!(
            inline("[x](javascript:alert)"),
            vec![plain("[x](javascript:alert)")]
        );
    }

    #[test]
    fn blocks_are_read() {
        let lines = parse(
            "# Weekly\n\nIntro line\n- one\n  - nested\n2. two\n> quoted\n---\n```\nlet x = 1;\n\nx\n```\n| Fan | Spent |\n|---|---:|\n| **ann** | $10 |",
        );
        let kinds: Vec<&Kind> = lines.iter().map(|l| &l.kind).collect();
        assert_eq!(
            kinds,
            vec![
                &Kind::Heading,
                &Kind::Text,
                &Kind::Bullet { depth: 0 },
                &Kind::Bullet { depth: 1 },
                &Kind::Numbered {
                    depth: 0,
                    number: "2.".into()
                },
                &Kind::Quote,
                &Kind::Rule,
                &Kind::Code,
                &Kind::Code,
                &Kind::Code,
                &Kind::Code,
                &Kind::Code,
                &Kind::Code,
            ]
        );
        assert!(lines[1].gap_before);
        assert_eq!(lines[8].text(), "");
        assert_eq!(lines[10].text(), "Fan  Spent");
        assert_eq!(lines[11].text(), "----------");
        assert_eq!(lines[12].text(), "ann  $10");
    }

    #[test]
    fn plain_rendering_keeps_every_word() {
        let text =
            "# Top fans\n\n1. **ann** spent $10\n2. [bob](https://x.test) spent $5\n\nThat's all.";
        let rendered = render(&parse(text), &Plain);
        assert_eq!(
            rendered,
            "Top fans\n\n1. ann spent $10\n2. bob (https://x.test) spent $5\n\nThat's all."
        );
    }

    fn chars(lines: &[Line]) -> usize {
        render(lines, &Plain).chars().count()
    }

    #[test]
    fn pieces_fill_up_to_the_limit_and_prefer_paragraphs() {
        let text: Vec<String> = (0..40)
            .map(|i| format!("Paragraph {i}: {}", "fan spend ".repeat(8).trim_end()))
            .collect();
        let text = text.join("\n\n");
        let pieces = split(parse(&text), 1000, chars);
        let sizes: Vec<usize> = pieces.iter().map(|p| chars(p)).collect();
        assert!(sizes.iter().all(|&size| size <= 1000), "{sizes:?}");
        // Each but the last holds all that fits: one more paragraph would not.
        for size in &sizes[..sizes.len() - 1] {
            assert!(*size > 1000 - 95, "{sizes:?}");
        }
        let words: Vec<String> = pieces
            .iter()
            .flat_map(|p| {
                render(p, &Plain)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(words, text.split_whitespace().collect::<Vec<_>>());
    }

    #[test]
    fn a_line_too_long_is_cut_between_words_keeping_its_style() {
        let text = format!("- **{}**", "word ".repeat(100).trim_end());
        let pieces = split(parse(&text), 120, chars);
        assert!(pieces.len() > 3);
        for piece in &pieces {
            assert!(chars(piece) <= 120);
            assert!(piece[0].spans.iter().all(|span| span.style.bold));
        }
        assert!(!pieces[0][0].continued && pieces[1][0].continued);
        let words: usize = pieces
            .iter()
            .map(|p| {
                render(p, &Plain)
                    .split_whitespace()
                    .filter(|w| *w == "word")
                    .count()
            })
            .sum();
        assert_eq!(words, 100);
    }

    #[test]
    fn a_word_too_long_is_cut_between_characters() {
        let text = "é".repeat(250);
        let pieces = split(parse(&text), 100, chars);
        assert_eq!(pieces.len(), 3);
        let joined: String = pieces.iter().map(|p| render(p, &Plain)).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn a_limit_below_one_character_still_moves_on() {
        let pieces = split(parse("ab"), 0, chars);
        assert_eq!(pieces.len(), 2);
    }

    #[test]
    fn emoji_counted_in_utf16_stay_whole_and_within_the_limit() {
        let units = |lines: &[Line]| crate::hub::utf16_len(&render(lines, &Plain));
        // Each 💸 is two UTF-16 units: 3,000 of them are 6,000 units.
        let emoji = "💸".repeat(3_000);
        let pieces = split(parse(&emoji), 4096, units);
        assert!(pieces.len() >= 2);
        assert!(pieces.iter().all(|p| units(p) <= 4096));
        let joined: String = pieces.iter().map(|p| render(p, &Plain)).collect();
        assert_eq!(joined, emoji, "nothing is lost");
        let mixed = format!("{} {}", "a".repeat(4095), "💸 b");
        let pieces: Vec<String> = split(parse(&mixed), 4096, units)
            .iter()
            .map(|p| render(p, &Plain))
            .collect();
        assert_eq!(pieces, ["a".repeat(4095), "💸 b".to_owned()]);
    }
}
