//! The page frame, messages and the usage chart as SVG.

use agencybot_core::Role;
use agencybot_scheduler::ChartData;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::auth::SignedIn;

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,sans-serif;color:#1d1d1f;background:#f6f6f8}
header{background:#1d1d2b;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none}header a[aria-current]{text-decoration:underline}
header form{margin-left:auto}main{padding:1rem;max-width:72rem;margin:auto}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:.35rem .5rem;border-bottom:1px solid #ddd;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.scroll{overflow-x:auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.8rem}
.card{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:.8rem}
.tag{display:inline-block;background:#eef;border-radius:.3rem;padding:0 .35rem;margin:.1rem;font-size:.85em}
form.inline{display:inline}button{font:inherit;padding:.3rem .7rem;border-radius:.35rem;border:1px solid #888;background:#fff;cursor:pointer}
button.primary{background:#3b3bd1;color:#fff;border-color:#3b3bd1}label{display:block;margin:.5rem 0 .15rem;font-weight:600}
input,select,textarea{font:inherit;width:100%;max-width:36rem;padding:.3rem}.error{color:#a00}.ok{color:#060}
.notice{background:#fff;border-left:4px solid #3b3bd1;padding:.6rem .8rem;margin:.6rem 0}
"#;

/// A whole page with the navigation the member's role allows.
pub fn page(title: &str, signed: &SignedIn, current: &str, body: Markup) -> Response {
    let mut links = vec![
        ("usage", "Usage"),
        ("tasks", "Tasks"),
        ("sessions", "Sessions"),
    ];
    if signed.role() >= Role::Admin {
        links.extend([
            ("workflows", "Workflows"),
            ("skills", "Skills"),
            ("members", "Members"),
            ("channels", "Channels"),
            ("audit", "Audit log"),
        ]);
    }
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · agencybot" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "agencybot · " (signed.team.name) }
                    nav {
                        @for (path, label) in &links {
                            @if *path == current {
                                a href={ "/console/" (path) } aria-current="page" { (label) } " "
                            } @else {
                                a href={ "/console/" (path) } { (label) } " "
                            }
                        }
                    }
                    form method="post" action="/console/sign-out" {
                        input type="hidden" name="csrf" value=(signed.csrf);
                        span { (signed.member.name) " (" (signed.role()) ") " }
                        button type="submit" { "Sign out" }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    };
    Html(markup.into_string()).into_response()
}

/// A page without a session: sign-in help, a refused link.
pub fn bare(status: StatusCode, title: &str, message: &str) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · agencybot" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { h1 { (title) } p { (message) } } }
        }
    };
    (status, Html(markup.into_string())).into_response()
}

pub fn refusal(status: StatusCode, message: &str) -> Response {
    bare(status, "Not allowed", message)
}

pub fn store_failure(error: &agencybot_store::StoreError) -> Response {
    tracing::error!(%error, "console: the store failed");
    bare(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The database did not answer. Nothing was changed.",
    )
}

/// Stacked bars over time. Each group has its own fill *and* hatching,
/// is named in the legend in stacking order and in every bar's tooltip,
/// and the numbers are in the table beside it, so no colour is needed.
pub fn chart(data: &ChartData) -> Markup {
    const FILLS: [&str; 6] = [
        "#3b3bd1", "#d1703b", "#2e9e5b", "#a33ba8", "#7a7a7a", "#c9b12c",
    ];
    let (width, height, left, bottom) = (720.0_f64, 260.0_f64, 56.0_f64, 28.0_f64);
    let buckets = data.buckets.len().max(1);
    let totals: Vec<f64> = (0..buckets)
        .map(|b| {
            data.values
                .iter()
                .map(|g| g.get(b).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let top = totals.iter().copied().fold(0.0_f64, f64::max);
    let scale = if top > 0.0 {
        (height - bottom - 10.0) / top
    } else {
        0.0
    };
    let slot = (width - left) / buckets as f64;
    let bar = (slot * 0.7).max(1.0);
    let label_every = (buckets / 10).max(1);
    let mut rects = Vec::new();
    for bucket in 0..buckets {
        let x = left + slot * bucket as f64 + (slot - bar) / 2.0;
        let mut y = height - bottom;
        for (group, values) in data.values.iter().enumerate() {
            let value = values.get(bucket).copied().unwrap_or(0.0);
            if value > 0.0 {
                let h = value * scale;
                y -= h;
                rects.push((x, y, h, group, bucket, value));
            }
        }
    }
    html! {
        figure {
            svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (width) " " (height) }
                role="img" aria-label=(data.title) style="width:100%;height:auto;background:#fff" {
                defs {
                    @for (index, fill) in FILLS.iter().enumerate() {
                        pattern id={ "p" (index) } width="6" height="6" patternUnits="userSpaceOnUse"
                            patternTransform={ "rotate(" (index * 30) ")" } {
                            rect width="6" height="6" fill=(fill) {}
                            @if index > 0 { line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width=(index.min(3)) {} }
                        }
                    }
                }
                text x="4" y="14" font-size="11" { (format_value(top)) " " (data.unit) }
                line x1=(left) y1=(height - bottom) x2=(width) y2=(height - bottom) stroke="#333" {}
                @for (x, y, h, group, bucket, value) in &rects {
                    rect x=(x) y=(y) width=(bar) height=(h) fill={ "url(#p" (group % FILLS.len()) ")" } {
                        title { (data.groups[*group]) ", " (data.buckets.get(*bucket).map_or("", String::as_str)) ": " (format_value(*value)) " " (data.unit) }
                    }
                }
                @for bucket in (0..buckets).step_by(label_every) {
                    text x=(left + slot * bucket as f64) y=(height - 8.0) font-size="10" { (data.buckets.get(bucket).map_or("", String::as_str)) }
                }
            }
            figcaption {
                (data.title) ". Stacked, bottom to top: "
                @for (index, group) in data.groups.iter().enumerate() {
                    span class="tag" {
                        svg width="12" height="12" aria-hidden="true" { rect width="12" height="12" fill={ "url(#p" (index % FILLS.len()) ")" } {} }
                        " " (group)
                    }
                }
            }
        }
    }
}

pub fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e12 {
        format!("{value:.0}")
    } else {
        format!("{value:.4}")
    }
}
