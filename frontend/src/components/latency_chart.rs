//! The latency of the newest pings: a sparkline drawn by the page itself (an inline SVG, no chart
//! library), with the median and the 99th percentile beside it.

use std::fmt::Write as _;

use yew::prelude::*;

use crate::latency::Latencies;

/// The sparkline's height in its own units; its width is two units per ping.
const HEIGHT: u64 = 40;

/// The sparkline's box: [`crate::latency::WINDOW`] points two units apart, [`HEIGHT`] high.
const VIEW_BOX: &str = "0 0 198 40";

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
/// as often, and costs the page about a kilobyte. The list of pings beside it keeps its rows
/// ([`crate::components::ping_item`]), which a new point does not touch.
pub fn latency_chart(latencies: &Latencies) -> Html {
    let (Some(p50), Some(p99)) = (latencies.percentile(50), latencies.percentile(99)) else {
        return html! {};
    };
    let figures = latencies.figures();
    let offset = latencies.offset_ms();
    let correction = if offset > 0 {
        format!("; this browser's clock is behind the server's: corrected by {offset} ms")
    } else {
        String::new()
    };
    html! {
        <figure id="latency" class="latency" data-points={figures.len().to_string()}
            data-p50={p50.to_string()} data-p99={p99.to_string()}>
            <svg viewBox={VIEW_BOX} preserveAspectRatio="none" aria-hidden="true">
                <polyline points={points(&figures)} />
            </svg>
            <figcaption>
                { format!("latency p50 {p50} ms, p99 {p99} ms (arrival less sending time, last {} pings{correction})", figures.len()) }
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
    fn the_box_fits_a_full_window_of_points() {
        assert_eq!(VIEW_BOX, format!("0 0 {} {HEIGHT}", (WINDOW - 1) * 2));
        let line = points(&[0, 5, 10]);
        assert_eq!(line, "0,39 2,20 4,1 ");
        assert_eq!(points(&[0, 0]), "0,39 2,39 ", "a flat line at the bottom");
    }
}
