//! The latency of the newest live pings: a chart drawn by the page itself (an inline SVG, no
//! chart library) across the row's width, with its p50 and p99 as lines, the scale beside it and
//! both figures below.

use std::fmt::Write as _;

use yew::prelude::*;

use crate::latency::{Latencies, ms_text};

/// The chart's height in its own units; its width is two units per ping.
const HEIGHT: u64 = 40;

/// The chart's width in its own units for `points` points, two units apart (at least one unit).
/// The SVG is stretched to the row's width (`preserveAspectRatio="none"`; the style sheet keeps
/// its strokes one pixel wide), so the first few pings already span it.
fn width(points: usize) -> usize {
    (points.saturating_sub(1) * 2).max(1)
}

/// The top of the scale for `figures`: the largest (at least 1 µs).
fn top(figures: &[u64]) -> u64 {
    figures.iter().copied().max().unwrap_or_default().max(1)
}

/// Where `us` is drawn on a scale up to `top`, from the chart's top edge: integers only
/// (formatting a float costs the page kilobytes).
fn y(us: u64, top: u64) -> u64 {
    HEIGHT - us.min(top) * (HEIGHT - 2) / top - 1
}

/// The `points` of a polyline through `figures`, left to right, scaled to the largest.
pub fn points(figures: &[u64]) -> String {
    let top = top(figures);
    let mut points = String::new();
    for (x, &us) in figures.iter().enumerate() {
        let _ = write!(points, "{},{} ", x * 2, y(us, top));
    }
    points
}

/// The chart's markup: the scale, then the SVG with a line each for `p50` and `p99` and the
/// polyline through `figures`. Written as text and handed to the browser whole rather than
/// built node by node with `html!`, which cost the page 1.7 KB more for these few elements.
fn chart(figures: &[u64], p50: u64, p99: u64) -> String {
    let (top, width) = (top(figures), width(figures.len()));
    let mut chart = format!(
        r#"<div class="latency__chart"><div class="latency__axis" aria-hidden="true"><span>{}</span><span>0</span></div><svg viewBox="0 0 {width} {HEIGHT}" preserveAspectRatio="none" aria-hidden="true">"#,
        ms_text(top)
    );
    for (class, us) in [("p99", p99), ("p50", p50)] {
        let y = y(us, top);
        let _ = write!(
            chart,
            r#"<line class="latency__{class}" x1="0" x2="{width}" y1="{y}" y2="{y}"/>"#
        );
    }
    let _ = write!(
        chart,
        r#"<polyline points="{}"/></svg></div>"#,
        points(figures)
    );
    chart
}

/// The chart of the newest live latencies with p50 and p99, or nothing before the first live
/// ping.
///
/// A view function, not a component: every new ping changes it, so a component would re-render
/// as often, and costs the page about a kilobyte. The list of pings beside it keeps its rows
/// ([`crate::components::ping_item`]), which a new point does not touch.
pub fn latency_chart(latencies: &Latencies) -> Html {
    let (Some(p50), Some(p99)) = (latencies.percentile(50), latencies.percentile(99)) else {
        return html! {};
    };
    let figures = latencies.figures();
    let offset = latencies.offset_us();
    let correction = if offset > 0 {
        format!(
            "; this browser's clock is behind the server's: corrected by {}",
            ms_text(offset)
        )
    } else {
        String::new()
    };
    html! {
        <figure id="latency" class="latency" data-points={figures.len().to_string()}
            data-p50-us={p50.to_string()} data-p99-us={p99.to_string()}
            data-top-us={top(&figures).to_string()}>
            { Html::from_html_unchecked(chart(&figures, p50, p99).into()) }
            <figcaption>
                { format!(
                    "delivery latency of the last {} live pings (arrival less sending time): p50 {} (dashed), p99 {} (dotted){correction}",
                    figures.len(),
                    ms_text(p50),
                    ms_text(p99),
                ) }
            </figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::*;
    use crate::latency::WINDOW;

    #[wasm_bindgen_test(unsupported = test)]
    fn the_box_fits_its_points_from_the_first_to_a_full_window() {
        assert_eq!(width(WINDOW), 198);
        assert_eq!(width(3), 4);
        assert_eq!(width(1), 1, "one point: a box all the same");
        assert!(chart(&[0, 5, 10], 5, 10).contains(r#"viewBox="0 0 4 40""#));
        let line = points(&[0, 5, 10]);
        assert_eq!(line, "0,39 2,20 4,1 ");
        assert_eq!(points(&[0, 0]), "0,39 2,39 ", "a flat line at the bottom");
    }
}
