//! TLS for the PostgreSQL connection, with rustls (ring), following libpq's `sslmode` meanings:
//!
//! - `disable`: plain TCP.
//! - `prefer` (default, also `allow`): TLS when the server offers it, plain otherwise; like libpq,
//!   the certificate is not verified (prefer protects against passive snooping only).
//! - `require`: TLS or fail. Not verified, unless a root certificate is available (given, or
//!   `~/.postgresql/root.crt` exists), in which case it behaves as `verify-ca`, as libpq does.
//! - `verify-ca`: TLS, the chain must lead to a trusted root; the host name is not checked.
//! - `verify-full`: TLS, trusted chain and the host name must match the certificate: its
//!   subjectAltName entries, or its Common Name when it has none (as libpq accepts).
//!
//! A certificate that is itself one of the trusted roots is accepted as its own chain, as
//! OpenSSL does: the self-signed certificate of the PostgreSQL documentation's recipe, copied to
//! `root.crt`, works with verify-ca and verify-full.
//!
//! Trusted roots: `sslrootcert` / `PGSSLROOTCERT` (a PEM file), or `system` for the operating
//! system's store. Without either, `~/.postgresql/root.crt` when it exists (libpq's default), else
//! the system store. Client certificates: `sslcert`/`sslkey` (or `~/.postgresql/postgresql.crt`
//! and `.key` when both exist), never silently ignored: a file that cannot be used is an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::conn::{SslMode, TlsSettings};
use crate::error::{Error, Result};

/// What the connector should check, decided from the mode and whether roots are available.
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
pub fn verify_for(mode: SslMode, root_cert_available: bool) -> Option<Verify> {
    match mode {
        SslMode::Disable => None,
        SslMode::Prefer => Some(Verify::Nothing),
        SslMode::Require if root_cert_available => Some(Verify::Chain),
        SslMode::Require => Some(Verify::Nothing),
        SslMode::VerifyCa => Some(Verify::Chain),
        SslMode::VerifyFull => Some(Verify::Full),
    }
}

/// The connector for these settings, or `None` for `disable`.
pub fn connector(tls: &TlsSettings) -> Result<Option<MakeRustlsConnect>> {
    let Some(verify) = verify_for(tls.mode, tls.root_cert.is_some()) else {
        return Ok(None);
    };
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(EncryptOnly(provider)),
        Verify::Chain | Verify::Full => {
            let (roots, ders) = load_roots(tls.root_cert.as_deref())?;
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| Error::Config(format!("TLS setup failed: {e}")))?;
            Arc::new(Libpq {
                webpki,
                roots: ders,
                check_name: verify == Verify::Full,
            })
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&tls.cert, &tls.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain = read_certs(Path::new(cert), "sslcert")?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                Error::Config(format!(
                    "sslkey {key} cannot be used: {e}; give an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1)"
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                let why = if e.to_string().contains("UnsupportedCertVersion") {
                    "it is an X.509 v1 certificate; TLS here needs v3 (reissue it with extensions, e.g. extendedKeyUsage=clientAuth)".to_string()
                } else {
                    e.to_string()
                };
                Error::Config(format!(
                    "sslcert {cert} and sslkey do not make a client certificate: {why}"
                ))
            })?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::Config(
                "a client certificate needs both sslcert and sslkey (PGSSLCERT and PGSSLKEY); one of them is missing".into(),
            ));
        }
    };
    Ok(Some(MakeRustlsConnect::new(config)))
}

fn load_roots(root_cert: Option<&str>) -> Result<(RootCertStore, Vec<Vec<u8>>)> {
    let mut store = RootCertStore::empty();
    let mut ders = Vec::new();
    let file = match root_cert {
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => None,
    };
    match file {
        Some(path) => {
            let certs = read_certs(&path, "sslrootcert")?;
            ders = certs.iter().map(|c| c.as_ref().to_vec()).collect();
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
    Ok((store, ders))
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let unreadable =
        |e: String| Error::Config(format!("{what} {} cannot be read: {e}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{what} {} holds no usable certificate; give a PEM file",
            path.display()
        )));
    }
    Ok(certs)
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

/// verify-ca and verify-full as libpq does them, on top of webpki: a certificate that is one of
/// the trusted roots is its own chain, and a certificate without subjectAltName is matched by its
/// Common Name.
#[derive(Debug)]
struct Libpq {
    webpki: Arc<WebPkiServerVerifier>,
    roots: Vec<Vec<u8>>,
    check_name: bool,
}

fn is_name_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

impl ServerCertVerifier for Libpq {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let trusted_itself = self
            .roots
            .iter()
            .any(|r| r.as_slice() == end_entity.as_ref());
        let chain = if trusted_itself {
            // the trust anchor itself: only its validity period is left to check
            names::within_validity(end_entity, now)
        } else {
            match self
                .webpki
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
            {
                Err(e) if is_name_error(&e) => Ok(()),
                Err(e) => Err(e),
                Ok(_) if self.check_name => return Ok(ServerCertVerified::assertion()),
                Ok(_) => Ok(()),
            }
        };
        chain?;
        if self.check_name && !names::matches(end_entity, server_name) {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName,
            ));
        }
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Host names in certificates, read with x509-parser: subjectAltName DNS and IP entries, or the
/// Common Name when there is no subjectAltName (libpq's rule).
mod names {
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use x509_parser::extensions::GeneralName;
    use x509_parser::prelude::{FromDer, X509Certificate};

    pub fn within_validity(cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), rustls::Error> {
        let Ok((_, c)) = X509Certificate::from_der(cert.as_ref()) else {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ));
        };
        let t = now.as_secs() as i64;
        if t < c.validity().not_before.timestamp() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidYet,
            ));
        }
        if t > c.validity().not_after.timestamp() {
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Expired,
            ));
        }
        Ok(())
    }

    /// `pattern` (from a certificate) against `host`: case-insensitive, `*` only as the whole
    /// left-most label, matching exactly one label.
    pub fn dns_match(pattern: &str, host: &str) -> bool {
        let (p, h) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
        let h = h.trim_end_matches('.');
        let p = p.trim_end_matches('.');
        match p.strip_prefix("*.") {
            Some(rest) => h
                .split_once('.')
                .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
            None => p == h,
        }
    }

    pub fn matches(cert: &CertificateDer<'_>, server: &ServerName<'_>) -> bool {
        let Ok((_, c)) = X509Certificate::from_der(cert.as_ref()) else {
            return false;
        };
        let host = match server {
            ServerName::DnsName(d) => d.as_ref().to_string(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            _ => return false,
        };
        match c.subject_alternative_name() {
            Ok(Some(san)) => san.value.general_names.iter().any(|n| match n {
                GeneralName::DNSName(d) => dns_match(d, &host),
                GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    ip.is_some_and(|ip| ip.to_string() == host)
                }
                _ => false,
            }),
            Ok(None) => c
                .subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok())
                .any(|cn| dns_match(cn, &host)),
            Err(_) => false,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn wildcards_match_one_left_most_label() {
            assert!(dns_match("db.example.com", "DB.example.com"));
            assert!(dns_match("*.example.com", "db.example.com"));
            assert!(!dns_match("*.example.com", "a.b.example.com"));
            assert!(!dns_match("*.example.com", "example.com"));
            assert!(!dns_match("db.example.com", "db.example.org"));
        }
    }
}

/// A TLS failure in words: `(what happened, what to do)`, from what rustls and tokio-postgres
/// say. Certificate failures are put in words (an operator cannot act on `CaUsedAsEndEntity`).
pub fn explain(message: &str) -> Option<(String, &'static str)> {
    let says = |w: &str| message.contains(w);
    let cert = |what: &str| format!("TLS verification of the server failed: {what}");
    Some(if says("NotValidForName") || says("not valid for name") {
        (
            cert("its certificate does not name the host connected to"),
            "verify-full checks the host name: connect with a name the certificate lists (subjectAltName, or its Common Name when it has none), or use sslmode=verify-ca",
        )
    } else if says("UnknownIssuer") || says("unknown issuer") {
        (
            cert("its certificate was not issued by a trusted root"),
            "the server's certificate is not signed by a trusted root: set sslrootcert to its CA's PEM file",
        )
    } else if says("CaUsedAsEndEntity") {
        (
            cert(
                "it presented a CA certificate as its own, and that certificate is not among the trusted roots",
            ),
            "put that exact certificate in sslrootcert (a self-signed server certificate is its own root), or give the server a certificate signed by the CA",
        )
    } else if says("Expired") || says("expired") {
        (
            cert("its certificate has expired"),
            "renew the server's certificate (or correct this machine's clock)",
        )
    } else if says("NotValidYet") {
        (
            cert("its certificate is not valid yet"),
            "check this machine's clock, or the certificate's start date",
        )
    } else if says("BadSignature") || says("bad signature") {
        (
            cert("its certificate chain has a bad signature"),
            "the certificate was not issued by the CA in sslrootcert: give the right CA file",
        )
    } else if says("server does not support TLS") {
        (
            message.to_string(),
            "the server did not accept TLS; enable ssl on the server or, on a trusted network only, use sslmode=prefer or disable",
        )
    } else if says("CertificateRequired") || says("certificate required") {
        (
            "the server requires a client certificate".to_string(),
            "set sslcert and sslkey (or PGSSLCERT and PGSSLKEY)",
        )
    } else if says("UnknownCA") || says("unknown ca") || says("BadCertificate") {
        (
            "the server refused the client certificate".to_string(),
            "sslcert must be signed by a CA the server trusts (ssl_ca_file)",
        )
    } else if says("invalid peer certificate") {
        (
            cert("its certificate was refused"),
            "check sslrootcert and the server's certificate",
        )
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(mode: SslMode, root: Option<&str>) -> TlsSettings {
        TlsSettings {
            mode,
            root_cert: root.map(str::to_string),
            cert: None,
            key: None,
        }
    }

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
    fn unreadable_or_empty_files_are_config_errors() {
        let e = connector(&tls(SslMode::VerifyFull, Some("/nonexistent/ca.pem")))
            .err()
            .unwrap();
        assert_eq!(e.code(), crate::error::Code::Config);
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let dir = std::env::temp_dir().join(format!("godwit-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = connector(&tls(SslMode::VerifyCa, empty.to_str()))
            .err()
            .unwrap();
        assert!(e.to_string().contains("no usable certificate"), "{e}");
        let half = TlsSettings {
            cert: Some("/c.pem".into()),
            ..tls(SslMode::Require, None)
        };
        assert!(
            connector(&half)
                .err()
                .unwrap()
                .to_string()
                .contains("both sslcert and sslkey")
        );
        let missing = TlsSettings {
            cert: Some(empty.display().to_string()),
            key: Some("/nonexistent/k.pem".into()),
            ..tls(SslMode::Require, None)
        };
        assert!(connector(&missing).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn disable_has_no_connector_and_prefer_needs_no_roots() {
        assert!(connector(&tls(SslMode::Disable, None)).unwrap().is_none());
        assert!(
            connector(&tls(SslMode::Prefer, Some("/nonexistent")))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn failures_are_explained_in_words() {
        let (what, fix) = explain("error performing TLS handshake: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))").unwrap();
        assert!(
            what.contains("CA certificate as its own") && !what.contains("CaUsedAsEndEntity"),
            "{what}"
        );
        assert!(fix.contains("sslrootcert"));
        assert!(
            explain("invalid peer certificate: UnknownIssuer")
                .unwrap()
                .1
                .contains("not signed by a trusted root")
        );
        assert!(explain("connection refused").is_none());
    }
}
