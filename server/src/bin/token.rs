//! `token --sub alice --topics 'users/alice/**' --ttl 1h`: print a subscriber token signed with
//! the server's `--subscribe-key` (the first one, from `PINGSTREAM_SUBSCRIBE_KEY` or `--key`),
//! for development and tests. An application signs its own tokens the same way (README,
//! "Private topics").

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use server::{access::Verifier, config::Secret};
use shared::Selection;

/// Print a subscriber token (a JWT, HS256) for pingstream's private topics.
#[derive(Debug, Parser)]
#[command(name = "token", version)]
struct Args {
    /// Who the token is for (its `sub`).
    #[arg(long)]
    sub: String,
    /// The private topics it may read: selectors, comma-separated (e.g. `users/alice/**`).
    #[arg(long, value_delimiter = ',', default_value = "")]
    topics: Vec<String>,
    /// How long it lasts: seconds, or a number followed by s, m, h or d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    ttl: Duration,
    /// The shared key to sign with (the server's `--subscribe-key`; the first of a list).
    #[arg(
        long,
        env = "PINGSTREAM_SUBSCRIBE_KEY",
        hide_env_values = true,
        value_delimiter = ','
    )]
    key: Vec<Secret>,
    /// The `aud` claim, when the server checks one (`--subscribe-audience`).
    #[arg(long, env = "PINGSTREAM_SUBSCRIBE_AUDIENCE")]
    aud: Option<String>,
}

/// `90`, `90s`, `15m`, `1h`, `2d`.
fn parse_ttl(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let topics: Vec<String> = args.topics.into_iter().filter(|t| !t.is_empty()).collect();
    Selection::parse(topics.iter().map(String::as_str)).context("--topics")?;
    if args.key.is_empty() {
        bail!("no key: set PINGSTREAM_SUBSCRIBE_KEY (or --key) to the server's --subscribe-key");
    }
    let verifier = Verifier::new(&args.key[..1], &[], args.aud).context("the key cannot sign")?;
    let token = verifier
        .sign(&args.sub, &topics, args.ttl)
        .context("signing the token")?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_read_with_their_unit() {
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
