//! The sandbox bank's routes: authenticate the signed request, apply latency and faults, and
//! answer JSON that always says `"sandbox": true`. The accept loop, request reading and
//! fault application are the sandbox exchange's.

use std::sync::Arc;

use hyper::Method;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::{Bank, BankOperation, Outcome};
use crate::exchange::sandbox::server::{serve_with, with_fault, Reply, Req};
use crate::issuer::sign::{self, KEY_HEADER, MAX_SKEW_MS, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::issuer::{IssuerQuote, RequestKind};

pub(crate) async fn serve(listener: tokio::net::TcpListener, bank: Arc<Bank>) {
    serve_with(listener, move |req| handle(bank.clone(), req)).await;
}

async fn handle(bank: Arc<Bank>, req: Req) -> Reply {
    if !bank.latency.is_zero() {
        tokio::time::sleep(bank.latency).await;
    }
    let account = match authenticate(&bank, &req) {
        Ok(account) => account,
        Err(reply) => return reply,
    };
    let fault = bank.take_fault(operation(&req));
    with_fault(fault, route(&bank, &account, &req)).await
}

/// The object with `"sandbox": true` added, so no answer can pass for a real bank's.
fn answer(status: u16, mut body: Value) -> Reply {
    if let Some(object) = body.as_object_mut() {
        object.insert("sandbox".into(), Value::Bool(true));
    }
    Reply::json(status, body)
}

fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    let message: String = message.into();
    answer(
        status,
        json!({ "error": { "code": code, "message": message } }),
    )
}

fn header<'a>(req: &'a Req, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The account whose secret signed the request, or the 401 to answer.
fn authenticate(bank: &Bank, req: &Req) -> Result<String, Reply> {
    let (Some(key), Some(timestamp), Some(signature)) = (
        header(req, KEY_HEADER),
        header(req, TIMESTAMP_HEADER),
        header(req, SIGNATURE_HEADER),
    ) else {
        return Err(error(
            401,
            "signature_missing",
            "sign the request: X-Bank-Key, X-Bank-Timestamp, X-Bank-Signature",
        ));
    };
    let Ok(timestamp) = timestamp.parse::<u64>() else {
        return Err(error(
            401,
            "timestamp_invalid",
            "X-Bank-Timestamp is milliseconds since the epoch",
        ));
    };
    if bank.now_ms().abs_diff(timestamp) > MAX_SKEW_MS {
        return Err(error(
            401,
            "timestamp_out_of_window",
            "X-Bank-Timestamp is more than 30 seconds from the bank's clock",
        ));
    }
    let path = match req.query.as_str() {
        "" => req.path.clone(),
        query => format!("{}?{query}", req.path),
    };
    let engine = bank.engine();
    let Some(account) = engine.accounts.get(key) else {
        // The same answer as a bad signature: an unknown key is not confirmed to a prober.
        return Err(error(
            401,
            "signature_invalid",
            "the signature does not match",
        ));
    };
    let secret = account.secret.expose_secret().as_bytes();
    if !sign::verify(
        secret,
        timestamp,
        req.method.as_str(),
        &path,
        &req.body,
        signature,
    ) {
        return Err(error(
            401,
            "signature_invalid",
            "the signature does not match",
        ));
    }
    Ok(key.to_owned())
}

/// Which fault queue a request draws from.
fn operation(req: &Req) -> BankOperation {
    match (req.method == Method::POST, req.path.as_str()) {
        (true, "/v1/onboardings") => BankOperation::Onboard,
        (true, "/v1/mints") => BankOperation::Mint,
        (true, "/v1/redemptions") => BankOperation::Redeem,
        _ => BankOperation::Read,
    }
}

async fn route(bank: &Bank, account: &str, req: &Req) -> Reply {
    // Whatever the request, what is due by now executes first (the sandbox's lazy clock).
    bank.execute_due().await;
    let path = req.path.as_str();
    match (req.method.clone(), path) {
        (Method::POST, "/v1/onboardings") => match parse(req) {
            Ok(body) => outcome(bank.onboard(account, body).await),
            Err(reply) => reply,
        },
        (Method::POST, "/v1/mints") => match parse(req) {
            Ok(body) => outcome(bank.mint(account, body).await),
            Err(reply) => reply,
        },
        (Method::POST, "/v1/redemptions") => match parse(req) {
            Ok(body) => outcome(bank.redeem(account, body).await),
            Err(reply) => reply,
        },
        (Method::GET, "/v1/balance") => {
            let usd = bank.engine().accounts.get(account).map(|a| a.usd);
            let available = usd.unwrap_or_default().to_string();
            answer(
                200,
                json!({ "object": "balance", "currency": "usd", "available": available }),
            )
        }
        (Method::GET, "/v1/quote") => quote(bank, req),
        (Method::GET, p) if p.starts_with("/v1/requests/") => {
            let reference = &p["/v1/requests/".len()..];
            let key = (account.to_owned(), reference.to_owned());
            match bank.engine().get(&key) {
                Some(request) => outcome(Outcome::Request(Box::new(request))),
                None => error(404, "request_not_found", format!("no request {reference}")),
            }
        }
        _ => error(
            404,
            "route_not_found",
            format!("no sandbox bank route {} {path}", req.method),
        ),
    }
}

/// A state-changing body, refused with 400 before anything is recorded when it is malformed
/// or its reference is not one the bank accepts.
fn parse<T: DeserializeOwned + HasReference>(req: &Req) -> Result<T, Reply> {
    let body: T = serde_json::from_slice(&req.body)
        .map_err(|e| error(400, "invalid_request", format!("unreadable body: {e}")))?;
    let reference = body.reference();
    let valid = !reference.is_empty()
        && reference.len() <= 64
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    // Characters that never need escaping in a URL path: the status lookup
    // `/v1/requests/{reference}` then names the reference as it was sent.
    if !valid {
        return Err(error(
            400,
            "invalid_reference",
            "a reference is 1 to 64 of A-Z a-z 0-9 _ - .",
        ));
    }
    Ok(body)
}

pub(crate) trait HasReference {
    fn reference(&self) -> &str;
}

impl HasReference for crate::issuer::OnboardingRequest {
    fn reference(&self) -> &str {
        &self.reference
    }
}

impl HasReference for crate::issuer::MintRequest {
    fn reference(&self) -> &str {
        &self.reference
    }
}

impl HasReference for crate::issuer::RedemptionRequest {
    fn reference(&self) -> &str {
        &self.reference
    }
}

fn outcome(outcome: Outcome) -> Reply {
    match outcome {
        Outcome::Request(request) => {
            let mut body = serde_json::to_value(&request).unwrap_or(Value::Null);
            if let Some(object) = body.as_object_mut() {
                object.insert("object".into(), Value::from("issuer_request"));
            }
            answer(200, body)
        }
        Outcome::ReferenceReused => error(
            409,
            "reference_reused",
            "this reference was used for a different request",
        ),
    }
}

fn quote(bank: &Bank, req: &Req) -> Reply {
    let kind = match req.param("kind") {
        Some("mint") => RequestKind::Mint,
        Some("redemption") => RequestKind::Redemption,
        _ => return error(400, "invalid_request", "kind is mint or redemption"),
    };
    let Some(amount) = req.param("amount").and_then(|a| a.parse::<Decimal>().ok()) else {
        return error(400, "invalid_amount", "amount is a decimal string");
    };
    let engine = bank.engine();
    if let Some(why) = engine.check_amount(kind, amount) {
        return error(400, "invalid_amount", why);
    }
    let (schedule, fee, usd_amount) = match kind {
        RequestKind::Mint => {
            let fee = engine.mint_fee.fee(amount);
            (engine.mint_fee, fee, amount + fee)
        }
        RequestKind::Redemption | RequestKind::Onboarding => {
            let fee = engine.redemption_fee.fee(amount);
            (engine.redemption_fee, fee, amount - fee)
        }
    };
    let quote = IssuerQuote {
        kind,
        amount,
        fee,
        usd_amount,
        minimum: engine.minimum,
        executes_at_ms: engine.executes_at(bank.now_ms()),
        window: engine.window,
        fee_schedule: Some(schedule),
    };
    let mut body = serde_json::to_value(&quote).unwrap_or(Value::Null);
    if let Some(object) = body.as_object_mut() {
        object.insert("object".into(), Value::from("issuer_quote"));
    }
    answer(200, body)
}
