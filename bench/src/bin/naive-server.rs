//! `naive-server`: the tutorial-style SSE baseline (see `bench::naive`).

use std::{net::SocketAddr, time::Duration};

use bench::naive::{self, TickClock};
use clap::Parser;

/// SSE the tutorial way: actix-web-lab's Sse, a task, an interval and a channel per client.
#[derive(Debug, Parser)]
#[command(name = "naive-server", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    addr: SocketAddr,
    /// Milliseconds between two pings.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(u64::MAX)?;
    let listener = bench::listener::bind(args.addr)?;
    let clock = TickClock::start(
        Duration::from_millis(args.interval_ms),
        u64::from(std::process::id()),
    );
    naive::serve(listener, clock)?.await?;
    Ok(())
}
