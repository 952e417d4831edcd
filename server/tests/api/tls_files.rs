//! TLS start-up: the certificate and key are read before anything runs, and a file that cannot
//! be used stops the `server` process with an error naming it.

use std::{path::Path, time::Duration};

use crate::support::tls::TestCert;

/// Runs the `server` binary with `--tls-cert cert --tls-key key`; its exit success and stderr.
async fn start_with(cert: &Path, key: &Path) -> (bool, String) {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--static-dir", "/nonexistent"])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("server starts");
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the server exits instead of serving")
        .expect("its output");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_unusable_certificate_or_key_stops_the_server_with_the_file_named() {
    let cert = TestCert::new();
    let other = TestCert::new();
    let missing = cert.dir().join("missing.pem");
    let junk = cert.dir().join("junk.pem");
    std::fs::write(&junk, "not PEM\n").expect("write");
    let cases = [
        ("a missing certificate", &missing, &cert.key, &missing),
        ("a certificate file without one", &junk, &cert.key, &junk),
        ("a key file without one", &cert.cert, &cert.cert, &cert.cert),
        (
            "another certificate's key",
            &cert.cert,
            &other.key,
            &other.key,
        ),
    ];
    for (case, cert_file, key_file, named) in cases {
        let (success, stderr) = start_with(cert_file, key_file).await;
        assert!(!success, "{case}: the server exited successfully");
        assert!(
            stderr.contains(&named.display().to_string()),
            "{case}: {} not named in {stderr:?}",
            named.display()
        );
    }
}
