//! Starting a real server on port 0 in this test process; talking to it is [`TestApp`]'s (in
//! `tests/support/`, shared with the other suites).

use server::{config::Config, startup::Application};
use tokio_util::sync::CancellationToken;

pub use crate::support::{Received, ResumeFrom, TestApp, assert_consecutive, read_raw_until};

/// Starts a server with the test defaults, changed by `configure`.
pub async fn spawn_app(configure: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_tests();
    config.workers = 2;
    // Tests that need the frontend point this at a folder they make.
    config.static_dir = "/nonexistent-pingstream-dist".into();
    configure(&mut config);
    let shutdown = CancellationToken::new();
    let application = Application::build(config, shutdown.clone())
        .await
        .expect("server builds");
    let port = application.port();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp::new(port, shutdown, server)
}
