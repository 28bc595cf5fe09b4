use serde_json::json;

use super::*;

const PAY_TO: &str = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const TOKEN: &str = "0x036CbD53842c5426634e7929541eC2318f3dCF7e";
const PAYER: &str = "0x857b06519E91e3A54538791bDbb0E22373e36b66";

fn request(amount: &str, value: &str) -> serde_json::Value {
    let requirements = json!({
        "scheme": "exact", "network": "eip155:84532", "amount": amount, "asset": TOKEN,
        "payTo": PAY_TO, "maxTimeoutSeconds": 60, "extra": {"name": "USDC", "version": "2"},
    });
    json!({
        "x402Version": 2,
        "paymentPayload": {
            "x402Version": 2,
            "resource": {"url": "https://api.example.com/premium"},
            "accepted": requirements,
            "payload": {
                "signature": format!("0x{}", "11".repeat(65)),
                "authorization": {
                    "from": PAYER, "to": PAY_TO, "value": value, "validAfter": "0",
                    "validBefore": "1740672154", "nonce": format!("0x{}", "AB".repeat(32)),
                },
            },
        },
        "paymentRequirements": requirements,
    })
}

fn check(body: serde_json::Value) -> Result<CheckedPayment, InvalidReason> {
    check_request(&serde_json::from_value(body).unwrap())
}

#[test]
fn a_well_formed_exact_evm_payment_parses_into_what_the_chain_checks_need() {
    let checked = check(request("10000", "10000")).unwrap();
    assert_eq!(checked.chain_id, 84532);
    assert_eq!(checked.network, "eip155:84532");
    assert_eq!(checked.amount, 10_000);
    assert_eq!(checked.value, 10_000);
    assert_eq!(checked.payer.to_string(), PAYER);
    assert_eq!(checked.nonce, format!("0x{}", "ab".repeat(32)));
    assert_eq!(checked.signature.len(), 65);
}

#[test]
fn an_authorization_below_the_price_is_an_underpayment() {
    assert_eq!(
        check(request("10000", "9999")),
        Err(InvalidReason::AuthorizationValue)
    );
}

#[test]
fn requirements_the_client_did_not_accept_are_refused() {
    let mut body = request("10000", "10000");
    body["paymentRequirements"]["amount"] = json!("20000");
    body["paymentPayload"]["payload"]["authorization"]["value"] = json!("20000");
    assert_eq!(check(body), Err(InvalidReason::InvalidPaymentRequirements));
}

#[test]
fn version_scheme_network_recipient_and_signature_each_have_their_reason() {
    let mut v1 = request("1", "1");
    v1["paymentPayload"]["x402Version"] = json!(1);
    assert_eq!(check(v1), Err(InvalidReason::InvalidX402Version));
    let mut upto = request("1", "1");
    upto["paymentRequirements"]["scheme"] = json!("upto");
    assert_eq!(check(upto), Err(InvalidReason::UnsupportedScheme));
    for network in [
        "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
        "eip155:",
        "eip155:0x1",
        "base",
    ] {
        let mut other = request("1", "1");
        other["paymentRequirements"]["network"] = json!(network);
        assert_eq!(
            check(other),
            Err(InvalidReason::InvalidNetwork),
            "{network}"
        );
    }
    let mut elsewhere = request("1", "1");
    elsewhere["paymentPayload"]["payload"]["authorization"]["to"] = json!(PAYER);
    assert_eq!(check(elsewhere), Err(InvalidReason::RecipientMismatch));
    let mut short = request("1", "1");
    short["paymentPayload"]["payload"]["signature"] = json!("0x1234");
    assert_eq!(check(short), Err(InvalidReason::Signature));
    let mut negative = request("1", "1");
    negative["paymentPayload"]["payload"]["authorization"]["value"] = json!("-5");
    assert_eq!(check(negative), Err(InvalidReason::InvalidPayload));
    let mut free = request("0", "0");
    free["paymentPayload"]["accepted"]["amount"] = json!("0");
    assert_eq!(check(free), Err(InvalidReason::InvalidPaymentRequirements));
}

#[test]
fn answers_have_the_specifications_shape() {
    let payer = Address::parse(PAYER, ChainNamespace::Eip155).unwrap();
    assert_eq!(
        verify_response(Ok(&payer)),
        json!({"isValid": true, "payer": PAYER})
    );
    assert_eq!(
        verify_response(Err((InvalidReason::InsufficientFunds, Some(&payer)))),
        json!({"isValid": false, "invalidReason": "insufficient_funds", "payer": PAYER})
    );
    assert_eq!(
        settle_failure(InvalidReason::NonceAlreadyUsed, "eip155:1", None),
        json!({"success": false, "errorReason": "invalid_exact_evm_payload_authorization_nonce_used",
               "transaction": "", "network": "eip155:1"})
    );
}
