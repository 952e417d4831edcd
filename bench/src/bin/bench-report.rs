//! `bench-report`: turn a results file of `loadgen` lines into the markdown report.

use std::path::PathBuf;

use anyhow::Context as _;
use bench::report::{self, Machine};
use clap::Parser;

/// Print the benchmark table, the ratios and the targets for a results file.
#[derive(Debug, Parser)]
#[command(name = "bench-report", version)]
struct Args {
    /// JSON-lines file written by `loadgen --out`.
    results: PathBuf,
    /// Also replace the generated section of this markdown file (BENCHMARKS.md) with the report.
    #[arg(long)]
    update: Option<PathBuf>,
    /// Exit with status 1 unless every run connected all clients with no error, gap or duplicate.
    #[arg(long)]
    require_clean: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let all = report::read_results(&args.results)?;
    anyhow::ensure!(!all.is_empty(), "{} holds no runs", args.results.display());
    let runs = report::median_runs(&all);
    if runs.len() < all.len() {
        eprintln!(
            "{} runs, {} kept: of repeated ones, the median by p99 latency",
            all.len(),
            runs.len()
        );
    }
    let mut text = report::render(&runs, &Machine::this_one());
    let rounds = report::render_rounds(&all);
    if !rounds.is_empty() {
        text.push('\n');
        text.push_str(&rounds);
    }
    let private = report::render_private(&all);
    if !private.is_empty() {
        text.push('\n');
        text.push_str(&private);
    }
    println!("{text}");
    if let Some(path) = &args.update {
        let document =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let updated = report::replace_section(&document, &text, &path.display().to_string())?;
        std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("updated {}", path.display());
    }
    if args.require_clean && !report::all_clean(&runs) {
        eprintln!("bench-report: some runs had errors, gaps, duplicates or missing clients");
        std::process::exit(1);
    }
    Ok(())
}
