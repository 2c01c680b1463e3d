//! Usage charts as PNG images: one stacked bar per time bucket, one colour
//! per group. Text uses a built-in bitmap font so charts render the same on
//! hosts with no fonts installed.

/// One chart: buckets along the x axis (e.g. days), and for each bucket the
/// value of each group (stacked bars).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    /// Shown at the top, e.g. "Cost (USD) by model, last 7 days".
    pub title: String,
    /// "USD" puts a `$` before amounts; any other unit is named once above the y axis.
    pub unit: String,
    /// X axis labels, e.g. "11-14" … "11-20".
    pub buckets: Vec<String>,
    /// Legend entries, bottom of the stack first, e.g. `["gpt-4.1", "gpt-4.1-mini"]`.
    pub groups: Vec<String>,
    /// `values[group][bucket]`, so `groups.len()` rows of `buckets.len()` values.
    pub values: Vec<Vec<f64>>,
}

/// Renders the chart as a PNG (RGB, 8-bit). Never panics: empty data,
/// mismatched lengths, NaN/negative values or very long labels give a
/// chart saying so (e.g. "No usage in this period") rather than an error.
///
/// Returns an empty `Vec` only if PNG encoding fails, which writing into
/// memory with a correctly sized image never does.
#[must_use]
pub fn render_chart(data: &ChartData) -> Vec<u8> {
    let canvas = match Series::check(data) {
        Ok(series) => draw_chart(data, &series),
        Err(problem) => draw_message(&data.title, problem),
    };
    canvas.encode()
}

const MIN_WIDTH: i32 = 900;
const MAX_WIDTH: i32 = 1600;
const HEIGHT: i32 = 500;
const MARGIN: i32 = 16;
/// Narrowest slot per bucket before the image grows wider (up to `MAX_WIDTH`).
const MIN_SLOT: i32 = 24;
/// Space between the plot and the legend.
const PLOT_GAP: i32 = 24;
const SWATCH: i32 = 12;
const SWATCH_GAP: i32 = 8;
/// Legend names longer than this are cut so the plot keeps most of the width.
const LEGEND_MAX_CHARS: usize = 20;
/// X labels longer than this are cut; longer ones would mostly be skipped anyway.
const X_LABEL_MAX_CHARS: usize = 12;
/// Tick labels never need more; tinier steps would only show zeros.
const MAX_DECIMALS: usize = 6;

/// Glyphs are drawn at twice the font's size so they read well in chat previews.
const SCALE: i32 = 2;
const GLYPH_COLUMNS: i32 = 5;
/// Glyph width plus a column of spacing.
const CHAR_W: i32 = (GLYPH_COLUMNS + 1) * SCALE;
/// Glyph height including the descender row.
const TEXT_H: i32 = 8 * SCALE;
/// Height of capitals and digits, the part of a line that labels are centred on.
const CAP_H: i32 = 7 * SCALE;
const LINE_H: i32 = TEXT_H + 4;
const LEGEND_ROW: i32 = LINE_H + 2;
/// Space between an axis and its labels.
const LABEL_GAP: i32 = 8;
/// The unit caption's row, below the title.
const CAPTION_Y: i32 = MARGIN + LINE_H + 4;

const NO_USAGE: &str = "No usage in this period";
const NO_VALID_USAGE: &str = "No valid usage values in this period";
const MISMATCHED: &str = "Can't draw this chart: its data doesn't line up";
const OUT_OF_RANGE: &str = "Can't draw this chart: its values are out of range";
const INVALID_NOTE: &str = "Some values weren't valid amounts and count as 0";

type Rgb = [u8; 3];

const WHITE: Rgb = [0xFF, 0xFF, 0xFF];
const TEXT: Rgb = [0x33, 0x33, 0x33];
const MUTED: Rgb = [0x77, 0x77, 0x77];
const GRID: Rgb = [0xE4, 0xE4, 0xE4];
const AXIS: Rgb = [0x99, 0x99, 0x99];

/// Tableau 10: distinct to most readers, including common colour blindness.
/// More groups than colours reuse them in order.
const PALETTE: [Rgb; 10] = [
    [0x4E, 0x79, 0xA7],
    [0xF2, 0x8E, 0x2B],
    [0xE1, 0x57, 0x59],
    [0x76, 0xB7, 0xB2],
    [0x59, 0xA1, 0x4F],
    [0xED, 0xC9, 0x48],
    [0xB0, 0x7A, 0xA1],
    [0xFF, 0x9D, 0xA7],
    [0x9C, 0x75, 0x5F],
    [0xBA, 0xB0, 0xAC],
];

/// The chart's values once checked: invalid ones replaced by 0.
#[derive(Debug)]
struct Series {
    values: Vec<Vec<f64>>,
    totals: Vec<f64>,
    axis: Axis,
    had_invalid: bool,
}

impl Series {
    /// The values to plot, or why there is nothing to plot.
    fn check(data: &ChartData) -> Result<Self, &'static str> {
        if data.buckets.is_empty() || data.groups.is_empty() {
            return Err(NO_USAGE);
        }
        let lined_up = data.values.len() == data.groups.len()
            && data
                .values
                .iter()
                .all(|row| row.len() == data.buckets.len());
        if !lined_up {
            return Err(MISMATCHED);
        }
        let mut had_invalid = false;
        let values: Vec<Vec<f64>> = data
            .values
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&value| {
                        // A negative bar can't be stacked, and NaN or infinity can't be scaled.
                        if value.is_finite() && value >= 0.0 {
                            value
                        } else {
                            had_invalid = true;
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let mut totals = vec![0.0; data.buckets.len()];
        for row in &values {
            for (total, value) in totals.iter_mut().zip(row) {
                *total += value;
            }
        }
        let max = totals.iter().copied().fold(0.0, f64::max);
        if max == 0.0 {
            return Err(if had_invalid {
                NO_VALID_USAGE
            } else {
                NO_USAGE
            });
        }
        let axis = Axis::for_max(max).ok_or(OUT_OF_RANGE)?;
        Ok(Self {
            values,
            totals,
            axis,
            had_invalid,
        })
    }
}

/// The y axis: `intervals` gridlines `step` apart, from 0 up to `top()`.
#[derive(Debug, Clone, Copy)]
struct Axis {
    step: f64,
    intervals: u32,
    /// Decimals that tell the tick labels apart.
    decimals: usize,
}

impl Axis {
    /// The smallest 1, 2 or 5 × 10^n step that covers `max` in at most five
    /// intervals, so tick labels are round numbers. `None` when `max` is too
    /// large or too small for `f64` to scale (e.g. values adding up to infinity).
    fn for_max(max: f64) -> Option<Self> {
        let raw = max / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|multiple| multiple * magnitude)
            .find(|&step| step >= raw)?;
        if !(step.is_finite() && step > 0.0) {
            return None;
        }
        // At most five by the choice of step; the bound only guards float noise.
        let intervals = (max / step).ceil().clamp(1.0, 10.0) as u32;
        let decimals = if step >= 1.0 {
            0
        } else {
            // The epsilon keeps a step of exactly 0.1 at one decimal.
            ((-step.log10() - 1e-9).ceil() as usize).min(MAX_DECIMALS)
        };
        let axis = Self {
            step,
            intervals,
            decimals,
        };
        axis.top().is_finite().then_some(axis)
    }

    fn top(&self) -> f64 {
        self.step * f64::from(self.intervals)
    }

    /// Each gridline's value and label, from 0 up.
    fn ticks(&self, usd: bool) -> Vec<(f64, String)> {
        // Amounts under a dollar read as cents: $0.50, not $0.5.
        let decimals = if usd && self.decimals > 0 {
            self.decimals.max(2)
        } else {
            self.decimals
        };
        (0..=self.intervals)
            .map(|i| {
                let value = self.step * f64::from(i);
                (value, amount(value, decimals, usd))
            })
            .collect()
    }
}

/// `value` as a short label: thousands and up get a k/M/B/T suffix, dollars a `$`.
fn amount(value: f64, decimals: usize, usd: bool) -> String {
    let number = compact(value, decimals);
    if usd { format!("${number}") } else { number }
}

fn compact(value: f64, decimals: usize) -> String {
    const SUFFIXES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")];
    if value >= 1e15 {
        return format!("{value:.1e}");
    }
    for (scale, suffix) in SUFFIXES {
        if value >= scale {
            // Two decimals tell apart any two ticks of a 1/2/5 step, e.g. 1.2k and 1.4k.
            let scaled = format!("{:.2}", value / scale);
            let scaled = scaled.trim_end_matches('0').trim_end_matches('.');
            return format!("{scaled}{suffix}");
        }
    }
    format!("{value:.decimals$}")
}

/// The label above a bar: cents for dollars, whole numbers for counts.
fn total_label(total: f64, usd: bool) -> String {
    let decimals = if usd || (total < 100.0 && total.fract() != 0.0) {
        2
    } else {
        0
    };
    amount(total, decimals, usd)
}

/// Where things go, in pixels from the top left. Bars grow up from `bottom`
/// between `left` and `right`; the legend starts at `legend_x`.
#[derive(Debug)]
struct Layout {
    width: i32,
    left: i32,
    top: i32,
    right: i32,
    bottom: i32,
    legend_x: i32,
    /// How many legend rows fit beside the plot.
    legend_rows: usize,
}

impl Layout {
    fn new(data: &ChartData, ticks: &[(f64, String)], with_note: bool) -> Self {
        let top = CAPTION_Y + LINE_H + LINE_H; // the caption, then room for bar totals
        let note_room = if with_note { LINE_H + 4 } else { 0 };
        let bottom = HEIGHT - MARGIN - TEXT_H - LABEL_GAP - note_room;
        let legend_rows = index((bottom - top) / LEGEND_ROW).max(1);

        let tick_width = ticks.iter().map(|(_, label)| text_width(label)).max();
        let left = MARGIN + tick_width.unwrap_or(0) + LABEL_GAP;
        let longest_name = data.groups.iter().map(|name| name.chars().count()).max();
        let mut legend_chars = longest_name.unwrap_or(0).min(LEGEND_MAX_CHARS);
        if let Some(more) = more_label(data.groups.len(), legend_rows) {
            legend_chars = legend_chars.max(more.chars().count());
        }
        let legend_width = SWATCH + SWATCH_GAP + count_px(legend_chars).saturating_mul(CHAR_W);

        let bars = count_px(data.buckets.len()).saturating_mul(MIN_SLOT);
        let width = left
            .saturating_add(bars)
            .saturating_add(PLOT_GAP + legend_width + MARGIN)
            .clamp(MIN_WIDTH, MAX_WIDTH);
        let legend_x = width - MARGIN - legend_width;
        Self {
            width,
            left,
            top,
            right: legend_x - PLOT_GAP,
            bottom,
            legend_x,
            legend_rows,
        }
    }

    /// The y pixel of `value` on an axis going up to `top`.
    fn y(&self, value: f64, top: f64) -> i32 {
        let height = f64::from(self.bottom - self.top);
        self.bottom - (value / top * height).round() as i32
    }
}

/// "+3 more" when `groups` don't all fit in `rows` legend rows; that label
/// takes the last row.
fn more_label(groups: usize, rows: usize) -> Option<String> {
    (groups > rows).then(|| format!("+{} more", groups - rows.saturating_sub(1)))
}

fn draw_chart(data: &ChartData, series: &Series) -> Canvas {
    let usd = data.unit == "USD";
    let ticks = series.axis.ticks(usd);
    let layout = Layout::new(data, &ticks, series.had_invalid);
    let mut canvas = Canvas::new(layout.width, HEIGHT);
    draw_title(&mut canvas, &data.title);
    let unit = data.unit.trim();
    if !usd && !unit.is_empty() {
        let unit = truncate(unit, fitting_chars(layout.width - 2 * MARGIN));
        canvas.text(MARGIN, CAPTION_Y, &unit, MUTED);
    }
    draw_grid(&mut canvas, &layout, series.axis, &ticks);
    draw_bars(&mut canvas, &layout, series, usd);
    draw_x_labels(&mut canvas, &layout, &data.buckets);
    draw_legend(&mut canvas, &layout, &data.groups);
    if series.had_invalid {
        canvas.text(MARGIN, HEIGHT - MARGIN - TEXT_H, INVALID_NOTE, MUTED);
    }
    canvas
}

/// A chart with only its title and `message`, for data that can't be plotted.
fn draw_message(title: &str, message: &str) -> Canvas {
    let mut canvas = Canvas::new(MIN_WIDTH, HEIGHT);
    draw_title(&mut canvas, title);
    let x = (canvas.width - text_width(message)) / 2;
    canvas.text(x.max(MARGIN), (HEIGHT - TEXT_H) / 2, message, MUTED);
    canvas
}

fn draw_title(canvas: &mut Canvas, title: &str) {
    let title = truncate(title.trim(), fitting_chars(canvas.width - 2 * MARGIN));
    // Drawn twice a pixel apart: a bold title without a second font.
    canvas.text(MARGIN, MARGIN, &title, TEXT);
    canvas.text(MARGIN + 1, MARGIN, &title, TEXT);
}

fn draw_grid(canvas: &mut Canvas, layout: &Layout, axis: Axis, ticks: &[(f64, String)]) {
    let plot_width = layout.right - layout.left;
    for (value, label) in ticks {
        let y = layout.y(*value, axis.top());
        canvas.hline(layout.left, y, plot_width, GRID);
        let x = layout.left - LABEL_GAP - text_width(label);
        canvas.text(x, y - CAP_H / 2, label, TEXT);
    }
    canvas.vline(layout.left, layout.top, layout.bottom - layout.top, AXIS);
}

fn draw_bars(canvas: &mut Canvas, layout: &Layout, series: &Series, usd: bool) {
    let top = series.axis.top();
    let slot = slot_width(layout, series.totals.len());
    // Gaps between bars keep neighbouring buckets apart.
    let bar_width = ((slot * 0.7).round() as i32).max(1);
    for (bucket, &total) in series.totals.iter().enumerate() {
        let x = layout.left
            + (bucket as f64 * slot + (slot - f64::from(bar_width)) / 2.0).round() as i32;
        let mut below = 0.0;
        for (group, row) in series.values.iter().enumerate() {
            let value = row.get(bucket).copied().unwrap_or(0.0);
            let above = below + value;
            // Placing both edges from running sums leaves no rounding gaps between segments.
            let (y_top, y_bottom) = (layout.y(above, top), layout.y(below, top));
            canvas.fill_rect(x, y_top, bar_width, y_bottom - y_top, group_color(group));
            below = above;
        }
        let label = total_label(total, usd);
        let label_width = text_width(&label);
        // Totals only where they fit over their own bar.
        if f64::from(label_width) <= slot - 4.0 {
            let label_x = x + (bar_width - label_width) / 2;
            canvas.text(label_x, layout.y(total, top) - LINE_H, &label, TEXT);
        }
    }
    canvas.hline(layout.left, layout.bottom, layout.right - layout.left, AXIS);
}

fn draw_x_labels(canvas: &mut Canvas, layout: &Layout, buckets: &[String]) {
    let slot = slot_width(layout, buckets.len());
    let labels: Vec<String> = buckets
        .iter()
        .map(|bucket| truncate(bucket, X_LABEL_MAX_CHARS))
        .collect();
    let widest = labels
        .iter()
        .map(|label| text_width(label))
        .max()
        .unwrap_or(0);
    // Label every n-th bucket so that neighbouring labels never touch.
    let every = (f64::from(widest + CHAR_W) / slot).ceil().max(1.0) as usize;
    for (bucket, label) in labels.iter().enumerate().step_by(every) {
        let centre = layout.left + ((bucket as f64 + 0.5) * slot).round() as i32;
        let width = text_width(label);
        let x = (centre - width / 2).clamp(0, (canvas.width - width).max(0));
        canvas.text(x, layout.bottom + LABEL_GAP, label, TEXT);
    }
}

fn draw_legend(canvas: &mut Canvas, layout: &Layout, groups: &[String]) {
    let more = more_label(groups.len(), layout.legend_rows);
    let shown = if more.is_some() {
        layout.legend_rows.saturating_sub(1)
    } else {
        groups.len()
    };
    let name_x = layout.legend_x + SWATCH + SWATCH_GAP;
    let mut y = layout.top;
    for (group, name) in groups.iter().take(shown).enumerate() {
        // Centred on the capitals, which is what the eye lines the swatch up with.
        canvas.fill_rect(
            layout.legend_x,
            y + (CAP_H - SWATCH) / 2,
            SWATCH,
            SWATCH,
            group_color(group),
        );
        canvas.text(name_x, y, &truncate(name, LEGEND_MAX_CHARS), TEXT);
        y += LEGEND_ROW;
    }
    if let Some(more) = more {
        canvas.text(name_x, y, &more, MUTED);
    }
}

/// Pixels per bucket along the x axis.
fn slot_width(layout: &Layout, buckets: usize) -> f64 {
    f64::from(layout.right - layout.left) / buckets.max(1) as f64
}

fn group_color(group: usize) -> Rgb {
    PALETTE[group % PALETTE.len()]
}

/// `text` cut to `max_chars`, ending in ".." when cut.
fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    if max_chars < 2 {
        return text.chars().take(max_chars).collect();
    }
    let mut cut: String = text.chars().take(max_chars - 2).collect();
    cut.push_str("..");
    cut
}

/// How many characters fit in `width` pixels.
fn fitting_chars(width: i32) -> usize {
    index(width / CHAR_W)
}

fn text_width(text: &str) -> i32 {
    count_px(text.chars().count()).saturating_mul(CHAR_W)
}

/// A count as a pixel quantity; counts beyond `i32` are far off any image anyway.
fn count_px(count: usize) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// A clipped, non-negative pixel quantity as an index.
fn index(value: i32) -> usize {
    usize::try_from(value).unwrap_or(0)
}

/// An RGB image that clips every drawing operation to its bounds.
#[derive(Debug)]
struct Canvas {
    width: i32,
    height: i32,
    pixels: Vec<u8>,
}

impl Canvas {
    /// A white canvas.
    fn new(width: i32, height: i32) -> Self {
        let (width, height) = (width.max(1), height.max(1));
        Self {
            width,
            height,
            pixels: WHITE.repeat(index(width) * index(height)),
        }
    }

    fn fill_rect(&mut self, x: i32, y: i32, width: i32, height: i32, color: Rgb) {
        let (x0, x1) = (
            x.clamp(0, self.width),
            x.saturating_add(width).clamp(0, self.width),
        );
        let (y0, y1) = (
            y.clamp(0, self.height),
            y.saturating_add(height).clamp(0, self.height),
        );
        if x0 >= x1 {
            return;
        }
        let row_start = |y: i32| index(y) * index(self.width) * 3;
        for y in y0..y1 {
            let span = row_start(y) + index(x0) * 3..row_start(y) + index(x1) * 3;
            if let Some(span) = self.pixels.get_mut(span) {
                for pixel in span.chunks_exact_mut(3) {
                    pixel.copy_from_slice(&color);
                }
            }
        }
    }

    fn hline(&mut self, x: i32, y: i32, width: i32, color: Rgb) {
        self.fill_rect(x, y, width, 1, color);
    }

    fn vline(&mut self, x: i32, y: i32, height: i32, color: Rgb) {
        self.fill_rect(x, y, 1, height, color);
    }

    /// Draws `text` with its top left corner at (`x`, `y`), on one line.
    fn text(&mut self, x: i32, y: i32, text: &str, color: Rgb) {
        let mut glyph_x = x;
        for c in text.chars() {
            if glyph_x >= self.width {
                break;
            }
            self.glyph(glyph_x, y, c, color);
            glyph_x = glyph_x.saturating_add(CHAR_W);
        }
    }

    fn glyph(&mut self, x: i32, y: i32, c: char, color: Rgb) {
        for (row, bits) in (0..).zip(glyph(c)) {
            for column in 0..GLYPH_COLUMNS {
                if bits & (0x10_u8 >> column) != 0 {
                    self.fill_rect(x + column * SCALE, y + row * SCALE, SCALE, SCALE, color);
                }
            }
        }
    }

    /// The image as a PNG, or an empty `Vec` if encoding fails (see [`render_chart`]).
    fn encode(&self) -> Vec<u8> {
        let mut png = Vec::new();
        match self.write_png(&mut png) {
            Ok(()) => png,
            Err(err) => {
                tracing::warn!(%err, "couldn't encode a chart as PNG");
                Vec::new()
            }
        }
    }

    fn write_png(&self, out: &mut Vec<u8>) -> Result<(), png::EncodingError> {
        let mut encoder =
            png::Encoder::new(out, self.width.unsigned_abs(), self.height.unsigned_abs());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.pixels)?;
        writer.finish()
    }
}

/// The glyph for `c`; anything outside printable ASCII is drawn as '?'.
fn glyph(c: char) -> &'static [u8; 8] {
    let index = u32::from(c).wrapping_sub(u32::from(FIRST_CHAR));
    usize::try_from(index)
        .ok()
        .and_then(|index| FONT.get(index))
        .unwrap_or(&FONT[(b'?' - FIRST_CHAR) as usize])
}

const FIRST_CHAR: u8 = b' ';

/// A 5×7 font with one descender row, for ASCII 0x20 (space) to 0x7E (~).
/// Each glyph is eight rows, top to bottom; bit 4 is the leftmost column.
static FONT: [[u8; 8]; 95] = [
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], // space
    [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04, 0x00], // !
    [0x0A, 0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00], // "
    [0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A, 0x00], // #
    [0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04, 0x00], // $
    [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03, 0x00], // %
    [0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D, 0x00], // &
    [0x04, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00], // quote
    [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02, 0x00], // (
    [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08, 0x00], // )
    [0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00, 0x00], // *
    [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00, 0x00], // +
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08], // ,
    [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00, 0x00], // -
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C, 0x00], // .
    [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00, 0x00], // /
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E, 0x00], // 0
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00], // 1
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F, 0x00], // 2
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E, 0x00], // 3
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02, 0x00], // 4
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E, 0x00], // 5
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E, 0x00], // 6
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08, 0x00], // 7
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E, 0x00], // 8
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C, 0x00], // 9
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00, 0x00], // :
    [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08, 0x00], // ;
    [0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02, 0x00], // <
    [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00, 0x00], // =
    [0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08, 0x00], // >
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04, 0x00], // ?
    [0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E, 0x00], // @
    [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00], // A
    [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E, 0x00], // B
    [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E, 0x00], // C
    [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C, 0x00], // D
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F, 0x00], // E
    [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10, 0x00], // F
    [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F, 0x00], // G
    [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11, 0x00], // H
    [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00], // I
    [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C, 0x00], // J
    [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11, 0x00], // K
    [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F, 0x00], // L
    [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11, 0x00], // M
    [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x00], // N
    [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00], // O
    [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10, 0x00], // P
    [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D, 0x00], // Q
    [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11, 0x00], // R
    [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E, 0x00], // S
    [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00], // T
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E, 0x00], // U
    [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00], // V
    [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A, 0x00], // W
    [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11, 0x00], // X
    [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x00], // Y
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x00], // Z
    [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E, 0x00], // [
    [0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00, 0x00], // backslash
    [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E, 0x00], // ]
    [0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00], // ^
    [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F], // _
    [0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00], // `
    [0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F, 0x00], // a
    [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E, 0x00], // b
    [0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E, 0x00], // c
    [0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F, 0x00], // d
    [0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00], // e
    [0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08, 0x00], // f
    [0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E], // g
    [0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00], // h
    [0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E, 0x00], // i
    [0x02, 0x00, 0x06, 0x02, 0x02, 0x02, 0x12, 0x0C], // j
    [0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12, 0x00], // k
    [0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E, 0x00], // l
    [0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11, 0x00], // m
    [0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11, 0x00], // n
    [0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00], // o
    [0x00, 0x00, 0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10], // p
    [0x00, 0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x01], // q
    [0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10, 0x00], // r
    [0x00, 0x00, 0x0F, 0x10, 0x0E, 0x01, 0x1E, 0x00], // s
    [0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06, 0x00], // t
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D, 0x00], // u
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04, 0x00], // v
    [0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A, 0x00], // w
    [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x00], // x
    [0x00, 0x00, 0x11, 0x11, 0x11, 0x0F, 0x01, 0x0E], // y
    [0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F, 0x00], // z
    [0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02, 0x00], // {
    [0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x00], // |
    [0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08, 0x00], // }
    [0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00, 0x00], // ~
];

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    /// The decoded image: width, height and RGB pixels.
    fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(Cursor::new(png));
        let mut reader = decoder.read_info().expect("a PNG header");
        let size = reader.output_buffer_size().expect("a sane image size");
        let mut pixels = vec![0; size];
        let frame = reader.next_frame(&mut pixels).expect("PNG image data");
        assert_eq!(frame.color_type, png::ColorType::Rgb);
        assert_eq!(frame.bit_depth, png::BitDepth::Eight);
        pixels.truncate(frame.buffer_size());
        (frame.width, frame.height, pixels)
    }

    fn has_color(pixels: &[u8], color: Rgb) -> bool {
        pixels.chunks_exact(3).any(|pixel| pixel == color)
    }

    fn week() -> ChartData {
        ChartData {
            title: "Cost (USD) by model, last 7 days".into(),
            unit: "USD".into(),
            buckets: (14..=20).map(|day| format!("11-{day}")).collect(),
            groups: vec!["gpt-4.1".into(), "gpt-4.1-mini".into()],
            values: vec![
                vec![1.25, 0.0, 3.5, 2.0, 0.75, 4.1, 2.2],
                vec![0.1, 0.3, 0.2, 0.05, 0.4, 0.3, 0.0],
            ],
        }
    }

    #[test]
    fn normal_chart_is_a_png_with_bars() {
        let (width, height, pixels) = decode(&render_chart(&week()));
        assert_eq!((width, height), (900, 500));
        assert!(pixels.iter().any(|&channel| channel != 0xFF));
        assert!(has_color(&pixels, PALETTE[0]));
        assert!(has_color(&pixels, PALETTE[1]));
    }

    #[test]
    fn empty_data_says_so() {
        let data = ChartData {
            buckets: Vec::new(),
            groups: Vec::new(),
            values: Vec::new(),
            ..week()
        };
        let (width, height, pixels) = decode(&render_chart(&data));
        assert_eq!((width, height), (900, 500));
        assert!(has_color(&pixels, MUTED), "the message is drawn");
        assert!(!has_color(&pixels, PALETTE[0]), "no bars");

        let zeros = ChartData {
            values: vec![vec![0.0; 7]; 2],
            ..week()
        };
        assert_eq!(Series::check(&zeros).err(), Some(NO_USAGE));
        decode(&render_chart(&zeros));
    }

    #[test]
    fn mismatched_lengths_say_so() {
        let short_row = ChartData {
            values: vec![vec![1.0; 7], vec![1.0; 6]],
            ..week()
        };
        let missing_row = ChartData {
            values: vec![vec![1.0; 7]],
            ..week()
        };
        for data in [short_row, missing_row] {
            assert_eq!(Series::check(&data).err(), Some(MISMATCHED));
            let (width, height, pixels) = decode(&render_chart(&data));
            assert_eq!((width, height), (900, 500));
            assert!(!has_color(&pixels, PALETTE[0]));
        }
    }

    #[test]
    fn invalid_and_extreme_values_still_render() {
        let mut data = week();
        data.values[0][0] = f64::NAN;
        data.values[0][1] = -3.0;
        data.values[1][2] = f64::INFINITY;
        let series = Series::check(&data).expect("the valid values plot");
        assert!(series.had_invalid);
        assert_eq!(series.totals[0], 0.1);
        decode(&render_chart(&data));

        let all_nan = ChartData {
            values: vec![vec![f64::NAN; 7]; 2],
            ..week()
        };
        assert_eq!(Series::check(&all_nan).err(), Some(NO_VALID_USAGE));
        decode(&render_chart(&all_nan));

        for huge in [1e300, f64::MAX, 1e-320] {
            let data = ChartData {
                values: vec![vec![huge; 7]; 2],
                ..week()
            };
            let (width, height, _) = decode(&render_chart(&data));
            assert_eq!((width, height), (900, 500));
        }
    }

    #[test]
    fn many_buckets_widen_the_chart_within_the_cap() {
        let buckets: Vec<String> = (0..60).map(|hour| format!("{hour:02}:00")).collect();
        let data = ChartData {
            title: "Requests by platform, last 60 hours".into(),
            unit: "requests".into(),
            values: vec![
                (0..60).map(f64::from).collect(),
                (0..60).map(|hour| f64::from(hour % 7) * 3.0).collect(),
                vec![2.5; 60],
            ],
            buckets,
            groups: vec!["telegram".into(), "slack".into(), "discord".into()],
        };
        let (width, height, pixels) = decode(&render_chart(&data));
        assert!(width > 900 && width <= 1600, "width {width}");
        assert_eq!(height, 500);
        assert!(has_color(&pixels, PALETTE[2]));

        let thousands = ChartData {
            buckets: (0..1000).map(|i| i.to_string()).collect(),
            values: vec![vec![1.0; 1000]],
            groups: vec!["one".into()],
            ..data
        };
        assert_eq!(decode(&render_chart(&thousands)).0, 1600);
    }

    #[test]
    fn long_labels_and_many_groups_are_cut_to_fit() {
        let groups: Vec<String> = (0..40)
            .map(|i| format!("user-{i}-{}", "x".repeat(200)))
            .collect();
        let data = ChartData {
            title: "A very long title ".repeat(40),
            unit: "credits ".repeat(100),
            buckets: vec!["b".repeat(500), "ü…中".into()],
            values: vec![vec![1.0, 2.0]; groups.len()],
            groups,
        };
        let (width, height, _) = decode(&render_chart(&data));
        assert!((900..=1600).contains(&width));
        assert_eq!(height, 500);
        assert_eq!(truncate("gpt-4.1-mini", 9), "gpt-4.1..");
        assert_eq!(truncate("gpt", 8), "gpt");
        assert_eq!(truncate("gpt", 1), "g");
    }

    #[test]
    fn ticks_are_round_numbers() {
        let axis = Axis::for_max(10.1).expect("an axis");
        assert_eq!((axis.step, axis.intervals, axis.decimals), (5.0, 3, 0));
        let labels: Vec<String> = Axis::for_max(2.3)
            .expect("an axis")
            .ticks(true)
            .into_iter()
            .map(|(_, label)| label)
            .collect();
        assert_eq!(
            labels,
            ["$0.00", "$0.50", "$1.00", "$1.50", "$2.00", "$2.50"]
        );
        let labels: Vec<String> = Axis::for_max(5400.0)
            .expect("an axis")
            .ticks(false)
            .into_iter()
            .map(|(_, label)| label)
            .collect();
        assert_eq!(labels, ["0", "2k", "4k", "6k"]);
        assert_eq!(total_label(12.3456, true), "$12.35");
        assert_eq!(total_label(1500.0, false), "1.5k");
        assert_eq!(total_label(42.0, false), "42");
        assert!(Axis::for_max(f64::INFINITY).is_none());
    }

    #[test]
    fn font_covers_printable_ascii() {
        assert_eq!(FONT.len(), usize::from(b'~' - b' ') + 1);
        for (index, c) in (' '..='~').enumerate() {
            assert!(
                std::ptr::eq(glyph(c), &FONT[index]),
                "{c:?} has its own entry"
            );
            let glyph = glyph(c);
            assert_eq!(
                glyph.iter().any(|&row| row != 0),
                c != ' ',
                "{c:?} is drawn"
            );
            assert!(
                glyph.iter().all(|&row| row < 0x20),
                "{c:?} fits five columns"
            );
        }
        let mut distinct = FONT.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            FONT.len(),
            "no two characters look the same"
        );
        assert_eq!(glyph('é'), glyph('?'));
        assert_eq!(glyph('\n'), glyph('?'));
    }
}
