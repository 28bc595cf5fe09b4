//! The TRM-shaped external screener against a fake TRM on port 0: recorded-style answers,
//! outages, garbage and slowness, and how each one lands in compliance (outages never clear).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use rialto_compliance::{
    assessment_finding, AddressKey, ComplianceError, ExternalScreener, Outcome, RiskAssessment,
    RiskLevel,
};
use rialto_gateway::compliance::external_http::{
    prefetch, ExternalScreenerConfig, HttpScreener, Prefetched,
};
use rialto_gateway::http_client::{outbound, CONNECT_TIMEOUT};
use serde_json::{json, Value};

const API_KEY: &str = "trm-test-key-5f3a9c";
const CLEAN: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";
const SANCTIONED: &str = "0x8589427373d6d84e98730d7795d8f6f8731fda16";
const OTHER: &str = "0x1111111111111111111111111111111111111111";

type Script = Arc<dyn Fn(&Value) -> (u16, String) + Send + Sync>;

/// One request as the fake TRM saw it.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

#[derive(Clone)]
struct FakeTrm {
    script: Script,
    delay: Duration,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests being answered right now, and the most there ever were at once.
    in_flight: Arc<Mutex<(usize, usize)>>,
}

impl FakeTrm {
    fn answering(script: impl Fn(&Value) -> (u16, String) + Send + Sync + 'static) -> Self {
        Self {
            script: Arc::new(script),
            delay: Duration::ZERO,
            seen: Arc::default(),
            in_flight: Arc::default(),
        }
    }

    fn fixed(status: u16, body: impl Into<String>) -> Self {
        let body = body.into();
        Self::answering(move |_| (status, body.clone()))
    }

    fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn most_at_once(&self) -> usize {
        self.in_flight.lock().unwrap().1
    }
}

async fn screen(
    State(fake): State<FakeTrm>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], String) {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    fake.seen.lock().unwrap().push(Seen {
        authorization: text(header::AUTHORIZATION),
        content_type: text(header::CONTENT_TYPE),
        body: body.clone(),
    });
    {
        let mut flight = fake.in_flight.lock().unwrap();
        flight.0 += 1;
        flight.1 = flight.1.max(flight.0);
    }
    tokio::time::sleep(fake.delay).await;
    fake.in_flight.lock().unwrap().0 -= 1;
    let (status, answer) = (fake.script)(&body);
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        answer,
    )
}

/// Starts the fake and returns its base URL (the screener appends TRM's path).
async fn start(fake: FakeTrm) -> String {
    let app = axum::Router::new()
        .route("/public/v2/screening/addresses", post(screen))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn config(url: &str, timeout_ms: u64) -> ExternalScreenerConfig {
    ExternalScreenerConfig {
        provider: "trm".into(),
        url: url.into(),
        api_key: API_KEY.into(),
        timeout_ms,
    }
}

fn screener(url: &str, timeout_ms: u64) -> HttpScreener {
    let http = outbound(CONNECT_TIMEOUT).unwrap();
    HttpScreener::new(&config(url, timeout_ms), http)
}

fn key(address: &str) -> AddressKey {
    AddressKey::parse(address).unwrap()
}

fn indicator(category: &str, label: &str, level: u32, risk_type: &str) -> Value {
    json!({
        "category": category,
        "categoryId": "69",
        "categoryRiskScoreLevel": level,
        "categoryRiskScoreLevelLabel": label,
        "incomingVolumeUsd": "1111.11",
        "outgoingVolumeUsd": "2222.22",
        "riskType": risk_type,
        "totalVolumeUsd": "3333.33"
    })
}

/// A recorded-style TRM answer about `address` on `chain`.
fn trm_answer_on(address: &str, chain: &str, indicators: Value, entities: Value) -> Value {
    json!([{
        "accountExternalId": null,
        "address": address,
        "addressRiskIndicators": indicators,
        "addressSubmitted": address,
        "chain": chain,
        "entities": entities,
        "trmAppUrl": format!("https://app.trmlabs.com/address/{address}/eth")
    }])
}

fn trm_answer(address: &str, indicators: Value) -> String {
    trm_answer_on(address, "ethereum", indicators, json!([])).to_string()
}

async fn assess_with(fake: FakeTrm, address: &str) -> Result<RiskAssessment, ComplianceError> {
    let base = start(fake).await;
    screener(&base, 2000)
        .assess(&key(address), "ethereum")
        .await
}

fn assert_unavailable(answer: &Result<RiskAssessment, ComplianceError>, reason_part: &str) {
    match answer {
        Err(ComplianceError::ScreenerUnavailable { provider, reason }) => {
            assert_eq!(provider, "trm");
            assert!(reason.contains(reason_part), "reason {reason:?}");
        }
        other => panic!("expected unavailable ({reason_part}), got {other:?}"),
    }
}

fn assert_invalid(answer: &Result<RiskAssessment, ComplianceError>, what: &str) {
    assert!(
        matches!(answer, Err(ComplianceError::ScreenerInvalidResponse { provider, .. }) if provider == "trm"),
        "{what}: expected invalid response, got {answer:?}"
    );
}

#[tokio::test]
async fn a_clean_address_is_low_and_the_request_is_what_trm_expects() {
    let fake = FakeTrm::fixed(200, trm_answer(CLEAN, json!([])));
    let answer = assess_with(fake.clone(), CLEAN).await.unwrap();

    assert_eq!(answer.level, RiskLevel::Low);
    assert!(answer.categories.is_empty());
    assert_eq!(
        answer.reference.as_deref(),
        Some(format!("https://app.trmlabs.com/address/{CLEAN}/eth").as_str())
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:{API_KEY}"));
    assert_eq!(seen[0].authorization, Some(format!("Basic {credentials}")));
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(
        seen[0].body,
        json!([{ "address": CLEAN, "chain": "ethereum" }])
    );
    assert_eq!(
        assessment_finding("trm", &key(CLEAN), Ok(answer), false),
        None
    );
}

#[tokio::test]
async fn mixed_indicators_give_the_highest_level_and_each_category_once() {
    let indicators = json!([
        indicator("Decentralized Exchange", "Medium", 5, "COUNTERPARTY"),
        indicator("Decentralized File Sharing Service", "Low", 1, "INDIRECT"),
        indicator("Gambling", "High", 10, "OWNERSHIP"),
        indicator("Decentralized Exchange", "Medium", 5, "INDIRECT"),
    ]);
    let answer = assess_with(FakeTrm::fixed(200, trm_answer(CLEAN, indicators)), CLEAN)
        .await
        .unwrap();

    assert_eq!(answer.level, RiskLevel::High);
    assert_eq!(
        answer.categories,
        [
            "Decentralized Exchange",
            "Decentralized File Sharing Service",
            "Gambling"
        ]
    );
    let finding = assessment_finding("trm", &key(CLEAN), Ok(answer), false).unwrap();
    assert_eq!(finding.outcome, Outcome::Review);
}

#[tokio::test]
async fn a_sanctioned_address_is_severe_and_blocks_even_when_allow_listed() {
    let indicators = json!([
        indicator("Sanctions", "Severe", 15, "OWNERSHIP"),
        indicator("Mixer", "High", 10, "OWNERSHIP"),
    ]);
    let answer = assess_with(
        FakeTrm::fixed(200, trm_answer(SANCTIONED, indicators)),
        SANCTIONED,
    )
    .await
    .unwrap();

    assert_eq!(answer.level, RiskLevel::Severe);
    assert_eq!(answer.categories, ["Sanctions", "Mixer"]);
    let finding = assessment_finding("trm", &key(SANCTIONED), Ok(answer), true).unwrap();
    assert_eq!(finding.outcome, Outcome::Block);
}

#[tokio::test]
async fn a_severe_entity_raises_the_level_even_without_indicators() {
    let entities = json!([{
        "category": "Sanctions",
        "categoryId": "69",
        "entity": "Tornado Cash",
        "riskScoreLevel": 15,
        "riskScoreLevelLabel": "Severe",
        "trmAppUrl": "https://app.trmlabs.com/entities/trm/0000",
        "trmUrn": "/entity/manual/0000"
    }]);
    let body = trm_answer_on(SANCTIONED, "ethereum", json!([]), entities).to_string();
    let answer = assess_with(FakeTrm::fixed(200, body), SANCTIONED)
        .await
        .unwrap();
    assert_eq!(answer.level, RiskLevel::Severe);
}

#[tokio::test]
async fn outages_and_refusals_are_unavailable_with_the_status_as_reason() {
    for status in [500, 502, 503, 429, 401, 403, 422] {
        let fake = FakeTrm::fixed(status, r#"{"code":500,"message":"nope"}"#);
        let answer = assess_with(fake, CLEAN).await;
        assert_unavailable(&answer, &status.to_string());
    }
}

#[tokio::test]
async fn a_truncated_body_is_an_invalid_response() {
    let full = trm_answer(
        CLEAN,
        json!([indicator("Sanctions", "Severe", 15, "OWNERSHIP")]),
    );
    let truncated = full[..full.len() / 2].to_owned();
    let answer = assess_with(FakeTrm::fixed(200, truncated), CLEAN).await;
    assert_invalid(&answer, "truncated");
}

#[tokio::test]
async fn an_unknown_level_label_is_an_invalid_response_never_low() {
    for label in ["Extreme", "low", "Unknown", ""] {
        let body = trm_answer(CLEAN, json!([indicator("Scam", label, 7, "OWNERSHIP")]));
        let answer = assess_with(FakeTrm::fixed(200, body), CLEAN).await;
        assert_invalid(&answer, label);
    }
}

#[tokio::test]
async fn an_answer_about_another_address_or_chain_is_an_invalid_response() {
    let other = assess_with(FakeTrm::fixed(200, trm_answer(OTHER, json!([]))), CLEAN).await;
    assert_invalid(&other, "other address");

    let other_chain = trm_answer_on(CLEAN, "tron", json!([]), json!([])).to_string();
    let answer = assess_with(FakeTrm::fixed(200, other_chain), CLEAN).await;
    assert_invalid(&answer, "other chain");
}

#[tokio::test]
async fn an_empty_or_misshapen_answer_is_an_invalid_response() {
    let two = {
        let mut both = trm_answer_on(CLEAN, "ethereum", json!([]), json!([]));
        let copy = both[0].clone();
        both.as_array_mut().unwrap().push(copy);
        both.to_string()
    };
    let cases = [
        ("empty array", "[]".to_owned()),
        ("object, not array", json!({ "address": CLEAN }).to_string()),
        (
            "missing indicators",
            json!([{ "address": CLEAN }]).to_string(),
        ),
        (
            "indicators not a list",
            json!([{ "address": CLEAN, "addressRiskIndicators": "none" }]).to_string(),
        ),
        ("two answers", two),
        ("html", "<html>maintenance</html>".to_owned()),
        (
            "trailing garbage",
            format!("{} x", trm_answer(CLEAN, json!([]))),
        ),
        ("empty body", String::new()),
    ];
    for (what, body) in cases {
        let answer = assess_with(FakeTrm::fixed(200, body), CLEAN).await;
        assert_invalid(&answer, what);
    }
}

#[tokio::test]
async fn a_screener_slower_than_the_timeout_is_reported_as_a_timeout() {
    let fake = FakeTrm::fixed(200, trm_answer(CLEAN, json!([]))).slow(Duration::from_secs(2));
    let base = start(fake).await;
    let started = Instant::now();
    let answer = screener(&base, 200).assess(&key(CLEAN), "ethereum").await;

    assert_eq!(
        answer,
        Err(ComplianceError::ScreenerTimeout {
            provider: "trm".into()
        })
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let answer = screener(&refusing_url(), 2000)
        .assess(&key(CLEAN), "ethereum")
        .await;
    assert_unavailable(&answer, "connection failed");
}

#[tokio::test]
async fn a_screener_built_from_an_unusable_url_fails_closed() {
    for url in ["", "not a url"] {
        let answer = screener(url, 2000).assess(&key(CLEAN), "ethereum").await;
        assert_unavailable(&answer, "request failed");
    }
}

/// A URL on a port that was just free: bound, then the listener dropped.
fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

#[tokio::test]
async fn every_failure_goes_to_review_never_clear() {
    let full = trm_answer(CLEAN, json!([]));
    let fixed = |status: u16, body: &str| FakeTrm::fixed(status, body.to_owned());
    let fakes = [
        ("500", fixed(500, "")),
        ("429", fixed(429, "")),
        ("401", fixed(401, "")),
        ("truncated", fixed(200, &full[..full.len() - 3])),
        (
            "unknown label",
            fixed(
                200,
                &trm_answer(CLEAN, json!([indicator("Scam", "Extreme", 7, "OWNERSHIP")])),
            ),
        ),
        ("other address", fixed(200, &trm_answer(OTHER, json!([])))),
        ("empty", fixed(200, "[]")),
    ];
    let mut failures = Vec::new();
    for (what, fake) in fakes {
        failures.push((what, assess_with(fake, CLEAN).await));
    }
    let slow = start(fixed(200, &full).slow(Duration::from_secs(2))).await;
    failures.push((
        "timeout",
        screener(&slow, 200).assess(&key(CLEAN), "ethereum").await,
    ));
    let refused = screener(&refusing_url(), 2000);
    failures.push(("refused", refused.assess(&key(CLEAN), "ethereum").await));
    let not_prefetched = Prefetched::new("trm", HashMap::new());
    failures.push(("not prefetched", not_prefetched.assess(&key(CLEAN))));

    for (what, answer) in failures {
        assert!(answer.is_err(), "{what}: {answer:?}");
        for allow_listed in [false, true] {
            let outcome = assessment_finding("trm", &key(CLEAN), answer.clone(), allow_listed)
                .map(|finding| finding.outcome);
            assert_eq!(
                outcome,
                Some(Outcome::Review),
                "{what}, allow-listed {allow_listed}"
            );
        }
    }
}

/// Answers each request about the address and chain it names: SANCTIONED is severe, every
/// other address clean, and chain `base` is down.
fn echoing_trm() -> FakeTrm {
    FakeTrm::answering(|body| {
        let address = body[0]["address"].as_str().unwrap_or_default().to_owned();
        let chain = body[0]["chain"].as_str().unwrap_or_default().to_owned();
        if chain == "base" {
            return (503, String::new());
        }
        let indicators = if address == SANCTIONED {
            json!([indicator("Sanctions", "Severe", 15, "OWNERSHIP")])
        } else {
            json!([])
        };
        (
            200,
            trm_answer_on(&address, &chain, indicators, json!([])).to_string(),
        )
    })
}

#[tokio::test]
async fn prefetch_screens_every_address_at_once_and_answers_synchronously() {
    let fake = echoing_trm().slow(Duration::from_secs(1));
    let base = start(fake.clone()).await;
    let addresses: Vec<(AddressKey, String)> = [
        CLEAN,
        SANCTIONED,
        OTHER,
        "0x2222222222222222222222222222222222222222",
    ]
    .iter()
    .map(|a| (key(a), "ethereum".to_owned()))
    .collect();

    let prefetched = prefetch(&screener(&base, 3000), &addresses).await;
    // All four were asked at once (one after another, the fake would never see two together).
    assert_eq!(fake.most_at_once(), 4);
    assert_eq!(fake.seen().len(), 4);

    let screener: &dyn ExternalScreener = &prefetched;
    assert_eq!(screener.provider(), "trm");
    assert_eq!(screener.assess(&key(CLEAN)).unwrap().level, RiskLevel::Low);
    assert_eq!(
        screener.assess(&key(SANCTIONED)).unwrap().level,
        RiskLevel::Severe
    );
    let missing = key("0x3333333333333333333333333333333333333333");
    assert_unavailable(&screener.assess(&missing), "not prefetched");
}

#[tokio::test]
async fn prefetch_keeps_the_more_cautious_answer_for_an_address_asked_on_two_chains() {
    let base = start(echoing_trm()).await;
    let addresses = [
        (key(CLEAN), "ethereum".to_owned()),
        (key(CLEAN), "base".to_owned()),
    ];
    let prefetched = prefetch(&screener(&base, 2000), &addresses).await;
    assert_unavailable(&prefetched.assess(&key(CLEAN)), "503");
    assert_eq!(prefetched.answers().len(), 1);
}

#[test]
fn config_defaults_to_trm_disabled_with_a_three_second_timeout() {
    let config = ExternalScreenerConfig::default();
    assert_eq!(config.provider, "trm");
    assert_eq!(config.timeout_ms, 3000);
    assert!(!config.is_enabled());
    assert_eq!(config.validate(), Ok(()));

    let partial: ExternalScreenerConfig =
        serde_json::from_value(json!({ "url": "https://api.trmlabs.com" })).unwrap();
    assert_eq!(partial.provider, "trm");
    assert_eq!(partial.timeout_ms, 3000);
}

#[test]
fn config_refuses_unknown_fields_bad_urls_and_out_of_range_timeouts() {
    let typo = serde_json::from_value::<ExternalScreenerConfig>(json!({ "timeout": 5 }));
    assert!(typo.is_err());

    let good = config("https://api.trmlabs.com", 3000);
    assert_eq!(good.validate(), Ok(()));
    assert_eq!(config("http://127.0.0.1:9000/", 1).validate(), Ok(()));
    assert_eq!(config("https://api.trmlabs.com", 60_000).validate(), Ok(()));
    let bad = [
        config("ftp://api.trmlabs.com", 3000),
        config("api.trmlabs.com", 3000),
        config("https://key:secret@api.trmlabs.com", 3000),
        config("https://api.trmlabs.com", 0),
        config("https://api.trmlabs.com", 60_001),
        config("", 0),
        ExternalScreenerConfig {
            api_key: String::new(),
            ..good.clone()
        },
    ];
    for config in bad {
        assert!(config.validate().is_err(), "{config:?} should be refused");
    }
}

/// Collects log lines written on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_api_key_never_appears_in_logs_or_debug_output() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let base = start(FakeTrm::fixed(401, "")).await;
    let screener = screener(&base, 2000);
    let answer = screener.assess(&key(CLEAN), "ethereum").await;
    assert_unavailable(&answer, "401");

    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("external address screening failed"),
        "{logged}"
    );
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:{API_KEY}"));
    for shown in [
        logged,
        format!("{screener:?}"),
        format!("{:?}", config(&base, 2000)),
    ] {
        assert!(!shown.contains(API_KEY), "{shown}");
        assert!(!shown.contains(&credentials), "{shown}");
    }
}
