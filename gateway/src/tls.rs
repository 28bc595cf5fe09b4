//! The one TLS client configuration every outbound connection of the gateway uses: alloy's
//! JSON-RPC transport (each configured RPC endpoint), the venue clients, webhook deliveries and
//! the external screener.
//!
//! rustls with the ring provider, trusting the webpki roots (Mozilla's CA list, compiled in and
//! pinned by Cargo.lock) plus, optionally, the certificates of `[tls] extra_ca_file` (PEM): an
//! operator's own CA for a private RPC node, a corporate proxy or a screener on an internal
//! network. Why webpki roots rather than the platform's store: the gateway's trust is then the
//! same on every host, minimal container images (distroless, scratch) ship no CA bundle, and a
//! root the host's administrator added does not silently become trusted for money-moving
//! connections; an operator who needs one names it in the configuration instead, where it is
//! reviewed with the rest. Certificates are always verified (chain and host name); there is no
//! setting to turn verification off.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};

/// `[tls]` in `rialto.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// A PEM file of extra CA certificates trusted beside the webpki roots, for every outbound
    /// HTTPS connection (RPC endpoints, venues, webhooks, the external screener). Empty: none.
    pub extra_ca_file: String,
}

/// Why the TLS configuration could not be built. Start-up stops on it.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls.extra_ca_file {path}: cannot be read: {reason}")]
    Read { path: String, reason: String },
    #[error("tls.extra_ca_file {path}: no PEM certificate in it")]
    Empty { path: String },
    #[error(
        "tls.extra_ca_file {path}: certificate {index} is not a usable CA certificate: {reason}"
    )]
    BadCertificate {
        path: String,
        index: usize,
        reason: String,
    },
}

/// The client configuration for `config`: ring, TLS 1.2 and 1.3, webpki roots plus the extra
/// CA file's certificates.
pub fn client_config(config: &TlsConfig) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !config.extra_ca_file.is_empty() {
        for (index, cert) in extra_certificates(&config.extra_ca_file)?
            .into_iter()
            .enumerate()
        {
            roots.add(cert).map_err(|e| TlsError::BadCertificate {
                path: config.extra_ca_file.clone(),
                index,
                reason: e.to_string(),
            })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let built = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::BadCertificate {
            path: config.extra_ca_file.clone(),
            index: 0,
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(built))
}

fn extra_certificates(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |reason: String| TlsError::Read {
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(Path::new(path)).map_err(|e| read(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| read(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Makes every RPC endpoint of `urls` use `tls` (alloy's reqwest takes the configuration per
/// endpoint; see `rialto_evm::provider::trust_for`).
pub fn trust_rpc_endpoints<'a>(
    urls: impl IntoIterator<Item = &'a String>,
    tls: &Arc<rustls::ClientConfig>,
) {
    for url in urls {
        rialto_evm::provider::trust_for(url, tls.clone());
    }
}

/// The venue clients' HTTP setup: their reqwest (0.12) client uses `tls`.
pub fn venue_http_setup(tls: &Arc<rustls::ClientConfig>) -> rialto_connectors::exchange::HttpSetup {
    let tls = tls.clone();
    rialto_connectors::exchange::HttpSetup::new(move |builder| {
        builder.use_preconfigured_tls(rustls::ClientConfig::clone(&tls))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_extra_ca_file_is_named_in_the_error() {
        let missing = TlsConfig {
            extra_ca_file: "/nonexistent/ca.pem".into(),
        };
        let err = client_config(&missing).unwrap_err().to_string();
        assert!(
            err.contains("tls.extra_ca_file /nonexistent/ca.pem"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let config = TlsConfig {
            extra_ca_file: empty.display().to_string(),
        };
        let err = client_config(&config).unwrap_err();
        assert!(matches!(err, TlsError::Empty { .. }), "{err}");
        assert!(client_config(&TlsConfig::default()).is_ok());
    }
}
