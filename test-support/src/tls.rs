//! TLS for tests: a fresh self-signed certificate in a temporary folder, a reqwest client that
//! trusts only that certificate and negotiates HTTP/2 through ALPN, and raw HTTP/2 connections
//! (the load tool's: the `h2` crate over tokio-rustls) for what reqwest cannot do: stall one
//! stream's flow-control window, reset one stream while the connection stays open.

use std::path::{Path, PathBuf};

use bench::h2load::H2Settings;
use bytes::Bytes;
use server::tls::SelfSigned;
use tokio::task::JoinHandle;

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, written as `cert.pem` and
/// `key.pem` into a folder that lives as long as this value.
pub struct TestCert {
    dir: tempfile::TempDir,
    /// The certificate file (`cert.pem`).
    pub cert: PathBuf,
    /// Its key's file (`key.pem`).
    pub key: PathBuf,
    pem: String,
}

impl Default for TestCert {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCert {
    /// A new certificate, written to a fresh folder.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let pair = SelfSigned::for_localhost().expect("a certificate");
        let (cert, key) = pair.write_to(dir.path()).expect("certificate written");
        Self {
            dir,
            cert,
            key,
            pem: pair.cert_pem,
        }
    }

    /// The folder holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A reqwest client trusting only this certificate, offering `h2` and `http/1.1` by ALPN
    /// (HTTP/2 is what it gets from our server). It keeps one connection per host and sends
    /// every request on it as a new stream.
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().expect("client builds")
    }

    /// The same client, offering only `http/1.1`.
    pub fn http1_client(&self) -> reqwest::Client {
        self.client_builder()
            .http1_only()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client builds")
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        client_builder_trusting(self.pem.as_bytes())
    }

    /// A TLS connection to `127.0.0.1:port` that negotiated `h2`, driven by `builder`'s
    /// settings (flow-control windows, say), opened as the load tool opens its own
    /// ([`H2Settings::connect`]). The task drives the connection; abort it, or drop every handle,
    /// to close it.
    pub async fn connect_h2(
        &self,
        port: u16,
        builder: &h2::client::Builder,
    ) -> (h2::client::SendRequest<Bytes>, JoinHandle<()>) {
        let settings = H2Settings::trusting(self.pem.as_bytes(), 1).expect("a usable certificate");
        let (send, connection) = settings
            .connect(
                ([127, 0, 0, 1], 0).into(),
                ([127, 0, 0, 1], port).into(),
                builder,
            )
            .await
            .expect("TCP, TLS choosing h2 by ALPN, and the h2 handshake");
        let driver = tokio::spawn(async move {
            // Ends when the connection does; an error is the server or the test closing it.
            let _ = connection.await;
        });
        (send, driver)
    }
}

/// A reqwest client trusting only the certificate `pem` (another than a [`TestCert`], such as the
/// one `just cert` wrote), offering `h2` and `http/1.1` by ALPN, as [`TestCert::client`].
pub fn client_trusting(pem: &[u8]) -> reqwest::Client {
    client_builder_trusting(pem).build().expect("client builds")
}

fn client_builder_trusting(pem: &[u8]) -> reqwest::ClientBuilder {
    let certificate = reqwest::Certificate::from_pem(pem).expect("a PEM certificate");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(certificate)
}
