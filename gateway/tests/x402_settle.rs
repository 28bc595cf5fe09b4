//! x402 `/settle` on the local devnet (real anvil chains), for what the npm-driven suite
//! (`tools/x402/x402.test.mjs`) cannot stage: a gateway that claimed a payment header and died
//! before relaying it. The x402 clients send no Idempotency-Key, so the very same request again
//! must finish that settlement (under the intent it claimed, relayed once), while another
//! request reusing the nonce stays refused.
//!
//! anvil comes from `ANVIL_BIN` (set by tools/test.sh) or the pinned npm package.

mod common;

use alloy::primitives::{B256, U256};
use alloy::signers::local::PrivateKeySigner;
use common::devnet::{start, usdc_balance, MERCHANT};
use common::registry;
use rialto_core::address::Address;
use rialto_core::id::{MerchantId, PaymentIntentId};
use rialto_core::ChainNamespace;
use rialto_evm::eip3009::{sign, Authorization, AuthorizationKind, TokenDomain};
use rialto_gateway::merchants::{create_merchant, NewMerchant};
use rialto_gateway::store::x402::{X402Payment, X402Store};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PRICE: u64 = 10_000;

fn evm(text: &str) -> Address {
    Address::parse(text, ChainNamespace::Eip155).unwrap()
}

/// A `/settle` body paying `value` to the merchant, signed by devnet payer 2 with `nonce`.
fn request(domain: &TokenDomain, payer: &PrivateKeySigner, value: u64, nonce: B256) -> Value {
    let network = format!("eip155:{}", domain.chain_id);
    let token = domain.verifying_contract.to_string();
    let valid_before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: evm(&payer.address().to_string()),
        to: evm(MERCHANT),
        value: U256::from(value),
        valid_after: 0,
        valid_before,
        nonce,
    };
    let signature = sign(payer, domain, &auth).unwrap();
    let accepted = json!({"scheme": "exact", "network": network, "amount": PRICE.to_string(),
        "asset": token, "payTo": MERCHANT, "maxTimeoutSeconds": 120,
        "extra": {"name": domain.name, "version": domain.version}});
    json!({"x402Version": 2, "paymentRequirements": accepted,
        "paymentPayload": {"x402Version": 2, "accepted": accepted, "payload": {
            "signature": format!("0x{}", hex::encode(signature)),
            "authorization": {"from": payer.address().to_string(), "to": MERCHANT,
                "value": value.to_string(), "validAfter": "0",
                "validBefore": valid_before.to_string(), "nonce": nonce.to_string()}}}})
}

#[tokio::test]
async fn a_claim_left_unrelayed_by_a_crash_is_finished_by_the_same_settle_request_and_pays_once() {
    let setup = start(1).await;
    let (app, chain) = (&setup.app, &setup.chain);
    let store = app.store.as_ref();
    let shop = create_merchant(
        store,
        &registry(),
        &NewMerchant {
            name: "Agent shop".into(),
            settlement: Some(("usdc".into(), "devnet-base".into(), MERCHANT.into())),
            live_keys: false,
            country: None,
        },
        0,
    )
    .await
    .unwrap();
    let sk = shop.secret_key.as_str();
    // The token's EIP-712 domain, as the gateway states it for any of the shop's intents.
    let probe = app
        .post("/v1/payment_intents", sk)
        .json(&json!({"amount": "1.00", "currency": "usd"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let typed: Value = app
        .get(
            &format!(
                "/v1/payment_intents/{}/authorization_request",
                probe["id"].as_str().unwrap()
            ),
            sk,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let domain = TokenDomain {
        name: typed["domain"]["name"].as_str().unwrap().to_owned(),
        version: typed["domain"]["version"].as_str().unwrap().to_owned(),
        chain_id: typed["domain"]["chainId"].as_u64().unwrap(),
        verifying_contract: evm(typed["domain"]["verifyingContract"].as_str().unwrap()),
    };
    let payer: PrivateKeySigner = chain.payers[2].private_key.expose_secret().parse().unwrap();
    let nonce = B256::from_slice(&Sha256::digest(
        PaymentIntentId::generate().to_string().as_bytes(),
    ));
    let body = request(&domain, &payer, PRICE, nonce);

    // The crash: the header was claimed by this very request (its canonical hash: serde_json
    // writes an object's keys sorted), and nothing after the claim was stored.
    let claimed = PaymentIntentId::generate();
    let sha = hex::encode(Sha256::digest(serde_json::to_string(&body).unwrap()));
    let claim = X402Payment {
        network: format!("eip155:{}", domain.chain_id),
        asset: domain.verifying_contract.to_string().to_ascii_lowercase(),
        payer: payer.address().to_string().to_ascii_lowercase(),
        nonce: nonce.to_string(),
        merchant_id: shop.id.parse::<MerchantId>().unwrap(),
        livemode: false,
        payment_intent_id: claimed,
        created_at_ms: 0,
        request_sha256: Some(sha),
    };
    assert!(store.claim_x402_payment(&claim).await.unwrap());
    let settle = |body: Value| async move {
        let answer = app
            .post("/v1/x402/settle", sk)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.json::<Value>().await.unwrap()
    };
    let merchant_before = usdc_balance(chain, MERCHANT).await;

    // Another payload reusing the claimed nonce is no retry: refused, nothing relayed.
    let other = settle(request(&domain, &payer, PRICE + 1, nonce)).await;
    assert_eq!(other["success"], false, "{other}");
    assert_eq!(
        other["errorReason"],
        "invalid_exact_evm_payload_authorization_nonce_used"
    );

    let first = settle(body.clone()).await;
    assert_eq!(first["success"], true, "{first}");
    assert_eq!(
        first["extra"]["payment_intent"],
        claimed.to_string(),
        "the claimed intent, written now"
    );
    let path = format!("/v1/payment_intents/{claimed}");
    for attempt in 0.. {
        let now: Value = app
            .get(&path, sk)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if now["status"] == "succeeded" {
            break;
        }
        assert!(attempt < 600, "stuck: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(PRICE)
    );
    // Once relayed, the same request again is answered as it was, and nothing moves twice.
    let again = settle(body).await;
    assert_eq!(again, first);
    assert_eq!(
        usdc_balance(chain, MERCHANT).await - merchant_before,
        U256::from(PRICE)
    );
}
