//! Redis over TLS: a real `redis-server` that speaks only TLS on the port the server is given,
//! with a certificate of its own. Trusted through `--redis-ca-cert`, the stream runs (the
//! leader's writes and the reader's `XREAD` both cross TLS); not trusted, start-up stops with a
//! clear message; a Redis that asks for a client certificate gets `--redis-client-cert`'s; and
//! the sentinels and the master they name are reached over TLS with `--redis-tls`.

use std::time::Duration;

use test_support::tls::TestCert;

use super::{redis::RedisServer, redis_auth::run_until_exit, sentinel::Sentinel};
use crate::support::{ServerProcess, free_port};

/// A `redis-server` whose TLS port is `tls_port`, with `cert` as its certificate; `clients`
/// the CA it checks client certificates against, or none asked for. Its plain port stays open
/// for [`RedisServer`]'s readiness check only.
fn tls_redis(tls_port: u16, cert: &TestCert, clients: Option<&TestCert>) -> RedisServer {
    let port = tls_port.to_string();
    let cert_file = cert.cert.display().to_string();
    let key_file = cert.key.display().to_string();
    let (ca_file, auth) = match clients {
        Some(clients) => (clients.cert.display().to_string(), "yes"),
        None => (cert_file.clone(), "no"),
    };
    RedisServer::start_with(&[
        "--tls-port",
        &port,
        "--tls-cert-file",
        &cert_file,
        "--tls-key-file",
        &key_file,
        "--tls-ca-cert-file",
        &ca_file,
        "--tls-auth-clients",
        auth,
    ])
}

#[tokio::test]
async fn rediss_streams_with_its_ca_and_stops_start_up_without_it() {
    let cert = TestCert::new();
    let tls_port = free_port();
    let _redis = tls_redis(tls_port, &cert, None);
    let url = format!("rediss://127.0.0.1:{tls_port}");

    // The system's roots do not know this certificate: a configuration error, said at start-up.
    let (status, log) = run_until_exit(&["--redis-url", &url]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("TLS handshake with Redis failed over a certificate"),
        "the log says why: {log}"
    );

    let ca = cert.cert.display().to_string();
    let server = ServerProcess::start(
        0,
        &[
            "--redis-url",
            &url,
            "--redis-ca-cert",
            &ca,
            "--interval-ms",
            "100",
        ],
    );
    let mut stream = server.app().open_stream(None).await;
    stream.take_pings(3).await;
}

#[tokio::test]
async fn a_redis_that_asks_for_a_client_certificate_gets_ours() {
    let cert = TestCert::new();
    let client = TestCert::new();
    let tls_port = free_port();
    let _redis = tls_redis(tls_port, &cert, Some(&client));
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let ca = cert.cert.display().to_string();
    let client_cert = client.cert.display().to_string();
    let client_key = client.key.display().to_string();
    let server = ServerProcess::start(
        0,
        &[
            "--redis-url",
            &url,
            "--redis-ca-cert",
            &ca,
            "--redis-client-cert",
            &client_cert,
            "--redis-client-key",
            &client_key,
            "--interval-ms",
            "100",
        ],
    );
    let mut stream = server.app().open_stream(None).await;
    stream.take_pings(3).await;
    // Without it Redis ends the handshake: a configuration error too, said at start-up.
    let (status, log) = run_until_exit(&["--redis-url", &url, "--redis-ca-cert", &ca]);
    assert!(!status.success(), "{log}");
    assert!(
        log.contains("TLS handshake with Redis failed over a certificate"),
        "the log says why: {log}"
    );
}

#[tokio::test]
async fn sentinels_and_their_master_over_tls() {
    let cert = TestCert::new();
    let master_tls = free_port();
    let _master = tls_redis(master_tls, &cert, None);
    let dir = tempfile::tempdir().expect("a folder");
    let sentinel_port = free_port();
    let _sentinel = Sentinel::with_config(
        &dir,
        sentinel_port,
        &format!(
            "port 0\ntls-port {sentinel_port}\nbind 127.0.0.1\n\
             tls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {cert}\n\
             tls-auth-clients no\ntls-replication yes\n\
             sentinel monitor pingstream 127.0.0.1 {master_tls} 1\n",
            cert = cert.cert.display(),
            key = cert.key.display(),
        ),
    );
    std::thread::sleep(Duration::from_millis(500));
    let sentinels = format!("127.0.0.1:{sentinel_port}");
    let ca = cert.cert.display().to_string();
    let server = ServerProcess::start(
        0,
        &[
            "--redis-sentinel",
            &sentinels,
            "--redis-master-name",
            "pingstream",
            "--redis-tls",
            "--redis-ca-cert",
            &ca,
            "--interval-ms",
            "100",
        ],
    );
    let mut stream = server.app().open_stream(None).await;
    stream.take_pings(3).await;
}

#[test]
fn certificates_without_tls_are_refused() {
    let cert = TestCert::new();
    let ca = cert.cert.display().to_string();
    let (status, log) =
        run_until_exit(&["--redis-url", "redis://127.0.0.1:1", "--redis-ca-cert", &ca]);
    assert!(!status.success(), "{log}");
    assert!(log.contains("rediss://"), "the log says how: {log}");
}
