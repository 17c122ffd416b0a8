//! TLS for the PostgreSQL connection, with rustls (ring), following libpq's `sslmode` meanings:
//!
//! - `disable`: plain TCP.
//! - `prefer` (default, also `allow`): TLS when the server offers it, plain otherwise; like libpq,
//!   the certificate is not verified (prefer protects against passive snooping only).
//! - `require`: TLS or fail. Not verified, unless a root certificate is given, in which case it
//!   behaves as `verify-ca` (libpq does the same).
//! - `verify-ca`: TLS, the chain must lead to a trusted root; the host name is not checked.
//! - `verify-full`: TLS, trusted chain and the host name must match the certificate.
//!
//! Trusted roots: `sslrootcert` / `PGSSLROOTCERT` (a PEM file), or `system` for the operating
//! system's store. Without either, `~/.postgresql/root.crt` when it exists (libpq's default), else
//! the system store: managed services with public CAs then work without extra settings.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::conn::SslMode;
use crate::error::{Error, Result};

/// What the connector should check, decided from the mode and whether roots were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Encrypt only (prefer, require without a root certificate).
    Nothing,
    /// The chain, not the host name (verify-ca, require with a root certificate).
    Chain,
    /// The chain and the host name (verify-full).
    Full,
}

/// The libpq decision table, pure so it is tested without a server.
pub fn verify_for(mode: SslMode, root_cert_given: bool) -> Option<Verify> {
    match mode {
        SslMode::Disable => None,
        SslMode::Prefer => Some(Verify::Nothing),
        SslMode::Require if root_cert_given => Some(Verify::Chain),
        SslMode::Require => Some(Verify::Nothing),
        SslMode::VerifyCa => Some(Verify::Chain),
        SslMode::VerifyFull => Some(Verify::Full),
    }
}

/// The connector for `mode`, or `None` for `disable`.
pub fn connector(mode: SslMode, root_cert: Option<&str>) -> Result<Option<MakeRustlsConnect>> {
    let Some(verify) = verify_for(mode, root_cert.is_some()) else {
        return Ok(None);
    };
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(EncryptOnly(provider)),
        Verify::Chain | Verify::Full => {
            let roots = Arc::new(load_roots(root_cert)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?;
            if verify == Verify::Full {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn load_roots(root_cert: Option<&str>) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    let file = match root_cert {
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => default_root_file().filter(|p| p.is_file()),
    };
    match file {
        Some(path) => {
            let certs = read_pem(&path)?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::Config(format!(
                    "sslrootcert {} holds no usable certificate; give the PEM file of the server's CA",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(Error::Config(
                    "no trusted root certificates: the system store is empty; set sslrootcert to the server's CA file".into(),
                ));
            }
        }
    }
    Ok(store)
}

fn read_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let unreadable = |e: String| {
        Error::Config(format!(
            "sslrootcert {} cannot be read: {e}",
            path.display()
        ))
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(format!("not a PEM certificate file ({e})")))
}

fn default_root_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql").join("root.crt"))
}

/// `prefer` / `require`: the handshake's signatures are still checked (so the session key belongs
/// to whoever holds the presented certificate), but the certificate itself is not.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: everything webpki checks except that the name matches.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A hint for a TLS failure, by the words rustls and tokio-postgres use.
pub fn hint(message: &str) -> Option<&'static str> {
    if message.contains("NotValidForName") || message.contains("not valid for name") {
        Some(
            "verify-full checks the host name: connect with a name the certificate lists, or use sslmode=verify-ca",
        )
    } else if message.contains("UnknownIssuer") || message.contains("unknown issuer") {
        Some(
            "the server's certificate is not signed by a trusted root: set sslrootcert to its CA's PEM file",
        )
    } else if message.contains("server does not support TLS") {
        Some(
            "the server did not accept TLS; enable ssl on the server or, on a trusted network only, use sslmode=prefer or disable",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_decision_table() {
        assert_eq!(verify_for(SslMode::Disable, true), None);
        assert_eq!(verify_for(SslMode::Prefer, true), Some(Verify::Nothing));
        assert_eq!(verify_for(SslMode::Require, false), Some(Verify::Nothing));
        assert_eq!(verify_for(SslMode::Require, true), Some(Verify::Chain));
        assert_eq!(verify_for(SslMode::VerifyCa, false), Some(Verify::Chain));
        assert_eq!(verify_for(SslMode::VerifyFull, false), Some(Verify::Full));
    }

    #[test]
    fn unreadable_or_empty_root_files_are_config_errors() {
        let e = connector(SslMode::VerifyFull, Some("/nonexistent/ca.pem"))
            .err()
            .unwrap();
        assert_eq!(e.code(), "CONFIG");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("godwit-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = connector(SslMode::VerifyCa, empty.to_str()).err().unwrap();
        assert!(e.to_string().contains("no usable certificate"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn disable_has_no_connector_and_prefer_needs_no_roots() {
        assert!(connector(SslMode::Disable, None).unwrap().is_none());
        assert!(
            connector(SslMode::Prefer, Some("/nonexistent"))
                .unwrap()
                .is_some()
        );
    }
}
