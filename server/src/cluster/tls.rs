//! TLS to Redis and its sentinels: which certificates a `rediss://` connection trusts
//! (`--redis-ca-cert`, else the system's roots) and which it shows (`--redis-client-cert` and
//! `--redis-client-key`, for a Redis that asks for one: its default `tls-auth-clients yes`).
//!
//! The files are read once at start-up, so a missing or unreadable one stops the server there
//! with its name, rather than at the first connection, which would only make it run degraded.

use std::path::{Path, PathBuf};

use redis::{ClientTlsConfig, RedisResult, TlsCertificates};

/// What a TLS connection to Redis trusts and shows. `Debug` names the files, never their bytes.
#[derive(Clone)]
pub struct RedisTls {
    certificates: TlsCertificates,
    files: Vec<PathBuf>,
}

impl std::fmt::Debug for RedisTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTls")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl PartialEq for RedisTls {
    fn eq(&self, other: &Self) -> bool {
        self.files == other.files
    }
}

impl Eq for RedisTls {}

/// Why the TLS files could not be used.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {file}: {source}")]
pub struct RedisTlsError {
    file: String,
    source: std::io::Error,
}

/// The bytes of `path`, or an error that names it.
fn read(path: &Path) -> Result<Vec<u8>, RedisTlsError> {
    std::fs::read(path).map_err(|source| RedisTlsError {
        file: path.display().to_string(),
        source,
    })
}

impl RedisTls {
    /// The roots of `ca` (PEM; the system's without it) and the client certificate and key of
    /// `client` (PEM), read now.
    pub fn load(ca: Option<&Path>, client: Option<(&Path, &Path)>) -> Result<Self, RedisTlsError> {
        let root_cert = ca.map(read).transpose()?;
        let client_tls = client
            .map(|(cert, key)| {
                Ok::<_, RedisTlsError>(ClientTlsConfig {
                    client_cert: read(cert)?,
                    client_key: read(key)?,
                })
            })
            .transpose()?;
        let files = ca
            .into_iter()
            .chain(client.into_iter().flat_map(|(cert, key)| [cert, key]))
            .map(Path::to_path_buf)
            .collect();
        Ok(Self {
            certificates: TlsCertificates {
                client_tls,
                root_cert,
            },
            files,
        })
    }

    /// A client for `url` (`rediss://…`) that trusts and shows these certificates. A PEM file
    /// that holds no certificate or key is refused here.
    pub fn client(&self, url: &str) -> RedisResult<redis::Client> {
        redis::Client::build_with_tls(url, self.certificates.clone())
    }
}

/// A client for `url`: over TLS with `tls`'s certificates when there are any (a `rediss://` URL
/// without them trusts the system's roots), as the URL says otherwise.
pub(super) fn client(url: &str, tls: Option<&RedisTls>) -> RedisResult<redis::Client> {
    match tls {
        Some(tls) => tls.client(url),
        None => redis::Client::open(url),
    }
}

/// Whether `err` says a TLS handshake failed over a certificate: Redis's was refused (an
/// unknown issuer, another name) or Redis wanted ours. A configuration error, like a wrong
/// password, not an outage.
pub fn is_refused_certificate(err: &redis::RedisError) -> bool {
    err.to_string().to_ascii_lowercase().contains("certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named() {
        let err =
            RedisTls::load(Some(Path::new("/nonexistent/ca.pem")), None).expect_err("no such file");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
    }

    #[test]
    fn debug_names_the_files_not_their_bytes() {
        let dir = tempfile::tempdir().expect("a folder");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "-----BEGIN CERTIFICATE-----\nc2VjcmV0\n").expect("writes");
        let tls = RedisTls::load(Some(&ca), None).expect("reads");
        let printed = format!("{tls:?}");
        assert!(
            printed.contains("ca.pem") && !printed.contains("c2VjcmV0"),
            "{printed}"
        );
    }
}
