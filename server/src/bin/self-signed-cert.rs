//! `self-signed-cert DIR`: write a new self-signed certificate for `localhost`, `127.0.0.1` and
//! `::1` to `DIR/cert.pem`, and its key to `DIR/key.pem`, for serving HTTPS locally
//! (`server --tls-cert DIR/cert.pem --tls-key DIR/key.pem`). The README says how to make a
//! browser trust it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use server::tls::{LOCAL_NAMES, SelfSigned};

/// Make a self-signed certificate for this machine (localhost, 127.0.0.1, ::1).
#[derive(Debug, Parser)]
#[command(name = "self-signed-cert", version)]
struct Args {
    /// Folder to write cert.pem and key.pem into (made if missing; existing files replaced).
    dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pair = SelfSigned::for_localhost().context("generating the certificate")?;
    let (cert, key) = pair
        .write_to(&args.dir)
        .with_context(|| format!("writing into {}", args.dir.display()))?;
    println!(
        "wrote {} (for {}) and {}",
        cert.display(),
        LOCAL_NAMES.join(", "),
        key.display()
    );
    Ok(())
}
