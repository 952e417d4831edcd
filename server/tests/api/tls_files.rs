//! TLS start-up: the certificate and key are read before anything runs, and a file that cannot
//! be used stops the `server` process with an error naming it.

use std::{path::Path, time::Duration};

use crate::support::{ServerProcess, tls::TestCert};

/// Runs the `server` binary with `--tls-cert cert --tls-key key`; its exit success and stderr.
async fn start_with(cert: &Path, key: &Path) -> (bool, String) {
    let (Some(cert), Some(key)) = (cert.to_str(), key.to_str()) else {
        panic!("UTF-8 test paths: {} {}", cert.display(), key.display());
    };
    let mut command = tokio::process::Command::from(ServerProcess::command(
        Path::new("/nonexistent"),
        0,
        &["--tls-cert", cert, "--tls-key", key],
    ));
    let child = command.kill_on_drop(true).spawn().expect("server starts");
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
    // A key file holding a certificate (a copy, so that only the key's name can be the one named).
    let cert_as_key = cert.dir().join("key-is-a-cert.pem");
    std::fs::copy(&cert.cert, &cert_as_key).expect("copy");
    let cases = [
        ("a missing certificate", &missing, &cert.key, &missing),
        ("a certificate file without one", &junk, &cert.key, &junk),
        (
            "a key file without one",
            &cert.cert,
            &cert_as_key,
            &cert_as_key,
        ),
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
