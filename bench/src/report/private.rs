//! The private-topics runs of a session (some or all clients holding subscriber tokens) set
//! against plain ours of the same round: what the tokens cost at connect (time and the server's
//! CPU over the connect phase), per ping delivered and per write (pings and heartbeats). Round
//! by round, since only a ratio within one round holds on a shared machine, with the median over
//! the rounds.

use std::{collections::BTreeSet, fmt::Write as _};

use super::{OURS, list, median, ratio, times};
use crate::load::RunResult;

/// One figure of a run, to set beside ours'.
type Figure = fn(&RunResult) -> Option<f64>;

/// The server's CPU over the window per write it made: every delivered event and every
/// heartbeat (what idle topic streams get instead of pings).
fn cpu_us_per_write(run: &RunResult) -> Option<f64> {
    let writes = run.delivered + run.heartbeats;
    run.cpu_ms
        .filter(|_| writes > 0)
        .map(|ms| ms * 1000.0 / writes as f64)
}

/// The rows of one load: ours, then every server with token holders that ran there, each with
/// its figures by round and the median of its per-round ratios to ours.
fn private_rows(all: &[RunResult], clients: usize, out: &mut String) {
    let at_load = |server: &str| -> Vec<&RunResult> {
        all.iter()
            .filter(|run| run.server == server && run.clients == clients)
            .collect()
    };
    let ours = at_load(OURS);
    let mut servers: Vec<&str> = vec![OURS];
    for run in all.iter().filter(|run| run.clients == clients) {
        if run.private.is_some() && !servers.contains(&run.server.as_str()) {
            servers.push(&run.server);
        }
    }
    let figures: [(Figure, usize); 5] = [
        (|run| run.connect_ms, 0),
        (|run| run.connect_cpu_ms, 0),
        (|run| run.cpu_us_per_event, 2),
        (cpu_us_per_write, 2),
        (|run| run.latency.map(|lat| lat.p99_ms), 1),
    ];
    for server in servers {
        let runs = at_load(server);
        if runs.is_empty() {
            continue;
        }
        let holders = runs[0].private.as_ref().map_or_else(
            || "none".to_owned(),
            |private| {
                let tokens = if private.tokens { "" } else { ", no token" };
                format!("{} ({}{tokens})", private.holders, private.streams)
            },
        );
        let mut row = format!("| {server} | {clients} | {holders} | {} |", runs.len());
        for (figure, decimals) in figures {
            let values: Vec<Option<f64>> = runs.iter().map(|run| figure(run)).collect();
            let to_ours: Vec<Option<f64>> = runs
                .iter()
                .enumerate()
                .map(|(round, run)| ratio(figure(run), ours.get(round).and_then(|o| figure(o))))
                .collect();
            let _ = write!(
                row,
                " {} | {} |",
                list(&values, |value| format!("{value:.decimals$}")),
                times(median(&to_ours)),
            );
        }
        out.push_str(&row);
        out.push('\n');
    }
}

/// The private-topics table, empty when no run had token holders: for each load, ours and the
/// servers whose clients held tokens, each figure by round and its median ratio to ours of the
/// same round (the k-th run of a server with ours' k-th: `scripts/bench.sh` runs them in that
/// order).
pub fn render_private(all: &[RunResult]) -> String {
    let loads: BTreeSet<usize> = all
        .iter()
        .filter(|run| run.private.is_some())
        .map(|run| run.clients)
        .collect();
    let mut rows = String::new();
    for &clients in &loads {
        private_rows(all, clients, &mut rows);
    }
    if rows.is_empty() {
        return rows;
    }
    let mut out = String::from(
        "Subscriber tokens beside anonymous ours, round by round (×ours: the median of each \
         round's ratio to ours of that round; connect CPU is the server's over the connect \
         phase; a write is a delivered event or a heartbeat):\n\n",
    );
    out.push_str(
        "| server | clients | token holders | rounds | connect ms by round | ×ours | connect CPU ms by round | ×ours | µs CPU/event by round | ×ours | µs CPU/write by round | ×ours | p99 ms by round | ×ours |\n",
    );
    out.push_str("|---|---:|---|---:|---|---:|---|---:|---|---:|---|---:|---|---:|\n");
    out.push_str(&rows);
    out
}
