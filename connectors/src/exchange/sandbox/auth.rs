//! Optional credential checks: with [`super::SandboxConfig::keys`] set, the sandbox verifies
//! every private request the way the venue does (Binance's HMAC-SHA256 over the query and
//! body, Kraken's HMAC-SHA512 `API-Sign`, Coinbase's ES256 JWT) and refuses, in the venue's
//! own wire format, an unknown key, a bad signature, or a key lacking the call's permission.
//! Without keys (the default) it accepts anything, as the `_test_` sandbox always has.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Verifier as _;
use secrecy::SecretString;
use serde_json::json;

use super::server::{Reply, Req};
use super::{Operation, Shared};
use crate::exchange::binance::signature;
use crate::exchange::coinbase::CdpKey;
use crate::exchange::kraken::api_sign;

/// An API key the sandbox knows (its secret as the venue shows it: base64 for Kraken, a PEM
/// EC key for Coinbase, text for Binance) and what the key may do.
#[derive(Debug, Clone)]
pub struct SandboxKey {
    pub secret: String,
    pub read: bool,
    pub trade: bool,
    pub withdraw: bool,
    /// The account holder's name, as Coinbase's `GET /v2/user` answers it (`None`: no name).
    pub holder: Option<String>,
}

impl SandboxKey {
    /// A key that may read, trade and withdraw.
    pub fn full(secret: impl Into<String>) -> Self {
        Self {
            secret: secret.into(),
            read: true,
            trade: true,
            withdraw: true,
            holder: None,
        }
    }

    /// The same key, its account held by `name`.
    pub fn held_by(mut self, name: impl Into<String>) -> Self {
        self.holder = Some(name.into());
        self
    }
}

enum Denial {
    UnknownKey,
    BadSignature,
    Permission,
}

/// `None`: let the request through; `Some`: the venue's refusal.
pub(super) fn refuse(shared: &Shared, req: &Req, operation: Operation) -> Option<Reply> {
    if shared.keys.is_empty() {
        return None;
    }
    let path = req.path.as_str();
    let (dialect, outcome): (Dialect, Result<&SandboxKey, Denial>) = if path.starts_with("/0/") {
        if !path.starts_with("/0/private/") {
            return None;
        }
        (Dialect::Kraken, kraken(shared, req))
    } else if path.starts_with("/api/v3/brokerage/") || path.starts_with("/v2/") {
        (Dialect::Coinbase, coinbase(shared, req))
    } else if req.param("signature").is_some() || req.header("x-mbx-apikey").is_some() {
        (Dialect::Binance, binance(shared, req))
    } else {
        return None;
    };
    let denial = match outcome {
        Ok(key) if permitted(key, path, operation) => return None,
        Ok(_) => Denial::Permission,
        Err(denial) => denial,
    };
    Some(dialect.reply(denial))
}

/// Calls that report the key's own permissions are open to any valid key; Kraken's funding
/// reads need its "Withdraw Funds" permission.
fn permitted(key: &SandboxKey, path: &str, operation: Operation) -> bool {
    match operation {
        Operation::PlaceOrder => key.trade,
        Operation::Withdraw => key.withdraw,
        Operation::Read => match path {
            "/sapi/v1/account/apiRestrictions" | "/api/v3/brokerage/key_permissions" => true,
            p if p.starts_with("/0/private/Withdraw") => key.withdraw,
            _ => key.read,
        },
    }
}

fn known<'a>(shared: &'a Shared, key: Option<&str>) -> Result<&'a SandboxKey, Denial> {
    key.and_then(|k| shared.keys.get(k))
        .ok_or(Denial::UnknownKey)
}

fn kraken<'a>(shared: &'a Shared, req: &Req) -> Result<&'a SandboxKey, Denial> {
    let key = known(shared, req.header("api-key"))?;
    let nonce = req.param("nonce").and_then(|n| n.parse::<u64>().ok());
    let body = String::from_utf8_lossy(&req.body);
    let expected = nonce.and_then(|n| api_sign(&key.secret, &req.path, n, &body).ok());
    match (expected, req.header("api-sign")) {
        (Some(expected), Some(given)) if expected == given => Ok(key),
        _ => Err(Denial::BadSignature),
    }
}

/// Removes `signature=…` from an encoded query or body (it is appended last by the client).
fn unsigned(encoded: &str) -> (String, Option<String>) {
    match encoded.rsplit_once("signature=") {
        Some((head, sig)) => (head.trim_end_matches('&').to_owned(), Some(sig.to_owned())),
        None => (encoded.to_owned(), None),
    }
}

fn binance<'a>(shared: &'a Shared, req: &Req) -> Result<&'a SandboxKey, Denial> {
    let key = known(shared, req.header("x-mbx-apikey"))?;
    let (query, from_query) = unsigned(&req.query);
    let body = String::from_utf8_lossy(&req.body);
    let (body, from_body) = unsigned(&body);
    let given = from_query.or(from_body).ok_or(Denial::BadSignature)?;
    if signature(&key.secret, &query, &body) == given {
        Ok(key)
    } else {
        Err(Denial::BadSignature)
    }
}

/// What `key` may do: every permission while the sandbox checks no keys.
pub(super) fn permissions(shared: &Shared, key: Option<&str>) -> SandboxKey {
    if shared.keys.is_empty() {
        return SandboxKey::full("");
    }
    key.and_then(|k| shared.keys.get(k))
        .cloned()
        .unwrap_or(SandboxKey {
            secret: String::new(),
            read: false,
            trade: false,
            withdraw: false,
            holder: None,
        })
}

/// The CDP key name a Coinbase request's JWT claims (`sub`), unverified.
pub(super) fn coinbase_key_name(req: &Req) -> Option<String> {
    let token = req.header("authorization")?.strip_prefix("Bearer ")?;
    let claims = token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

fn coinbase<'a>(shared: &'a Shared, req: &Req) -> Result<&'a SandboxKey, Denial> {
    let token = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .ok_or(Denial::UnknownKey)?;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, _, sig] = parts[..] else {
        return Err(Denial::BadSignature);
    };
    let name = coinbase_key_name(req);
    let key = known(shared, name.as_deref())?;
    let cdp = CdpKey::from_pem(
        name.unwrap_or_default(),
        &SecretString::from(key.secret.clone()),
    )
    .map_err(|_| Denial::BadSignature)?;
    let signature = URL_SAFE_NO_PAD
        .decode(sig)
        .ok()
        .and_then(|s| p256::ecdsa::Signature::from_slice(&s).ok())
        .ok_or(Denial::BadSignature)?;
    cdp.verifying_key()
        .verify(
            format!("{header}.{claims_b64}", claims_b64 = parts[1]).as_bytes(),
            &signature,
        )
        .map(|()| key)
        .map_err(|_| Denial::BadSignature)
}

#[derive(Clone, Copy)]
enum Dialect {
    Binance,
    Kraken,
    Coinbase,
}

impl Dialect {
    fn reply(self, denial: Denial) -> Reply {
        match (self, denial) {
            (Dialect::Kraken, d) => Reply::json(
                200,
                json!({ "error": [match d {
                    Denial::UnknownKey => "EAPI:Invalid key",
                    Denial::BadSignature => "EAPI:Invalid signature",
                    Denial::Permission => "EGeneral:Permission denied",
                }] }),
            ),
            (Dialect::Binance, Denial::BadSignature) => Reply::json(
                400,
                json!({ "code": -1022, "msg": "Signature for this request is not valid." }),
            ),
            (Dialect::Binance, _) => Reply::json(
                401,
                json!({ "code": -2015, "msg": "Invalid API-key, IP, or permissions for action." }),
            ),
            (Dialect::Coinbase, Denial::Permission) => Reply::json(
                403,
                json!({ "error": "PERMISSION_DENIED", "message": "Missing required scopes" }),
            ),
            (Dialect::Coinbase, _) => Reply::json(
                401,
                json!({ "error": "UNAUTHENTICATED", "message": "Unauthorized" }),
            ),
        }
    }
}
