//! The engine's outbound-HTTP port ([`HttpClient`]) implemented with reqwest: the clients
//! webhook deliveries and the external address screener send through.
//!
//! Redirects are never followed, connecting is bounded by the client's connect timeout and the
//! whole exchange by each request's own deadline, bodies are read chunk by chunk and refused
//! past the request's cap, and failures come back as the port's fixed reasons (reqwest's own
//! messages carry URLs and OS detail). TLS is the gateway's one rustls configuration
//! ([`crate::tls`]: webpki roots plus `[tls] extra_ca_file`), as for every other outbound
//! connection of the gateway.
//!
//! Webhook deliveries go to URLs merchants chose, so their client ([`ReqwestHttpClient::for_webhooks`])
//! also resolves every host name once, through [`CheckedResolver`]: each answer is checked
//! with the engine's address policy and the connection goes to exactly the addresses checked
//! (no second lookup a rebinding DNS server could answer differently), and no proxy is used
//! (a proxy would resolve the name again, out of our sight). A client that cannot be built
//! stops start-up: nothing is ever sent with weaker settings.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderName, HeaderValue};
use rialto_engine::outbound::{HttpClient, HttpError, HttpRequest, HttpResponse, ReadBody};
use rialto_engine::webhooks::is_public;

/// How long connecting may take, whatever the request's own (shorter) deadline.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The reqwest implementation of the port. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct ReqwestHttpClient {
    client: reqwest::Client,
}

impl ReqwestHttpClient {
    /// Builds the client for operator-configured services (the external screener): no
    /// redirects, connecting bounded by `connect_timeout`, proxies from the environment as
    /// reqwest reads them. Fails only when the TLS backend cannot start.
    pub fn new(connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_tls(connect_timeout, &default_tls())
    }

    /// As [`Self::new`], trusting what `tls` trusts.
    pub fn with_tls(
        connect_timeout: Duration,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(tls))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .build()?;
        Ok(Self { client })
    }

    /// Builds the webhook client: as [`Self::new`], but without proxies and with every host
    /// name resolved once by `resolver`, which refuses non-public answers (see
    /// [`CheckedResolver`]). Addresses written in the URL are checked by the engine
    /// (`check_target`) before the request reaches this client.
    pub fn for_webhooks(
        connect_timeout: Duration,
        resolver: CheckedResolver,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(tls))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .build()?;
        Ok(Self { client })
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut builder = self
            .client
            .post(request.url)
            .timeout(request.timeout)
            .body(request.body);
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::Other("invalid header"))?;
            let mut value =
                HeaderValue::from_str(value).map_err(|_| HttpError::Other("invalid header"))?;
            value.set_sensitive(name == reqwest::header::AUTHORIZATION);
            builder = builder.header(name, value);
        }
        let response = builder.send().await.map_err(|e| send_error(&e))?;
        let status = response.status().as_u16();
        let body = match request.read_body {
            ReadBody::OnSuccess { max_bytes } if response.status().is_success() => {
                read_capped(response, max_bytes).await?
            }
            ReadBody::OnSuccess { .. } | ReadBody::Never => Vec::new(),
        };
        Ok(HttpResponse { status, body })
    }
}

#[async_trait]
impl HttpClient for ReqwestHttpClient {
    async fn post(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        // reqwest's per-request timeout covers the body too; this makes the port's deadline
        // hold even if a future reqwest changes what its timeout covers.
        let deadline = request.timeout;
        tokio::time::timeout(deadline, self.exchange(request))
            .await
            .unwrap_or(Err(HttpError::Timeout))
    }
}

/// The client the external screener sends through, as the engine's port. Building it only
/// fails when the TLS backend cannot start; start-up stops then.
pub fn outbound(connect_timeout: Duration) -> Result<Arc<dyn HttpClient>, reqwest::Error> {
    Ok(Arc::new(ReqwestHttpClient::new(connect_timeout)?))
}

/// As [`outbound`], trusting what `tls` trusts (the gateway's [`crate::tls::client_config`]).
pub fn outbound_with(
    connect_timeout: Duration,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Arc<dyn HttpClient>, reqwest::Error> {
    Ok(Arc::new(ReqwestHttpClient::with_tls(connect_timeout, tls)?))
}

/// The webpki roots and nothing else: [`crate::tls::client_config`] with no extra CA file.
fn default_tls() -> Arc<rustls::ClientConfig> {
    rialto_evm::provider::default_tls()
}

/// Looks a host name up. The system's resolver in production; tests answer what they need.
#[async_trait]
pub trait Lookup: Send + Sync + fmt::Debug {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (getaddrinfo, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

#[async_trait]
impl Lookup for SystemLookup {
    async fn lookup(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        Ok(tokio::net::lookup_host((host, 0))
            .await?
            .map(|a| a.ip())
            .collect())
    }
}

/// Resolves a webhook host once and hands reqwest exactly the addresses it checked: every one
/// must be public (the engine's [`is_public`]) unless private targets are allowed (the
/// development setting). One non-public answer refuses the name, so a mixed answer cannot make
/// the connector fall through to the private address.
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    lookup: Arc<dyn Lookup>,
    allow_private: bool,
}

impl CheckedResolver {
    pub fn new(lookup: Arc<dyn Lookup>, allow_private: bool) -> Self {
        Self {
            lookup,
            allow_private,
        }
    }
}

/// Why a webhook host was not connected to (reqwest reports it as a connect error).
#[derive(Debug, thiserror::Error)]
#[error("webhook host resolves to a non-public address")]
struct NotPublicTarget;

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (lookup, allow_private) = (self.lookup.clone(), self.allow_private);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = lookup.lookup(&host).await?;
            if addresses.is_empty() {
                return Err(std::io::Error::other("no addresses").into());
            }
            if !allow_private && !addresses.iter().all(|ip| is_public(*ip)) {
                return Err(NotPublicTarget.into());
            }
            // Port 0: reqwest puts the URL's port (or the scheme's) in.
            let pinned: Addrs = Box::new(addresses.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(pinned)
        })
    }
}

fn send_error(error: &reqwest::Error) -> HttpError {
    if certificate_refused(error) {
        HttpError::Certificate
    } else if error.is_timeout() {
        HttpError::Timeout
    } else if error.is_connect() {
        HttpError::Connect
    } else if error.is_builder() {
        HttpError::Other("invalid request")
    } else {
        HttpError::Other("request failed")
    }
}

/// Whether rustls refused the server's certificate somewhere in `error`'s causes. The
/// `rustls::Error` reaches us wrapped in I/O and connector errors whose layering differs between
/// hyper versions (and an `io::Error`'s `source()` skips its own payload), so besides looking
/// for the typed error this recognises its message, which rustls has kept stable.
fn certificate_refused(error: &reqwest::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(inner) = cause {
        let tls = inner.downcast_ref::<rustls::Error>().or_else(|| {
            inner
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|e| e.downcast_ref::<rustls::Error>())
        });
        let refused = matches!(
            tls,
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        );
        if refused || inner.to_string().contains("invalid peer certificate") {
            return true;
        }
        cause = inner.source();
    }
    false
}

/// Reads the body chunk by chunk so an oversized answer is refused before it is buffered.
async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, HttpError> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > max_bytes {
                    return Err(HttpError::TooLarge { max_bytes });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(bytes),
            Err(e) if e.is_timeout() => return Err(HttpError::Timeout),
            Err(_) => return Err(HttpError::BodyCutOff),
        }
    }
}

#[cfg(test)]
#[path = "http_client_tests.rs"]
mod tests;
