//! EIP-3009 payments as a wallet makes them: the typed data the gateway asks a payer to sign
//! (`GET …/authorization_request`) read back as an [`Authorization`], and its submission.

use alloy::signers::local::PrivateKeySigner;
use rialto_core::address::Address;
use rialto_core::ChainNamespace;
use rialto_evm::eip3009::{Authorization, AuthorizationKind, TokenDomain};
use serde_json::{json, Value};

use super::TestApp;

/// The typed data the gateway asks for, as an [`Authorization`] from `from`.
pub async fn authorization_for(
    app: &TestApp,
    intent: &Value,
    from: &PrivateKeySigner,
) -> (TokenDomain, Authorization) {
    let id = intent["id"].as_str().unwrap();
    let request = app
        .get(
            &format!("/v1/payment_intents/{id}/authorization_request"),
            app.sk(),
        )
        .send()
        .await
        .unwrap();
    let status = request.status();
    let request: Value = request.json().await.unwrap();
    assert_eq!(status, 200, "{request}");
    authorization_from_request(&request, from)
}

/// [`authorization_for`] from the `authorization_request` object itself.
pub fn authorization_from_request(
    request: &Value,
    from: &PrivateKeySigner,
) -> (TokenDomain, Authorization) {
    let domain = &request["domain"];
    let message = &request["message"];
    let evm = |v: &Value| Address::parse(v.as_str().unwrap(), ChainNamespace::Eip155).unwrap();
    let domain = TokenDomain {
        name: domain["name"].as_str().unwrap().to_owned(),
        version: domain["version"].as_str().unwrap().to_owned(),
        chain_id: domain["chainId"].as_u64().unwrap(),
        verifying_contract: evm(&domain["verifyingContract"]),
    };
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: rialto_evm::contracts::from_wire(from.address()),
        to: evm(&message["to"]),
        value: message["value"].as_str().unwrap().parse().unwrap(),
        valid_after: message["validAfter"].as_str().unwrap().parse().unwrap(),
        valid_before: message["validBefore"].as_str().unwrap().parse().unwrap(),
        nonce: message["nonce"].as_str().unwrap().parse().unwrap(),
    };
    (domain, auth)
}

/// The `POST …/authorizations` body of a signed authorization.
pub fn body_of(auth: &Authorization, signature: &[u8]) -> Value {
    json!({
        "from": auth.from.to_string(),
        "to": auth.to.to_string(),
        "value": auth.value.to_string(),
        "valid_after": auth.valid_after.to_string(),
        "valid_before": auth.valid_before.to_string(),
        "nonce": format!("{:#x}", auth.nonce),
        "signature": format!("0x{}", alloy::hex::encode(signature)),
    })
}

pub async fn submit_auth(app: &TestApp, intent: &Value, body: &Value) -> reqwest::Response {
    let id = intent["id"].as_str().unwrap();
    app.post(
        &format!("/v1/payment_intents/{id}/authorizations"),
        app.sk(),
    )
    .json(body)
    .send()
    .await
    .unwrap()
}
