//! `floor-server`: the one-write-per-client-per-event baseline (see `bench::floor`).

use std::{net::SocketAddr, time::Duration};

use bench::floor::FloorServer;
use clap::Parser;

/// SSE with nothing but a socket list: one formatted event, one write() per client.
#[derive(Debug, Parser)]
#[command(name = "floor-server", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8082")]
    addr: SocketAddr,
    /// Milliseconds between two pings.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(u64::MAX)?;
    let listener = bench::listener::bind(args.addr)?;
    let server = FloorServer::start(
        listener,
        Duration::from_millis(args.interval_ms),
        u64::from(std::process::id()),
    )?;
    server.wait();
    Ok(())
}
