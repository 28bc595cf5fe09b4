//! [`IssuerHttpClient`]: the [`Issuer`] speaking the documented issuer API
//! (`docs/issuer-api.md`) over reqwest, every request signed ([`super::sign`]).
//!
//! What a failure means depends on whether the request changes state: a timeout on a read is
//! an outage, on a mint it is [`IssuerError::Timeout`] (it may have executed). Both are
//! retryable because the bank executes a reference once: the retry answers the first result.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::sign::{self, KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use super::{
    Issuer, IssuerError, IssuerQuote, IssuerRequest, MintGuard, MintRequest, OnboardingRequest,
    RedemptionRequest, RequestKind, UsdBalance,
};
use crate::exchange::{Clock, SystemClock};

/// Where the bank is and who we are there.
#[derive(Debug, Clone)]
pub struct IssuerHttpConfig {
    pub base_url: String,
    pub key: String,
    pub secret: SecretString,
    /// Per request; past it a state-changing request is [`IssuerError::Timeout`].
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct IssuerHttpClient {
    http: reqwest::Client,
    config: IssuerHttpConfig,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl IssuerHttpClient {
    pub fn new(config: IssuerHttpConfig) -> Result<Self, IssuerError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    pub fn with_clock(
        config: IssuerHttpConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IssuerError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| IssuerError::Config {
                message: e.to_string(),
            })?;
        Ok(Self {
            http,
            config,
            clock,
        })
    }

    /// Sends a signed request and reads the answer. `operation` names a state-changing one.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
        operation: Option<&'static str>,
    ) -> Result<T, IssuerError> {
        let body = body.unwrap_or_default();
        let timestamp = crate::exchange::now_ms_u64(self.clock.as_ref());
        let signature = sign::signature(
            self.config.secret.expose_secret().as_bytes(),
            timestamp,
            method.as_str(),
            path_and_query,
            &body,
        );
        let url = format!(
            "{}{path_and_query}",
            self.config.base_url.trim_end_matches('/')
        );
        let response = self
            .http
            .request(method, url)
            .header(KEY_HEADER, &self.config.key)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport(e, operation))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, operation))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| IssuerError::Decode {
                message: e.to_string(),
            });
        }
        Err(refusal(status, &bytes, retry_after, path_and_query))
    }
}

fn transport(error: reqwest::Error, operation: Option<&'static str>) -> IssuerError {
    let error = error.without_url();
    if error.is_connect() {
        return IssuerError::Unavailable {
            message: format!("connection failed: {error}"),
        };
    }
    if error.is_builder() {
        return IssuerError::Config {
            message: error.to_string(),
        };
    }
    match operation {
        // Sent, and no (whole) answer: it may have executed at the bank.
        Some(operation) => IssuerError::Timeout { operation },
        None => IssuerError::Unavailable {
            message: format!("no answer: {error}"),
        },
    }
}

fn refusal(
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
    path: &str,
) -> IssuerError {
    let detail = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let message = detail.as_ref().map_or_else(
        || format!("HTTP {status}"),
        |d| format!("{}: {}", d.code, d.message),
    );
    match status.as_u16() {
        429 => IssuerError::RateLimited { retry_after },
        401 | 403 => IssuerError::Auth { message },
        404 if detail
            .as_ref()
            .is_some_and(|d| d.code == "request_not_found") =>
        {
            let reference = path.rsplit('/').next().unwrap_or_default().to_owned();
            IssuerError::NotFound { reference }
        }
        409 => IssuerError::ReferenceReused {
            reference: String::new(),
        },
        400 | 422 => IssuerError::InvalidRequest { message },
        500..=599 => IssuerError::Unavailable { message },
        _ => IssuerError::Decode {
            message: format!("unexpected answer: {message}"),
        },
    }
}

fn encode(body: &impl serde::Serialize) -> Result<Vec<u8>, IssuerError> {
    serde_json::to_vec(body).map_err(|e| IssuerError::InvalidRequest {
        message: e.to_string(),
    })
}

fn with_reference(error: IssuerError, reference: &str) -> IssuerError {
    match error {
        IssuerError::ReferenceReused { .. } => IssuerError::ReferenceReused {
            reference: reference.to_owned(),
        },
        other => other,
    }
}

#[async_trait]
impl Issuer for IssuerHttpClient {
    async fn onboard(&self, request: &OnboardingRequest) -> Result<IssuerRequest, IssuerError> {
        let body = encode(request)?;
        self.call(
            Method::POST,
            "/v1/onboardings",
            Some(body),
            Some("onboarding"),
        )
        .await
        .map_err(|e| with_reference(e, &request.reference))
    }

    async fn balance(&self) -> Result<UsdBalance, IssuerError> {
        self.call(Method::GET, "/v1/balance", None, None).await
    }

    async fn mint(
        &self,
        request: &MintRequest,
        guard: &dyn MintGuard,
    ) -> Result<IssuerRequest, IssuerError> {
        // A reference the bank holds is answered as it stands: the guard is for new mints
        // (the supply it reads may already include this one).
        match self.request(&request.reference).await {
            Ok(known) => return Ok(known),
            Err(IssuerError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
        guard
            .check_mint(&request.chain, request.amount)
            .await
            .map_err(|message| IssuerError::MintGuardRefused { message })?;
        let body = encode(request)?;
        self.call(Method::POST, "/v1/mints", Some(body), Some("mint"))
            .await
            .map_err(|e| with_reference(e, &request.reference))
    }

    async fn redeem(&self, request: &RedemptionRequest) -> Result<IssuerRequest, IssuerError> {
        let body = encode(request)?;
        self.call(
            Method::POST,
            "/v1/redemptions",
            Some(body),
            Some("redemption"),
        )
        .await
        .map_err(|e| with_reference(e, &request.reference))
    }

    async fn request(&self, reference: &str) -> Result<IssuerRequest, IssuerError> {
        let encoded: String = form_urlencoded::byte_serialize(reference.as_bytes()).collect();
        self.call(Method::GET, &format!("/v1/requests/{encoded}"), None, None)
            .await
            .map_err(|e| match e {
                IssuerError::NotFound { .. } => IssuerError::NotFound {
                    reference: reference.to_owned(),
                },
                other => other,
            })
    }

    async fn quote(&self, kind: RequestKind, amount: Decimal) -> Result<IssuerQuote, IssuerError> {
        let kind = match kind {
            RequestKind::Mint => "mint",
            RequestKind::Redemption => "redemption",
            RequestKind::Onboarding => {
                return Err(IssuerError::InvalidRequest {
                    message: "an onboarding has no quote".into(),
                })
            }
        };
        let path = format!("/v1/quote?kind={kind}&amount={amount}");
        self.call(Method::GET, &path, None, None).await
    }
}
