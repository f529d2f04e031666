//! One self-contained HTML page from a [`Summary`]: inline CSS, inline SVG,
//! no script, every text escaped.

use std::fmt::Write as _;
use std::time::Duration;

use super::summary::Summary;
use crate::Timestamp;

/// What the page is rendered for.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// The report's `now` (coverage gaps are measured against it).
    pub now: Timestamp,
    /// A source silent for longer than this is a coverage gap.
    pub silence_threshold: Duration,
    /// Page title.
    pub title: String,
    /// Rows shown in top-N tables.
    pub top_n: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            now: Timestamp::EPOCH,
            silence_threshold: Duration::from_secs(15 * 60),
            title: "mesh report".to_owned(),
            top_n: 10,
        }
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD HH:MM UTC`.
fn fmt_time(t: Timestamp) -> String {
    let s = t.unix_seconds();
    let (y, m, d) = civil(s.div_euclid(86_400));
    let sod = s.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        sod / 3600,
        (sod % 3600) / 60
    )
}

fn fmt_dur(d: Duration) -> String {
    let s = d.as_secs();
    if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 172_800 {
        format!("{} h", s / 3600)
    } else {
        format!("{} days", s / 86_400)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Fills for series: colour plus a pattern, so colour is never the only cue.
const FILLS: [(&str, &str); 6] = [
    ("#2e7d32", "none"),
    ("#c62828", "url(#p-hatch)"),
    ("#b26a00", "url(#p-dots)"),
    ("#1565c0", "url(#p-cross)"),
    ("#6a1b9a", "url(#p-vert)"),
    ("#37474f", "url(#p-horiz)"),
];
const DASHES: [&str; 6] = ["", "6 3", "2 3", "10 3 2 3", "1 5", "12 4"];

fn fill(i: usize) -> (&'static str, &'static str) {
    FILLS
        .get(i % FILLS.len())
        .copied()
        .unwrap_or(("#000", "none"))
}

const DEFS: &str = r##"<svg width="0" height="0" aria-hidden="true" style="position:absolute"><defs>
<pattern id="p-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#c62828"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern>
<pattern id="p-dots" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#b26a00"/><circle cx="3" cy="3" r="1.4" fill="#fff"/></pattern>
<pattern id="p-cross" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#1565c0"/><path d="M0 3H6M3 0V6" stroke="#fff" stroke-width="1"/></pattern>
<pattern id="p-vert" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#6a1b9a"/><line x1="2" y1="0" x2="2" y2="5" stroke="#fff" stroke-width="1.5"/></pattern>
<pattern id="p-horiz" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#37474f"/><line x1="0" y1="2" x2="5" y2="2" stroke="#fff" stroke-width="1.5"/></pattern>
</defs></svg>"##;

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1a1a1a;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:1rem 1.25rem 3rem}
header{border-bottom:3px solid #1a1a1a;margin-bottom:1rem}
h1{font-size:1.75rem;margin:.5rem 0}
h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:1px solid #bbb}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.25rem 1rem 1rem;margin:1rem 0}
.meta{color:#444;margin:.25rem 0 .75rem}
.kpis{display:flex;flex-wrap:wrap;gap:.75rem;margin:.5rem 0}
.kpi{flex:1 1 10rem;border:1px solid #ccc;border-radius:6px;padding:.5rem .75rem;background:#fff}
.kpi b{display:block;font-size:1.5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.95rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f3}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.gap{color:#8b0000;font-weight:700}
.ok{color:#1b5e20}
.badge{display:inline-block;border:1px solid currentColor;border-radius:3px;padding:0 .35rem;font-size:.85rem;font-weight:700}
svg.chart{width:100%;height:auto;display:block;background:#fff}
.legend{display:flex;flex-wrap:wrap;gap:1rem;margin:.25rem 0;font-size:.9rem}
.legend svg{vertical-align:middle;margin-right:.3rem}
.note{color:#444;font-size:.9rem}
.warn{border-left:4px solid #b26a00;padding:.25rem .75rem;background:#fff8e1}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9em;word-break:break-all}
"#;

fn legend(out: &mut String, names: &[String], lines: bool) {
    out.push_str("<div class=\"legend\">");
    for (i, n) in names.iter().enumerate() {
        let (c, p) = fill(i);
        let swatch = if lines {
            let dash = DASHES.get(i % DASHES.len()).copied().unwrap_or("");
            format!("<svg width=\"28\" height=\"12\" aria-hidden=\"true\"><line x1=\"0\" y1=\"6\" x2=\"28\" y2=\"6\" stroke=\"{c}\" stroke-width=\"3\" stroke-dasharray=\"{dash}\"/></svg>")
        } else {
            let f = if p == "none" { c } else { p };
            format!("<svg width=\"16\" height=\"16\" aria-hidden=\"true\"><rect width=\"16\" height=\"16\" fill=\"{f}\" stroke=\"#000\"/></svg>")
        };
        let _ = write!(out, "<span>{swatch}{}</span>", esc(n));
    }
    out.push_str("</div>");
}

const W: f64 = 760.0;
const H: f64 = 220.0;
const L: f64 = 56.0;
const B: f64 = 30.0;

fn axes(out: &mut String, max: u64, first: i64, last: i64, unit: &str) {
    let plot_h = H - B - 10.0;
    for k in 0..=4u32 {
        let v = (max as f64) * f64::from(k) / 4.0;
        let y = 10.0 + plot_h - plot_h * f64::from(k) / 4.0;
        let _ = write!(out, "<line x1=\"{L}\" y1=\"{y:.1}\" x2=\"{W}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>", L - 4.0, y + 4.0, if max < 8 { format!("{v:.1}") } else { format!("{}", v.round()) });
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
        (L + W) / 2.0,
        H - 8.0,
        esc(unit)
    );
    let _ = write!(out, "<text x=\"{L}\" y=\"{:.1}\" font-size=\"11\">{}</text><text x=\"{W}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>", H - 8.0, esc(&fmt_time(Timestamp::from_unix_millis(first))), H - 8.0, esc(&fmt_time(Timestamp::from_unix_millis(last))));
}

/// Stacked bars: one bar per bucket, one segment per category.
fn stacked_bars(
    out: &mut String,
    label: &str,
    rows: &[(i64, Vec<u64>)],
    names: &[String],
    unit: &str,
) {
    let max = rows
        .iter()
        .map(|(_, v)| v.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = rows.len().max(1) as f64;
    let bw = (W - L) / n;
    let plot_h = H - B - 10.0;
    let _ = write!(out, "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\"><title>{}</title>", esc(label), esc(label));
    let first = rows.first().map_or(0, |r| r.0);
    let last = rows.last().map_or(0, |r| r.0);
    axes(out, max, first, last, unit);
    for (i, (t, vals)) in rows.iter().enumerate() {
        let x = L + bw * i as f64;
        let mut y = 10.0 + plot_h;
        for (j, v) in vals.iter().enumerate() {
            if *v == 0 {
                continue;
            }
            let h = plot_h * (*v as f64) / (max as f64);
            y -= h;
            let (c, p) = fill(j);
            let f = if p == "none" { c } else { p };
            let name = names.get(j).map(String::as_str).unwrap_or("");
            let _ = write!(out, "<rect x=\"{x:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{h:.2}\" fill=\"{f}\" stroke=\"#fff\" stroke-width=\"0.5\"><title>{}: {} {}</title></rect>", (bw * 0.9).max(0.5), esc(&fmt_time(Timestamp::from_unix_millis(*t))), esc(name), v);
        }
    }
    out.push_str("</svg>");
    legend(out, names, false);
}

/// Lines: one line per category over the buckets.
fn lines(out: &mut String, label: &str, rows: &[(i64, Vec<u64>)], names: &[String], unit: &str) {
    let max = rows
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = rows.len();
    let step = if n > 1 {
        (W - L - 10.0) / (n - 1) as f64
    } else {
        0.0
    };
    let plot_h = H - B - 10.0;
    let _ = write!(out, "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\"><title>{}</title>", esc(label), esc(label));
    let first = rows.first().map_or(0, |r| r.0);
    let last = rows.last().map_or(0, |r| r.0);
    axes(out, max, first, last, unit);
    for (j, name) in names.iter().enumerate() {
        let (c, _) = fill(j);
        let dash = DASHES.get(j % DASHES.len()).copied().unwrap_or("");
        let mut pts = String::new();
        for (i, (_, v)) in rows.iter().enumerate() {
            let val = v.get(j).copied().unwrap_or(0);
            let x = L + 5.0 + step * i as f64;
            let y = 10.0 + plot_h - plot_h * (val as f64) / (max as f64);
            let _ = write!(pts, "{x:.1},{y:.1} ");
        }
        let _ = write!(out, "<polyline points=\"{}\" fill=\"none\" stroke=\"{c}\" stroke-width=\"2.5\" stroke-dasharray=\"{dash}\"><title>{}</title></polyline>", pts.trim_end(), esc(name));
    }
    out.push_str("</svg>");
    legend(out, names, true);
}

/// Horizontal bars with the label and the value written beside each bar.
fn hbars(out: &mut String, label: &str, items: &[(String, u64)], unit: &str) {
    if items.is_empty() {
        out.push_str("<p class=\"note\">None recorded.</p>");
        return;
    }
    let max = items.iter().map(|i| i.1).max().unwrap_or(1).max(1);
    let row = 24.0;
    let h = row * items.len() as f64 + 8.0;
    let lw = 260.0;
    let _ = write!(out, "<svg class=\"chart\" viewBox=\"0 0 {W} {h}\" role=\"img\" aria-label=\"{}\"><title>{}</title>", esc(label), esc(label));
    for (i, (name, v)) in items.iter().enumerate() {
        let y = 4.0 + row * i as f64;
        let bw = (W - lw - 110.0) * (*v as f64) / (max as f64);
        let shown: String = name.chars().take(38).collect();
        let unit = if *v == 1 {
            unit.strip_suffix('s').unwrap_or(unit)
        } else {
            unit
        };
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{lw}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"url(#p-cross)\"><title>{}: {} {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{} {}</text>", lw - 6.0, y + 15.0, esc(&shown), row - 6.0, esc(name), v, esc(unit), lw + bw + 6.0, y + 15.0, v, esc(unit));
    }
    out.push_str("</svg>");
}

fn severity_name(id: u8) -> &'static str {
    match id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        6 => "Fatal",
        _ => "Unknown",
    }
}

/// Renders the summary as one self-contained HTML page (no script, no
/// external asset). All text from the data is escaped.
pub fn render_html(s: &Summary, o: &RenderOptions) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let title = esc(&o.title);
    let _ = write!(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"><title>{title}</title><style>{CSS}</style></head><body>{DEFS}<main><header><h1>{title}</h1>");
    let _ = write!(out, "<p class=\"meta\">Generated for {} · time buckets of {} · silence threshold {}</p></header>", esc(&fmt_time(o.now)), fmt_dur(Duration::from_millis(s.limits.bucket_ms.unsigned_abs())), fmt_dur(o.silence_threshold));
    let cov = s.coverage(o.now, o.silence_threshold);
    let gaps = cov.iter().filter(|c| c.gap).count() as u64;
    let t = &s.totals;
    let _ = write!(out, "<div class=\"kpis\"><div class=\"kpi\"><b>{}</b>events</div><div class=\"kpi\"><b>{}</b>decisions ({} denied)</div><div class=\"kpi\"><b>{}</b>detection findings</div><div class=\"kpi\"><b>{}</b>of {} sources silent</div></div>", t.events, t.decisions.total(), t.decisions.deny, t.findings, gaps, cov.len());
    let d = &s.dropped;
    if d.bucket_points + d.table_keys + d.invalid_records > 0 {
        let _ = write!(out, "<p class=\"warn\">Partial view: {} outside the kept time window, {} beyond the table caps, {} not usable. Totals still count them.</p>", plural(d.bucket_points, "observation", "observations"), plural(d.table_keys, "new key", "new keys"), plural(d.invalid_records, "record", "records"));
    }

    // Coverage
    out.push_str("<section id=\"coverage\"><h2>Coverage</h2>");
    if cov.is_empty() {
        out.push_str("<p class=\"note\">No source has reported.</p>");
    } else {
        let _ = write!(out, "<p>{} reporting, <span class=\"{}\">{} silent for longer than {} (coverage gap)</span>.</p>", plural(cov.len() as u64 - gaps, "source", "sources"), if gaps > 0 { "gap" } else { "ok" }, plural(gaps, "source", "sources"), fmt_dur(o.silence_threshold));
        out.push_str("<table><caption class=\"note\">Sources seen, gaps first</caption><thead><tr><th scope=\"col\">Status</th><th scope=\"col\">Source</th><th scope=\"col\" class=\"n\">Events</th><th scope=\"col\">Last seen</th><th scope=\"col\" class=\"n\">Silent for</th></tr></thead><tbody>");
        for c in &cov {
            let status = if c.gap {
                "<span class=\"gap badge\">✖ GAP — silent</span>"
            } else {
                "<span class=\"ok badge\">✔ reporting</span>"
            };
            let _ = write!(out, "<tr><td>{status}</td><td><code>{}</code></td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td></tr>", esc(&c.name), plural(c.seen.events, "event", "events"), esc(&fmt_time(c.seen.last_seen)), fmt_dur(c.silent_for));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // Events by class
    out.push_str("<section id=\"events\"><h2>Events by OCSF class over time</h2>");
    let mut classes: Vec<(u32, u64)> = s.class_totals.iter().map(|(k, v)| (*k, *v)).collect();
    classes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let class_label = |c: u32| match s.class_names.get(&c) {
        Some(n) => format!("{n} ({c})"),
        None => format!("class {c}"),
    };
    if classes.is_empty() {
        out.push_str("<p class=\"note\">No events.</p>");
    } else {
        let shown: Vec<u32> = classes.iter().take(6).map(|c| c.0).collect();
        let names: Vec<String> = shown.iter().map(|c| class_label(*c)).collect();
        let rows: Vec<(i64, Vec<u64>)> = s
            .events_by_class
            .iter()
            .map(|(t, m)| {
                (
                    *t,
                    shown
                        .iter()
                        .map(|c| m.get(c).copied().unwrap_or(0))
                        .collect(),
                )
            })
            .collect();
        lines(
            &mut out,
            "Events per OCSF class per time bucket (top 6 classes)",
            &rows,
            &names,
            "events per bucket",
        );
        out.push_str("<table><thead><tr><th scope=\"col\">OCSF class</th><th scope=\"col\" class=\"n\">Events</th></tr></thead><tbody>");
        for (c, n) in &classes {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(&class_label(*c)),
                plural(*n, "event", "events")
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // Decisions
    out.push_str("<section id=\"decisions\"><h2>Decisions over time</h2>");
    let dt = &t.decisions;
    let _ = write!(
        out,
        "<p>{} allowed, {} denied, {} challenged (of {} decisions).</p>",
        dt.allow,
        dt.deny,
        dt.challenge,
        dt.total()
    );
    if !s.decisions.is_empty() {
        let rows: Vec<(i64, Vec<u64>)> = s
            .decisions
            .iter()
            .map(|(t, c)| (*t, vec![c.allow, c.deny, c.challenge]))
            .collect();
        let names = vec![
            "Allow".to_owned(),
            "Deny (hatched)".to_owned(),
            "Challenge (dotted)".to_owned(),
        ];
        stacked_bars(
            &mut out,
            "Allow, deny and challenge decisions per time bucket",
            &rows,
            &names,
            "decisions per bucket",
        );
    }
    for (heading, id, map) in [
        ("Top denied subjects", "denied-subjects", &s.denied_subjects),
        ("Top deny policies", "deny-policies", &s.deny_policies),
    ] {
        let _ = write!(out, "<h3 id=\"{id}\">{heading}</h3>");
        let top: Vec<(String, u64)> = Summary::top(map, o.top_n)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        hbars(&mut out, heading, &top, "denials");
        if !top.is_empty() {
            let _ = write!(out, "<table><thead><tr><th scope=\"col\">{}</th><th scope=\"col\" class=\"n\">Denials</th></tr></thead><tbody>", if id == "denied-subjects" { "Subject" } else { "Policy" });
            for (k, v) in &top {
                let _ = write!(
                    out,
                    "<tr><td><code>{}</code></td><td class=\"n\">{}</td></tr>",
                    esc(k),
                    plural(*v, "denial", "denials")
                );
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</section>");

    // Findings
    out.push_str("<section id=\"findings\"><h2>Findings by severity and ATT&amp;CK technique</h2>");
    let _ = write!(
        out,
        "<p>{}.</p><h3>By severity</h3>",
        plural(t.findings, "detection finding", "detection findings")
    );
    let sev: Vec<(String, u64)> = s
        .findings_by_severity
        .iter()
        .rev()
        .map(|(k, v)| (severity_name(*k).to_owned(), *v))
        .collect();
    hbars(&mut out, "Detection findings by severity", &sev, "findings");
    out.push_str("<h3>By ATT&amp;CK technique</h3>");
    let mut tech: Vec<(&String, &super::summary::TechniqueCount)> =
        s.findings_by_technique.iter().collect();
    tech.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    tech.truncate(o.top_n.max(1) * 2);
    if tech.is_empty() {
        out.push_str("<p class=\"note\">None recorded.</p>");
    } else {
        let items: Vec<(String, u64)> = tech
            .iter()
            .map(|(k, v)| (format!("{k} {}", v.name), v.count))
            .collect();
        hbars(
            &mut out,
            "Detection findings by ATT&CK technique",
            &items,
            "findings",
        );
        out.push_str("<table><thead><tr><th scope=\"col\">Technique</th><th scope=\"col\">Name</th><th scope=\"col\" class=\"n\">Findings</th></tr></thead><tbody>");
        for (k, v) in &tech {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td></tr>",
                esc(k),
                esc(&v.name),
                plural(v.count, "finding", "findings")
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // Posture
    out.push_str("<section id=\"posture\"><h2>Posture compliance by rule</h2>");
    if s.compliance.is_empty() {
        out.push_str("<p class=\"note\">No compliance findings.</p>");
    } else {
        let failing = s
            .compliance
            .values()
            .filter(|r| r.last_status == "fail")
            .count();
        let _ = write!(
            out,
            "<p>{} evaluated; {} currently failing.</p>",
            plural(s.compliance.len() as u64, "rule", "rules"),
            plural(failing as u64, "rule", "rules")
        );
        let mut rules: Vec<_> = s.compliance.iter().collect();
        rules.sort_by_key(|(k, r)| {
            (
                match r.last_status.as_str() {
                    "fail" => 0,
                    "warning" => 1,
                    "unknown" => 2,
                    _ => 3,
                },
                (*k).clone(),
            )
        });
        out.push_str("<table><thead><tr><th scope=\"col\">Latest status</th><th scope=\"col\">Rule</th><th scope=\"col\" class=\"n\">Pass</th><th scope=\"col\" class=\"n\">Warning</th><th scope=\"col\" class=\"n\">Fail</th><th scope=\"col\" class=\"n\">Compliant</th><th scope=\"col\">Last evaluated</th></tr></thead><tbody>");
        for (k, r) in rules {
            let badge = match r.last_status.as_str() {
                "fail" => "<span class=\"gap badge\">✖ FAIL</span>",
                "warning" => "<span class=\"badge\" style=\"color:#7a4a00\">! WARNING</span>",
                "pass" => "<span class=\"ok badge\">✔ PASS</span>",
                _ => "<span class=\"badge\">? UNKNOWN</span>",
            };
            let n = r.pass + r.warning + r.fail + r.other;
            let pct = r.pass.saturating_mul(100).checked_div(n).unwrap_or(0);
            let _ = write!(out, "<tr><td>{badge}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{pct} %</td><td>{}</td></tr>", esc(k), r.pass, r.warning, r.fail, esc(&fmt_time(r.last_time)));
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // Revision
    out.push_str("<section id=\"revision\"><h2>Active bundle revision</h2>");
    match s.revision {
        Some((rev, at)) => {
            let _ = write!(
                out,
                "<p>Revision <b>{rev}</b>{} (last seen deciding at {}).</p>",
                if rev == 0 {
                    " (inline configuration, no signed bundle)"
                } else {
                    ""
                },
                esc(&fmt_time(at))
            );
        }
        None => out.push_str("<p class=\"note\">No decision recorded: revision unknown.</p>"),
    }
    out.push_str("</section></main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(
            fmt_time(Timestamp::from_unix_millis(0)),
            "1970-01-01 00:00 UTC"
        );
        assert_eq!(
            fmt_time(Timestamp::from_unix_seconds(1_709_251_260)),
            "2024-03-01 00:01 UTC"
        );
    }

    #[test]
    fn escapes_everything() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod page_tests {
    use super::*;
    use crate::report::DecisionRecord;
    use serde_json::json;

    fn sample() -> Summary {
        let mut s = Summary::default();
        let now = Timestamp::from_unix_seconds(100_000);
        let evil = "<script>alert(1)</script>\"'&";
        s.observe_ocsf(&json!({"class_uid": 3002, "class_name": evil, "time": 99_000_000, "metadata": {"product": {"name": evil}}}), now).unwrap();
        s.observe_ocsf(&json!({"class_uid": 2003, "time": 99_000_000, "compliance": {"control": evil, "status_id": 3}}), now).unwrap();
        s.observe_ocsf(&json!({"class_uid": 2004, "severity_id": 5, "time": 99_000_000, "finding_info": {"attacks": [{"technique": {"uid": evil, "name": evil}}]}}), now).unwrap();
        s.observe_decision_record(&DecisionRecord {
            time: Timestamp::from_unix_seconds(99_000),
            outcome: "deny".into(),
            principal: Some(evil.into()),
            policies: vec![evil.into()],
            revision: 42,
        });
        s
    }

    #[test]
    fn sections_present() {
        let s = sample();
        let html = render_html(
            &s,
            &RenderOptions {
                now: Timestamp::from_unix_seconds(100_000),
                ..RenderOptions::default()
            },
        );
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.contains("<title>mesh report</title>"));
        for h in [
            "Coverage",
            "Events by OCSF class over time",
            "Decisions over time",
            "Top denied subjects",
            "Top deny policies",
            "Findings by severity and ATT&amp;CK technique",
            "Posture compliance by rule",
            "Active bundle revision",
        ] {
            assert!(html.contains(&format!(">{h}</h")), "missing {h}");
        }
        assert!(
            html.contains("GAP — silent"),
            "the gap is written, not only coloured"
        );
        assert!(html.contains("Revision <b>42</b>"));
        assert!(html.contains("role=\"img\" aria-label="));
        assert!(
            !html.contains("<script") && !html.contains("http://") && !html.contains("https://")
        );
    }

    #[test]
    fn data_cannot_inject_markup() {
        let html = render_html(
            &sample(),
            &RenderOptions {
                title: "<b>t</b>".into(),
                ..RenderOptions::default()
            },
        );
        assert!(!html.contains("<script"));
        assert!(!html.contains("<b>t</b>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
        // every '<' in the page starts a known tag
        for part in html.split('<').skip(1) {
            let c = part.chars().next().unwrap();
            assert!(
                c.is_ascii_alphabetic() || c == '/' || c == '!',
                "stray < before {part:.20}"
            );
        }
    }
}
