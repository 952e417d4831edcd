//! The latency of the newest pings: a sparkline drawn by the page itself (an inline SVG, no chart
//! library), with the median and the 99th percentile beside it.

use std::fmt::Write as _;

use yew::prelude::*;

use crate::latency::{Latencies, WINDOW};

/// The sparkline's height in its own units; its width is two units per ping.
const HEIGHT: u64 = 40;

/// The `points` of a polyline through `figures`, left to right, scaled to the largest: integers
/// only (formatting a float costs the page kilobytes).
pub fn points(figures: &[u64]) -> String {
    let top = figures.iter().copied().max().unwrap_or_default().max(1);
    let mut points = String::new();
    for (x, &ms) in figures.iter().enumerate() {
        let y = HEIGHT - ms.min(top) * (HEIGHT - 2) / top - 1;
        let _ = write!(points, "{},{y} ", x * 2);
    }
    points
}

/// The sparkline of the newest latencies with p50 and p99, or nothing before the first ping.
///
/// A view function, not a component: every new ping changes it, so a component would re-render
/// as often, and costs the page about a kilobyte. The list of pings beside it is a component of
/// its own whose rows are kept, not redrawn.
pub fn latency_chart(latencies: &Latencies) -> Html {
    let (Some(p50), Some(p99)) = (latencies.percentile(50), latencies.percentile(99)) else {
        return html! {};
    };
    let figures = latencies.figures();
    let offset = latencies.offset_ms();
    html! {
        <figure id="latency" class="latency" data-points={figures.len().to_string()}>
            <svg viewBox={format!("0 0 {} {HEIGHT}", (WINDOW - 1) * 2)} preserveAspectRatio="none" aria-hidden="true">
                <polyline points={points(&figures)} />
            </svg>
            <figcaption>
                { "latency p50 " }<strong data-p50={p50.to_string()}>{ format!("{p50} ms") }</strong>
                { " p99 " }<strong data-p99={p99.to_string()}>{ format!("{p99} ms") }</strong>
                <small>
                    { format!("arrival less sending time, last {} pings", figures.len()) }
                    if offset > 0 {
                        { format!("; this browser's clock is behind the server's, corrected by {offset} ms") }
                    }
                </small>
            </figcaption>
        </figure>
    }
}
