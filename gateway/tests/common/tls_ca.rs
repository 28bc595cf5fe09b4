//! A certificate authority made for one test (rcgen) and a TLS-terminating proxy presenting
//! its certificates: the local HTTPS endpoints the TLS and list-refresh suites talk to.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rialto_gateway::tls::{client_config, TlsConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// A CA made for one test, and a PEM file of its certificate (what `extra_ca_file` names).
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    pub pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("Rialto test CA {name}"));
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem_file = dir.path().join("ca.pem");
        std::fs::write(&pem_file, issuer.pem()).unwrap();
        Self {
            issuer,
            pem_file,
            _dir: dir,
        }
    }

    /// The gateway's TLS configuration trusting this CA (beside the webpki roots).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        client_config(&TlsConfig {
            extra_ca_file: self.pem_file.display().to_string(),
        })
        .expect("the CA file loads")
    }

    /// A server configuration presenting a certificate for `host`, signed by this CA.
    pub fn server_config(&self, host: &str) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![host.to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain = vec![cert.der().clone()];
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        Arc::new(config)
    }
}

/// A TLS-terminating proxy on 127.0.0.1:0 in front of `upstream` (plain TCP), presenting
/// `server`'s certificate. Answers its port; runs until the test's runtime ends.
pub async fn tls_proxy(server: Arc<rustls::ServerConfig>, upstream: SocketAddr) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(server);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake (the client distrusts us) just ends this connection.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}
