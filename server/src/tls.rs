//! TLS for the one binary: the certificate chain and key (PEM files) read once at start-up into a
//! rustls configuration, and a self-signed pair for local use.
//!
//! rustls runs on its `ring` provider, given explicitly here (no process-wide default is
//! installed or looked up); it is the only provider compiled in.

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
};

/// The names a self-signed certificate for local use is valid for.
pub const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why the certificate or key cannot be used. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} file {}", path.display())]
    Read {
        /// "certificate" or "key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The certificate file holds no PEM certificate, or a malformed one.
    #[error(
        "no certificate in {} (expected PEM: -----BEGIN CERTIFICATE-----): {reason}",
        path.display()
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The key file holds no PEM private key, or a malformed one.
    #[error(
        "no private key in {} (expected PEM: PKCS#8, PKCS#1 or SEC1): {reason}",
        path.display()
    )]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The key is not the one the certificate was issued for.
    #[error("the key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// rustls refused the pair for another reason (an unsupported key type, say).
    #[error("cannot use the certificate {} with the key {}", cert.display(), key.display())]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
}

/// Reads the PEM certificate chain at `cert` and the PEM private key at `key` into a server
/// configuration. ALPN is left empty: actix-web offers `h2` and `http/1.1` itself.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let read = |what, path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            what,
            path: path.to_owned(),
            source,
        })
    };
    let cert_pem = read("certificate", cert)?;
    let key_pem = read("key", key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::NoCertificate {
            path: cert.to_owned(),
            reason: err.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
            reason: "no items found".into(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| TlsError::NoKey {
        path: key.to_owned(),
        reason: err.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| {
            builder
                .with_no_client_auth()
                .with_single_cert(chain, private_key)
        })
        .map_err(|err| match err {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: cert.to_owned(),
                key: key.to_owned(),
            },
            source => TlsError::Unusable {
                cert: cert.to_owned(),
                key: key.to_owned(),
                source,
            },
        })
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate (`-----BEGIN CERTIFICATE-----`).
    pub cert_pem: String,
    /// Its private key (`-----BEGIN PRIVATE KEY-----`, PKCS#8).
    pub key_pem: String,
}

impl SelfSigned {
    /// A new self-signed certificate (ECDSA P-256) for `names`: DNS names or IP addresses.
    pub fn generate(names: &[&str]) -> Result<Self, rcgen::Error> {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names)?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pingstream local");
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// One for this machine: `localhost`, `127.0.0.1` and `::1`.
    pub fn for_localhost() -> Result<Self, rcgen::Error> {
        Self::generate(&LOCAL_NAMES)
    }

    /// Writes `cert.pem` and `key.pem` into `dir` (made if missing; the key readable by its
    /// owner only) and returns their paths.
    pub fn write_to(&self, dir: &Path) -> io::Result<(PathBuf, PathBuf)> {
        std::fs::create_dir_all(dir)?;
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &self.cert_pem)?;
        std::fs::write(&key, &self.key_pem)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok((cert, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path) -> (PathBuf, PathBuf) {
        SelfSigned::for_localhost()
            .expect("generates")
            .write_to(dir)
            .expect("writes")
    }

    #[test]
    fn a_generated_pair_loads() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (cert, key) = pair(dir.path());
        server_config(&cert, &key).expect("the pair loads");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (cert, _) = pair(dir.path());
        let missing = dir.path().join("nope.pem");
        let err = server_config(&cert, &missing).expect_err("no key file");
        assert!(matches!(err, TlsError::Read { what: "key", .. }), "{err:?}");
        assert!(err.to_string().contains("nope.pem"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_pem_is_named() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (cert, key) = pair(dir.path());
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").expect("write");
        let err = server_config(&junk, &key).expect_err("no certificate");
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
        assert!(err.to_string().contains("junk.pem"), "{err}");
        // A certificate where the key should be (a copy, so only the key's name can be named):
        // no key in it.
        let cert_as_key = dir.path().join("key-is-a-cert.pem");
        std::fs::copy(&cert, &cert_as_key).expect("copy");
        let err = server_config(&cert, &cert_as_key).expect_err("no key");
        assert!(matches!(err, TlsError::NoKey { .. }), "{err:?}");
        assert!(err.to_string().contains("key-is-a-cert.pem"), "{err}");
    }

    #[test]
    fn a_key_from_another_pair_is_refused() {
        let one = tempfile::tempdir().expect("a temp dir");
        let other = tempfile::tempdir().expect("a temp dir");
        let (cert, _) = pair(one.path());
        let (_, key) = pair(other.path());
        let err = server_config(&cert, &key).expect_err("mismatch");
        assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(&key.display().to_string())
                && message.contains(&cert.display().to_string()),
            "{message}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("a temp dir");
        let (_, key) = pair(dir.path());
        let mode = std::fs::metadata(&key)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key mode {mode:o}");
    }
}
