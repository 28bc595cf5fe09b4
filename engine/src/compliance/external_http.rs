//! A TRM Labs-shaped external address screener over HTTP, and the prefetch step that lets the
//! synchronous [`ExternalScreener`] trait of `rialto-compliance` use it.
//!
//! Compliance has no async runtime, so screening cannot wait on the network itself. The gateway
//! therefore asks the provider first ([`prefetch`], concurrent, each request under a hard
//! deadline) and hands the answers to screening as a [`Prefetched`] map. An address missing
//! from that map is reported as unavailable, so a wiring bug sends a payment to review instead
//! of clearing it.
//!
//! # Wire format: what was confirmed and what was assumed
//!
//! TRM's own reference page for wallet screening was not among the sources available to us, so
//! the shape below is pieced together from public material; re-check it against
//! <https://docs.trmlabs.com> before going live.
//!
//! Confirmed in several independent public clients that call
//! `POST https://api.trmlabs.com/public/v2/screening/addresses` (TypeScript, Python, Go and
//! Rust projects, some with recorded responses):
//! - the body is a JSON array of `{"address": …, "chain": "ethereum"}` objects;
//! - the answer is a JSON array with one object per submitted address, carrying `address`,
//!   `addressSubmitted`, `chain`, `addressRiskIndicators`, `entities`, `trmAppUrl` and
//!   `accountExternalId`;
//! - each risk indicator has `category`, `categoryId`, `categoryRiskScoreLevel` (a number),
//!   `categoryRiskScoreLevelLabel` (`"Low"`, `"Medium"`, `"High"`, `"Severe"` seen), `riskType`
//!   (`OWNERSHIP`, `COUNTERPARTY`, `INDIRECT` seen) and USD volumes as decimal strings;
//! - each entity has `category`, `entity`, `riskScoreLevel`, `riskScoreLevelLabel`, `trmAppUrl`.
//!
//! Confirmed in TRM's published Sanctions API docs (the sibling API): 401 means a wrong key,
//! 429 a rate limit (with `Retry-After`), 500 and 503 are server-side failures.
//!
//! Assumed:
//! - authentication is HTTP Basic with the API key as both user name and password; most
//!   public clients do this, a few send the key with an empty password. TRM documentation
//!   should settle it;
//! - `"Unknown"` is a fifth label (a third-party integration guide lists TRM levels as Severe,
//!   High, Medium, Low, Unknown). We treat it as "TRM could not rate this", an error that sends
//!   the payment to review, rather than inventing a Low;
//! - `trmAppUrl` (the analyst's link to the address in TRM's app) is the reference we keep as
//!   evidence: no other identifier of a single screening was seen in recorded answers.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use rialto_compliance::{AddressKey, ComplianceError, ExternalScreener, RiskAssessment, RiskLevel};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

/// Where TRM's address screening lives under the configured base URL.
const SCREENING_PATH: &str = "/public/v2/screening/addresses";

/// A single-address answer is a few kilobytes; anything far larger is not an answer we want
/// to hold in memory while a payment waits.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The `[compliance.external]`-style settings of the external screener.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExternalScreenerConfig {
    /// Recorded as the evidence list name of every finding (`trm`).
    pub provider: String,
    /// Base URL, e.g. `https://api.trmlabs.com`. Empty disables external screening.
    pub url: String,
    /// Prefer setting it through the environment; it is never logged.
    pub api_key: String,
    /// Hard deadline of one screening request, connection included, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for ExternalScreenerConfig {
    fn default() -> Self {
        Self {
            provider: "trm".into(),
            url: String::new(),
            api_key: String::new(),
            timeout_ms: 3000,
        }
    }
}

impl fmt::Debug for ExternalScreenerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalScreenerConfig")
            .field("provider", &self.provider)
            .field("url", &self.url)
            .field("api_key", &"[redacted]")
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

impl ExternalScreenerConfig {
    /// Whether a screener is configured at all (an empty `url` turns it off).
    pub fn is_enabled(&self) -> bool {
        !self.url.is_empty()
    }

    /// Checks the settings once at start-up, so a typo stops the process instead of sending
    /// every payment to review.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(format!(
                "external screener timeout_ms must be 1..=60000, got {}",
                self.timeout_ms
            ));
        }
        if !self.is_enabled() {
            return Ok(());
        }
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("external screener url is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err("external screener url must be an http(s) URL with a host".into());
        }
        // Credentials in the URL would end up in logs and error messages; the key has its own
        // setting for that reason.
        if !url.username().is_empty() || url.password().is_some() {
            return Err("external screener url must not contain credentials; use api_key".into());
        }
        if self.provider.trim().is_empty() {
            return Err("external screener provider must not be empty".into());
        }
        if self.api_key.is_empty() {
            return Err("external screener api_key must be set when url is set".into());
        }
        Ok(())
    }
}

/// The TRM address-screening client. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct HttpScreener {
    provider: String,
    endpoint: String,
    api_key: Arc<SecretString>,
    timeout: Duration,
    client: reqwest::Client,
}

impl HttpScreener {
    /// Builds the client. Call [`ExternalScreenerConfig::validate`] first (start-up does): an
    /// unusable URL is not refused here, it makes every assessment fail, which sends payments
    /// to review rather than clearing them.
    pub fn new(config: &ExternalScreenerConfig) -> Self {
        let timeout = Duration::from_millis(config.timeout_ms);
        let client = reqwest::Client::builder()
            // A redirect could carry the key to another host; TRM has no reason to send one.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent("Rialto-Compliance/0.1")
            .build()
            .unwrap_or_else(|error| {
                // Only a broken TLS backend makes this fail. The fallback keeps reqwest's
                // defaults; the deadline still holds because `assess` enforces its own.
                tracing::error!(error = %error, "external screener client: using defaults");
                reqwest::Client::new()
            });
        Self {
            provider: config.provider.clone(),
            endpoint: format!("{}{SCREENING_PATH}", config.url.trim_end_matches('/')),
            api_key: Arc::new(SecretString::from(config.api_key.clone())),
            timeout,
            client,
        }
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// Screens one address on one TRM chain (`ethereum`, `base`, `solana`…).
    ///
    /// Read-only and safe to retry. Returns within the configured timeout; every failure is an
    /// `Err` (timeout, unavailable, or an answer we could not trust), never a made-up Low.
    pub async fn assess(
        &self,
        address: &AddressKey,
        chain: &str,
    ) -> Result<RiskAssessment, ComplianceError> {
        // reqwest's own timeout covers the request and the body; this outer one makes the
        // deadline hold even if a future reqwest changes what its timeout covers.
        let answer = match tokio::time::timeout(self.timeout, self.request(address, chain)).await {
            Ok(answer) => answer,
            Err(_elapsed) => Err(self.timed_out()),
        };
        if let Err(error) = &answer {
            tracing::warn!(
                provider = %self.provider,
                address = %address,
                chain,
                error = %error,
                "external address screening failed; the payment will go to review"
            );
        }
        answer
    }

    async fn request(
        &self,
        address: &AddressKey,
        chain: &str,
    ) -> Result<RiskAssessment, ComplianceError> {
        let body = [TrmScreenAddress {
            address: address.to_string(),
            chain,
        }];
        let key = self.api_key.expose_secret();
        let response = self
            .client
            .post(&self.endpoint)
            .basic_auth(key, Some(key))
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.unavailable(status_reason(status)));
        }
        let bytes = self.read_body(response).await?;
        let mut json = serde_json::Deserializer::from_slice(&bytes);
        let answers: Vec<TrmAddressScreening> = serde_path_to_error::deserialize(&mut json)
            .map_err(|e| self.invalid(format!("unexpected body: {e}")))?;
        json.end()
            .map_err(|e| self.invalid(format!("unexpected body: {e}")))?;
        map_answers(answers, address, chain).map_err(|reason| self.invalid(reason))
    }

    /// Reads the body chunk by chunk so an oversized answer is refused before it is buffered.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, ComplianceError> {
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(
                            self.invalid(format!("body larger than {MAX_BODY_BYTES} bytes"))
                        );
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(bytes),
                Err(e) if e.is_timeout() => return Err(self.timed_out()),
                // The connection dropped mid-body: what we have is a truncated answer.
                Err(_) => return Err(self.invalid("body cut off".into())),
            }
        }
    }

    fn transport_error(&self, error: &reqwest::Error) -> ComplianceError {
        if error.is_timeout() {
            return self.timed_out();
        }
        // Short, fixed reasons: reqwest's messages carry URLs and OS detail that help nobody
        // reading a compliance case.
        let reason = if error.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        self.unavailable(reason.into())
    }

    fn timed_out(&self) -> ComplianceError {
        ComplianceError::ScreenerTimeout {
            provider: self.provider.clone(),
        }
    }

    fn unavailable(&self, reason: String) -> ComplianceError {
        ComplianceError::ScreenerUnavailable {
            provider: self.provider.clone(),
            reason,
        }
    }

    fn invalid(&self, reason: String) -> ComplianceError {
        ComplianceError::ScreenerInvalidResponse {
            provider: self.provider.clone(),
            reason,
        }
    }
}

/// Every non-2xx status is "the provider did not answer": 401/403 (our key), 429 (rate
/// limit), 5xx (their outage), and other 4xx (e.g. a chain TRM does not support).
fn status_reason(status: StatusCode) -> String {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            format!("HTTP {} (API key refused)", status.as_u16())
        }
        StatusCode::TOO_MANY_REQUESTS => "HTTP 429 (rate limited)".into(),
        _ => format!("HTTP {}", status.as_u16()),
    }
}

/// Turns TRM's answer to a one-address request into our terms, refusing anything that is not
/// exactly one answer about the address we asked for.
fn map_answers(
    answers: Vec<TrmAddressScreening>,
    asked: &AddressKey,
    chain: &str,
) -> Result<RiskAssessment, String> {
    let answer = match <[TrmAddressScreening; 1]>::try_from(answers) {
        Ok([answer]) => answer,
        Err(answers) => {
            return Err(format!("expected 1 answer, got {}", answers.len()));
        }
    };
    let answered = AddressKey::parse(&answer.address)
        .map_err(|_| "answer names an unparseable address".to_owned())?;
    if &answered != asked {
        return Err(format!("answer is about {answered}, not {asked}"));
    }
    if let Some(submitted) = &answer.address_submitted {
        if AddressKey::parse(submitted).ok().as_ref() != Some(asked) {
            return Err("answer echoes another submitted address".into());
        }
    }
    if let Some(answered_chain) = &answer.chain {
        if !answered_chain.eq_ignore_ascii_case(chain) {
            return Err(format!(
                "answer is about chain {answered_chain}, not {chain}"
            ));
        }
    }

    let mut level = RiskLevel::Low;
    for indicator in &answer.address_risk_indicators {
        level = level.max(risk_level(indicator.category_risk_score_level_label)?);
    }
    // Entities count too: they can only raise the level, so a severe entity without a matching
    // indicator cannot pass as Low. An entity TRM could not rate adds nothing the indicators
    // do not already say, so it is skipped rather than sending every such payment to review.
    for entity in &answer.entities {
        let entity_level = match entity.risk_score_level_label {
            None | Some(TrmRiskLevelLabel::Unknown) => continue,
            Some(label) => risk_level(label)?,
        };
        level = level.max(entity_level);
    }

    let mut categories: Vec<String> = Vec::new();
    for indicator in &answer.address_risk_indicators {
        if !categories.contains(&indicator.category) {
            categories.push(indicator.category.clone());
        }
    }
    Ok(RiskAssessment {
        level,
        categories,
        reference: answer.trm_app_url.filter(|url| !url.is_empty()),
    })
}

fn risk_level(label: TrmRiskLevelLabel) -> Result<RiskLevel, String> {
    match label {
        TrmRiskLevelLabel::Low => Ok(RiskLevel::Low),
        TrmRiskLevelLabel::Medium => Ok(RiskLevel::Medium),
        TrmRiskLevelLabel::High => Ok(RiskLevel::High),
        TrmRiskLevelLabel::Severe => Ok(RiskLevel::Severe),
        TrmRiskLevelLabel::Unknown => Err("TRM rated a risk as Unknown".into()),
    }
}

/// One element of the request body.
#[derive(Debug, Serialize)]
struct TrmScreenAddress<'a> {
    address: String,
    chain: &'a str,
}

/// One element of the response body. Fields we do not use are ignored, so TRM adding fields
/// does not break screening; fields we rely on are required.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrmAddressScreening {
    address: String,
    address_submitted: Option<String>,
    chain: Option<String>,
    address_risk_indicators: Vec<TrmRiskIndicator>,
    #[serde(default)]
    entities: Vec<TrmEntity>,
    trm_app_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrmRiskIndicator {
    category: String,
    category_risk_score_level_label: TrmRiskLevelLabel,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrmEntity {
    risk_score_level_label: Option<TrmRiskLevelLabel>,
}

/// TRM's level labels, spelled exactly as TRM sends them. A label not listed here fails to
/// deserialize, so a new TRM level becomes an invalid answer (review), never a silent Low.
#[derive(Debug, Clone, Copy, Deserialize)]
enum TrmRiskLevelLabel {
    Unknown,
    Low,
    Medium,
    High,
    Severe,
}

/// Answers fetched ahead of a synchronous screening call.
#[derive(Debug, Clone)]
pub struct Prefetched {
    provider: String,
    answers: HashMap<AddressKey, Result<RiskAssessment, ComplianceError>>,
}

impl Prefetched {
    pub fn new(
        provider: impl Into<String>,
        answers: HashMap<AddressKey, Result<RiskAssessment, ComplianceError>>,
    ) -> Self {
        Self {
            provider: provider.into(),
            answers,
        }
    }

    pub fn answers(&self) -> &HashMap<AddressKey, Result<RiskAssessment, ComplianceError>> {
        &self.answers
    }

    /// Records an answer; when the address is already known (asked on two chains), the more
    /// cautious answer stays: an error over any assessment, then the higher level.
    fn record(&mut self, address: AddressKey, answer: Result<RiskAssessment, ComplianceError>) {
        let keep_old = match (self.answers.get(&address), &answer) {
            (None, _) => false,
            (Some(Err(_)), _) => true,
            (Some(Ok(_)), Err(_)) => false,
            (Some(Ok(old)), Ok(new)) => old.level >= new.level,
        };
        if !keep_old {
            self.answers.insert(address, answer);
        }
    }
}

impl ExternalScreener for Prefetched {
    fn provider(&self) -> &str {
        &self.provider
    }

    /// Serves the stored answer. An address that was never fetched is an error, so a payment
    /// whose addresses were not all prefetched goes to review rather than clearing.
    fn assess(&self, address: &AddressKey) -> Result<RiskAssessment, ComplianceError> {
        match self.answers.get(address) {
            Some(answer) => answer.clone(),
            None => Err(ComplianceError::ScreenerUnavailable {
                provider: self.provider.clone(),
                reason: "not prefetched".into(),
            }),
        }
    }
}

/// Screens every `(address, chain)` concurrently and collects the answers, failures included.
///
/// Takes at most about one screener timeout, however many addresses there are. A request
/// task that dies leaves its address out, which [`Prefetched`] reports as unavailable.
pub async fn prefetch(screener: &HttpScreener, addresses: &[(AddressKey, String)]) -> Prefetched {
    let mut tasks = JoinSet::new();
    for (address, chain) in addresses {
        let screener = screener.clone();
        let address = address.clone();
        let chain = chain.clone();
        tasks.spawn(async move {
            let answer = screener.assess(&address, &chain).await;
            (address, answer)
        });
    }
    let mut prefetched = Prefetched::new(screener.provider.clone(), HashMap::new());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((address, answer)) => prefetched.record(address, answer),
            Err(error) => {
                tracing::error!(error = %error, "external screening task failed");
            }
        }
    }
    prefetched
}
