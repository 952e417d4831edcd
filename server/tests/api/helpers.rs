//! Starting a real server on port 0 in this test process, over plain HTTP/1.1 or over TLS with
//! HTTP/2; talking to it is [`TestApp`]'s (the `test-support` crate, shared with the other suites).

use server::{config::Config, startup::Application};
use tokio_util::sync::CancellationToken;

use crate::support::tls::TestCert;
pub use crate::support::{Received, ResumeFrom, TestApp, assert_consecutive, read_raw_until};

/// One test body, run over both transports: `over_both_transports! { name => body }` makes the
/// tests `name::http1` and `name::h2`, each awaiting `body(Transport::...)` (a function of the
/// invoking module). A property of the stream is written once and holds for both.
macro_rules! over_both_transports {
    ($name:ident => $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn http1() {
                super::$body($crate::helpers::Transport::Http1).await;
            }

            #[tokio::test]
            async fn h2() {
                super::$body($crate::helpers::Transport::H2).await;
            }
        }
    };
}
pub(crate) use over_both_transports;

/// How a test's client reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain HTTP/1.1, a fresh connection for every request: the default server.
    Http1,
    /// TLS with HTTP/2 negotiated by ALPN: every request is a new stream on one connection.
    H2,
}

/// Starts a server with the test defaults, changed by `configure`, reached over `transport`.
pub async fn spawn_app_over(transport: Transport, configure: impl FnOnce(&mut Config)) -> TestApp {
    match transport {
        Transport::Http1 => spawn_app(configure).await,
        // The server reads the files at start-up; the client keeps the certificate it trusts.
        Transport::H2 => spawn_h2_app(&TestCert::new(), configure).await,
    }
}

/// Starts a server serving TLS with `cert`, whose client trusts `cert` and speaks HTTP/2 to it.
pub async fn spawn_h2_app(cert: &TestCert, configure: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app(|config| {
        config.tls_cert = Some(cert.cert.clone());
        config.tls_key = Some(cert.key.clone());
        configure(config);
    })
    .await
    .over_h2(cert)
}

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
