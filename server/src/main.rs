//! The `server` binary: parse the config, start logging, build the application, run it until a
//! stop signal.

use clap::Parser;
use server::{config::Config, shutdown, startup::Application, telemetry};
use tokio_util::sync::CancellationToken;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init();
    let shutdown = CancellationToken::new();
    tokio::spawn(shutdown::cancel_on_signal(shutdown.clone()));
    let application = Application::build(config, shutdown).await?;
    application.run_until_stopped().await?;
    Ok(())
}
