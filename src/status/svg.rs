//! Inline SVG line charts: no script, no external assets, readable in any browser or a text dump of the page.

use std::fmt::Write as _;

/// One line of a chart: a name, a CSS colour and its (time, value) points.
pub struct Line<'a> {
    /// Legend text.
    pub name: &'a str,
    /// Stroke colour.
    pub color: &'a str,
    /// Points, oldest first.
    pub points: Vec<(f64, f64)>,
}

const W: f64 = 360.0;
const H: f64 = 130.0;
const PAD_L: f64 = 34.0;
const PAD_B: f64 = 16.0;
const PAD_T: f64 = 30.0;

/// A round upper bound for the y axis (1, 2, 5 x 10^n), at least 1.
fn nice_max(v: f64) -> f64 {
    // NaN and anything up to 1 get the smallest axis.
    if v.is_nan() || v <= 1.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * mag)
}

/// Formats a value for a label: integers without decimals, small values with up to 3.
pub fn fmt_num(v: f64) -> String {
    if (v.fract() == 0.0 && v.abs() < 1e12) || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders a chart titled `title` over the last `span` seconds ending at `now`.
pub fn chart(title: &str, lines: &[Line<'_>], now: f64, span: f64) -> String {
    let max = nice_max(
        lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let x = |t: f64| PAD_L + (W - PAD_L - 4.0) * (1.0 - ((now - t) / span).clamp(0.0, 1.0));
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - (v / max).clamp(0.0, 1.0));
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{t}\">\
         <text x=\"{PAD_L}\" y=\"12\" class=\"ct\">{t}</text>\
         <line x1=\"{PAD_L}\" y1=\"{yb}\" x2=\"{xr}\" y2=\"{yb}\" class=\"ax\"/>\
         <line x1=\"{PAD_L}\" y1=\"{PAD_T}\" x2=\"{xr}\" y2=\"{PAD_T}\" class=\"gr\"/>\
         <text x=\"{lx}\" y=\"{yt}\" class=\"yl\">{m}</text><text x=\"{lx}\" y=\"{yb}\" class=\"yl\">0</text>\
         <text x=\"{PAD_L}\" y=\"{H}\" class=\"xl\">-{mins} min</text><text x=\"{xr}\" y=\"{H}\" class=\"xl\" text-anchor=\"end\">now</text>",
        t = esc(title),
        yb = H - PAD_B,
        xr = W - 4.0,
        lx = PAD_L - 4.0,
        yt = PAD_T + 4.0,
        m = fmt_num(max),
        mins = (span / 60.0).round(),
    );
    let mut legend_x = PAD_L;
    for l in lines {
        if l.points.len() > 1 {
            let pts: Vec<String> = l
                .points
                .iter()
                .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
                .collect();
            let _ = write!(
                s,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" points=\"{}\"/>",
                l.color,
                pts.join(" ")
            );
        }
        let last = l
            .points
            .last()
            .map(|p| fmt_num(p.1))
            .unwrap_or_else(|| "–".into());
        let _ = write!(
            s,
            "<text x=\"{legend_x}\" y=\"25\" class=\"lg\" fill=\"{}\">{} {}</text>",
            l.color,
            esc(l.name),
            last
        );
        legend_x += 110.0;
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_and_escaping() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(23.0), 50.0);
        assert_eq!(esc("<a&\"b'>"), "&lt;a&amp;&quot;b&#39;&gt;");
        let svg = chart(
            "Calls <now>",
            &[Line {
                name: "calls",
                color: "#36c",
                points: vec![(0.0, 1.0), (60.0, 3.0)],
            }],
            60.0,
            600.0,
        );
        assert!(
            svg.contains("Calls &lt;now&gt;")
                && svg.contains("<polyline")
                && svg.contains("calls 3")
        );
    }
}
