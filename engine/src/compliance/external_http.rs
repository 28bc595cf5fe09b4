//! A TRM Labs-shaped external address screener over HTTP, and the prefetch step that lets the
//! synchronous [`ExternalScreener`] trait of `rialto-compliance` use it.
//!
//! The requests go out through the engine's outbound-HTTP port ([`HttpClient`], implemented by
//! the gateway): redirects are never followed, each request has one deadline, and only a 2xx
//! answer's body is read, up to a cap. The TRM wire types and their mapping to our risk levels
//! stay here: they are data, not HTTP.
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

use base64::Engine as _;
use rialto_compliance::{AddressKey, ComplianceError, ExternalScreener, RiskAssessment, RiskLevel};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use url::Url;

use crate::outbound::{HttpClient, HttpError, HttpRequest, ReadBody};

/// Where TRM's address screening lives under the configured base URL.
const SCREENING_PATH: &str = "/public/v2/screening/addresses";

/// A single-address answer is a few kilobytes; anything far larger is not an answer we want
/// to hold in memory while a payment waits.
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Sent as `user-agent` with every screening request.
const USER_AGENT: &str = "Rialto-Compliance/0.1";

/// The statuses the reasons below single out.
const UNAUTHORIZED: u16 = 401;
const FORBIDDEN: u16 = 403;
const TOO_MANY_REQUESTS: u16 = 429;

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
    pub fn validate(&self) -> Result<(), super::service::PolicyError> {
        if !(1..=60_000).contains(&self.timeout_ms) {
            return Err(super::service::PolicyError(format!(
                "external screener timeout_ms must be 1..=60000, got {}",
                self.timeout_ms
            )));
        }
        if !self.is_enabled() {
            return Ok(());
        }
        let url = Url::parse(&self.url)
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

/// The TRM address-screening client. Cheap to clone: clones share one HTTP client.
#[derive(Debug, Clone)]
pub struct HttpScreener {
    provider: String,
    /// `None` when the configured base URL does not make a URL: every assessment then fails.
    endpoint: Option<Url>,
    api_key: Arc<SecretString>,
    timeout: Duration,
    client: Arc<dyn HttpClient>,
}

impl HttpScreener {
    /// Builds the screener over `client`. Call [`ExternalScreenerConfig::validate`] first
    /// (start-up does): an unusable URL is not refused here, it makes every assessment fail,
    /// which sends payments to review rather than clearing them.
    pub fn new(config: &ExternalScreenerConfig, client: Arc<dyn HttpClient>) -> Self {
        let endpoint = format!("{}{SCREENING_PATH}", config.url.trim_end_matches('/'));
        Self {
            provider: config.provider.clone(),
            endpoint: Url::parse(&endpoint).ok(),
            api_key: Arc::new(SecretString::from(config.api_key.clone())),
            timeout: Duration::from_millis(config.timeout_ms),
            client,
        }
    }

    /// The provider's name, as recorded in findings (`trm`).
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
        // The client's deadline covers the request and the body; this outer one makes the
        // deadline hold whatever client the gateway wires in.
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
        let request_failed = || self.unavailable("request failed".into());
        let url = self.endpoint.clone().ok_or_else(request_failed)?;
        let body = serde_json::to_vec(&[TrmScreenAddress {
            address: address.to_string(),
            chain,
        }])
        .map_err(|_| request_failed())?;
        // HTTP Basic with the key as both user name and password (see the module docs).
        let key = self.api_key.expose_secret();
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{key}"));
        let request = HttpRequest::post(url, body, self.timeout)
            .header("authorization", format!("Basic {credentials}"))
            .header("content-type", "application/json")
            .header("user-agent", USER_AGENT)
            .read_body(ReadBody::OnSuccess {
                max_bytes: MAX_BODY_BYTES,
            });
        let response = self
            .client
            .post(request)
            .await
            .map_err(|e| self.transport_error(e))?;
        if !response.is_success() {
            return Err(self.unavailable(status_reason(response.status)));
        }
        let mut json = serde_json::Deserializer::from_slice(&response.body);
        let answers: Vec<TrmAddressScreening> = serde_path_to_error::deserialize(&mut json)
            .map_err(|e| self.invalid(format!("unexpected body: {e}")))?;
        json.end()
            .map_err(|e| self.invalid(format!("unexpected body: {e}")))?;
        map_answers(answers, address, chain).map_err(|reason| self.invalid(reason))
    }

    /// The port's errors in compliance terms. Short, fixed reasons: a compliance case reader
    /// needs no URL or OS detail.
    fn transport_error(&self, error: HttpError) -> ComplianceError {
        match error {
            HttpError::Timeout => self.timed_out(),
            HttpError::Connect => self.unavailable("connection failed".into()),
            HttpError::Certificate => self.unavailable("TLS certificate refused".into()),
            HttpError::Other(_) => self.unavailable("request failed".into()),
            HttpError::TooLarge { .. } => {
                self.invalid(format!("body larger than {MAX_BODY_BYTES} bytes"))
            }
            // The connection dropped mid-body: what we have is a truncated answer.
            HttpError::BodyCutOff => self.invalid("body cut off".into()),
        }
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
fn status_reason(status: u16) -> String {
    match status {
        UNAUTHORIZED | FORBIDDEN => format!("HTTP {status} (API key refused)"),
        TOO_MANY_REQUESTS => "HTTP 429 (rate limited)".into(),
        _ => format!("HTTP {status}"),
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::outbound::HttpResponse;

    /// Answers every request with one scripted result and keeps the requests it saw.
    #[derive(Debug)]
    struct Scripted {
        answer: Result<HttpResponse, HttpError>,
        seen: Mutex<Vec<HttpRequest>>,
    }

    #[async_trait::async_trait]
    impl HttpClient for Scripted {
        async fn post(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
            self.seen.lock().unwrap().push(request);
            self.answer.clone()
        }
    }

    const ADDRESS: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";

    async fn assess(
        answer: Result<HttpResponse, HttpError>,
    ) -> (Result<RiskAssessment, ComplianceError>, Vec<HttpRequest>) {
        let client = Arc::new(Scripted {
            answer,
            seen: Mutex::default(),
        });
        let config = ExternalScreenerConfig {
            url: "https://api.trm.example/".into(),
            api_key: "k".into(),
            timeout_ms: 1500,
            ..Default::default()
        };
        let screener = HttpScreener::new(&config, client.clone());
        let address = AddressKey::parse(ADDRESS).unwrap();
        let answer = screener.assess(&address, "ethereum").await;
        let seen = client.seen.lock().unwrap().clone();
        (answer, seen)
    }

    #[tokio::test]
    async fn the_request_has_the_deadline_the_cap_and_the_credentials() {
        let body =
            format!(r#"[{{"address":"{ADDRESS}","addressRiskIndicators":[],"trmAppUrl":"u"}}]"#);
        let (answer, seen) = assess(Ok(HttpResponse {
            status: 200,
            body: body.into_bytes(),
        }))
        .await;
        assert_eq!(answer.unwrap().level, RiskLevel::Low);
        let [request] = <[HttpRequest; 1]>::try_from(seen).unwrap();
        assert_eq!(
            request.url.as_str(),
            "https://api.trm.example/public/v2/screening/addresses"
        );
        assert_eq!(request.timeout, Duration::from_millis(1500));
        assert_eq!(
            request.read_body,
            ReadBody::OnSuccess {
                max_bytes: MAX_BODY_BYTES
            }
        );
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        // HTTP Basic of `k:k`.
        assert_eq!(header("authorization").as_deref(), Some("Basic azpr"));
        assert_eq!(header("content-type").as_deref(), Some("application/json"));
        let sent: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(
            sent,
            serde_json::json!([{ "address": ADDRESS, "chain": "ethereum" }])
        );
    }

    fn unavailable(reason: &str) -> ComplianceError {
        ComplianceError::ScreenerUnavailable {
            provider: "trm".into(),
            reason: reason.into(),
        }
    }

    fn invalid(reason: &str) -> ComplianceError {
        ComplianceError::ScreenerInvalidResponse {
            provider: "trm".into(),
            reason: reason.into(),
        }
    }

    #[tokio::test]
    async fn the_ports_failures_map_to_fixed_compliance_errors() {
        let status = |status| {
            Ok(HttpResponse {
                status,
                body: b"ignored".to_vec(),
            })
        };
        let cases = [
            (
                Err(HttpError::Timeout),
                ComplianceError::ScreenerTimeout {
                    provider: "trm".into(),
                },
            ),
            (Err(HttpError::Connect), unavailable("connection failed")),
            (
                Err(HttpError::Other("anything")),
                unavailable("request failed"),
            ),
            (
                Err(HttpError::TooLarge {
                    max_bytes: MAX_BODY_BYTES,
                }),
                invalid("body larger than 1048576 bytes"),
            ),
            (Err(HttpError::BodyCutOff), invalid("body cut off")),
            (status(302), unavailable("HTTP 302")),
            (status(401), unavailable("HTTP 401 (API key refused)")),
            (status(403), unavailable("HTTP 403 (API key refused)")),
            (status(429), unavailable("HTTP 429 (rate limited)")),
            (status(503), unavailable("HTTP 503")),
        ];
        for (answer, expected) in cases {
            let shown = format!("{answer:?}");
            assert_eq!(assess(answer).await.0, Err(expected), "{shown}");
        }
    }
}
