//! Solana Pay URLs against the specification's examples and the reference implementation's
//! test cases, ported as tables.
//!
//! Sources (read from the `anza-xyz/solana-pay` repository, formerly `solana-labs/solana-pay`):
//! - the specification, https://docs.solanapay.com/spec (`spec/SPEC.md`), and its first
//!   version, `core/SPEC.md` (v0.2);
//! - `core/test/parseURL.test.ts` (parsing and its `errors` block);
//! - `core/test/encodeURL.test.ts` and `core/test/encodeTranferRequestURL.test.ts` (the
//!   encoder; their keys are random `Keypair`s, fixed keys are used here).

use std::str::FromStr;

use proptest::prelude::*;
use rialto_core::payment_uri::{
    PaymentUri, SolanaPayError, SolanaPayRequest, TransactionRequest, TransferRequest,
};
use rialto_core::{Address, ChainNamespace};
use rust_decimal::Decimal;

const MVINES: &str = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN";
const USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
const REF: &str = "82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny";

fn key(text: &str) -> Address {
    Address::parse(text, ChainNamespace::Solana).unwrap()
}

fn transfer(url: &str) -> TransferRequest {
    match SolanaPayRequest::parse(url) {
        Ok(SolanaPayRequest::Transfer(t)) => t,
        other => panic!("{url}: expected a transfer request, got {other:?}"),
    }
}

/// The fields a source gives for one URL: amount, spl-token, references, label, message, memo.
struct Expected {
    url: &'static str,
    source: &'static str,
    amount: Option<&'static str>,
    spl_token: Option<&'static str>,
    references: &'static [&'static str],
    label: Option<&'static str>,
    message: Option<&'static str>,
    memo: Option<&'static str>,
}

const FISH: Option<&str> = Some("Thanks for all the fish");

const TRANSFER_EXAMPLES: &[Expected] = &[
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId12345",
        source: "spec: transfer request for 1 SOL",
        amount: Some("1"),
        spl_token: None,
        references: &[],
        label: Some("Michael"),
        message: FISH,
        memo: Some("OrderId12345"),
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.01&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        source: "spec: transfer request for 0.01 USDC",
        amount: Some("0.01"),
        spl_token: Some(USDC),
        references: &[],
        label: None,
        message: None,
        memo: None,
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN&label=Michael",
        source: "spec: transfer request for SOL, amount left to the payer",
        amount: None,
        spl_token: None,
        references: &[],
        label: Some("Michael"),
        message: None,
        memo: None,
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId1234",
        source: "core/SPEC.md v0.2: transfer for 1 SOL",
        amount: Some("1"),
        spl_token: None,
        references: &[],
        label: Some("Michael"),
        message: FISH,
        memo: Some("OrderId1234"),
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.01&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678",
        source: "core/SPEC.md v0.2: transfer for $0.01 SPL USDC",
        amount: Some("0.01"),
        spl_token: Some(USDC),
        references: &[],
        label: Some("Michael"),
        message: FISH,
        memo: Some("OrderId5678"),
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN&label=Michael&memo=4321ABCD",
        source: "core/SPEC.md v0.2: generic SOL transfer with a name and memo",
        amount: None,
        spl_token: None,
        references: &[],
        label: Some("Michael"),
        message: None,
        memo: Some("4321ABCD"),
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.000000001&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678",
        source: "parseURL.test.ts: should parse successfully",
        amount: Some("0.000000001"),
        spl_token: None,
        references: &[REF],
        label: Some("Michael"),
        message: FISH,
        memo: Some("OrderId5678"),
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1.01&spl-token=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678",
        source: "parseURL.test.ts: should parse with spl-token",
        amount: Some("1.01"),
        spl_token: Some(REF),
        references: &[],
        label: Some("Michael"),
        message: FISH,
        memo: Some("OrderId5678"),
    },
    Expected {
        url: "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Michael&message=Thanks%20for%20all%20the%20fish&memo=OrderId5678",
        source: "parseURL.test.ts: should parse without an amount",
        amount: None,
        spl_token: None,
        references: &[REF],
        label: Some("Michael"),
        message: FISH,
        memo: Some("OrderId5678"),
    },
];

#[test]
fn every_transfer_example_of_the_spec_and_the_reference_tests_parses_to_its_fields() {
    for e in TRANSFER_EXAMPLES {
        let t = transfer(e.url);
        let src = e.source;
        assert_eq!(t.recipient, key(MVINES), "{src}");
        assert_eq!(
            t.amount,
            e.amount.map(|a| Decimal::from_str(a).unwrap()),
            "{src}"
        );
        assert_eq!(t.spl_token, e.spl_token.map(key), "{src}");
        let refs: Vec<Address> = e.references.iter().map(|r| key(r)).collect();
        assert_eq!(t.references, refs, "{src}");
        assert_eq!(t.label.as_deref(), e.label, "{src}");
        assert_eq!(t.message.as_deref(), e.message, "{src}");
        assert_eq!(t.memo.as_deref(), e.memo, "{src}");
    }
}

#[test]
fn the_spec_transaction_request_examples_parse_to_their_links() {
    // spec: "URL describing a transaction request" and "... with query parameters".
    for (url, link) in [
        (
            "solana:https://example.com/solana-pay",
            "https://example.com/solana-pay",
        ),
        (
            "solana:https%3A%2F%2Fexample.com%2Fsolana-pay%3Forder%3D12345",
            "https://example.com/solana-pay?order=12345",
        ),
    ] {
        assert_eq!(
            SolanaPayRequest::parse(url),
            Ok(SolanaPayRequest::Transaction(TransactionRequest {
                link: link.to_owned(),
                label: None,
                message: None,
            })),
            "{url}"
        );
    }
    let labelled = SolanaPayRequest::parse(
        "solana:https%3A%2F%2Fexample.com%2Fsolana-pay%3Forder%3D12345?label=Michael&message=Thanks%20for%20all%20the%20fish",
    )
    .unwrap();
    assert_eq!(
        labelled,
        SolanaPayRequest::Transaction(TransactionRequest {
            link: "https://example.com/solana-pay?order=12345".to_owned(),
            label: Some("Michael".to_owned()),
            message: Some("Thanks for all the fish".to_owned()),
        })
    );
}

/// The malformed URLs of `parseURL.test.ts`'s `errors` block, with the reference's message
/// beside the rule this parser names.
#[test]
fn every_malformed_url_of_the_reference_tests_is_refused() {
    let long = "X".repeat(2049);
    let cases: Vec<(String, &str, &str)> = vec![
        (long, "length invalid", "length_invalid"),
        ("eth:0xffff".into(), "protocol invalid", "protocol_invalid"),
        (
            "solana:0xffff".into(),
            "recipient invalid",
            "recipient_invalid",
        ),
        (
            format!("solana:{MVINES}?amount=1milliondollars"),
            "amount invalid",
            "amount_invalid",
        ),
        (
            format!("solana:{MVINES}?amount=-0.1"),
            "amount invalid",
            "amount_negative",
        ),
        (
            format!("solana:{MVINES}?amount=-100"),
            "amount invalid",
            "amount_negative",
        ),
        (
            format!("solana:{MVINES}?amount=1&spl-token=0xffff"),
            "token invalid",
            "spl_token_invalid",
        ),
        (
            format!("solana:{MVINES}?amount=1&reference=0xffff"),
            "reference invalid",
            "reference_invalid",
        ),
    ];
    for (url, reference_message, code) in cases {
        let err = SolanaPayRequest::parse(&url).expect_err(&url);
        assert_eq!(err.code(), code, "{url} (reference: {reference_message})");
    }
}

#[test]
fn the_spec_amount_rules_are_enforced_with_the_rule_named() {
    let cases = [
        ("1e3", SolanaPayError::AmountScientific),
        ("1.5E2", SolanaPayError::AmountScientific),
        (".5", SolanaPayError::AmountLeadingZeroMissing),
        ("1.", SolanaPayError::AmountSyntax),
        ("+1", SolanaPayError::AmountSyntax),
        ("", SolanaPayError::AmountSyntax),
        ("1,5", SolanaPayError::AmountSyntax),
        ("0x10", SolanaPayError::AmountSyntax),
        ("NaN", SolanaPayError::AmountSyntax),
        ("Infinity", SolanaPayError::AmountSyntax),
        ("1_000", SolanaPayError::AmountSyntax),
        ("-0", SolanaPayError::AmountNegative),
        // Native SOL has 9 decimals; the spec calls a 10th malformed.
        (
            "0.0000000001",
            SolanaPayError::AmountTooManyDecimals {
                decimals: 10,
                max: 9,
            },
        ),
        (
            "123456789012345678901234567890",
            SolanaPayError::AmountOutOfRange,
        ),
    ];
    for (amount, want) in cases {
        let url = format!("solana:{MVINES}?amount={amount}");
        assert_eq!(SolanaPayRequest::parse(&url), Err(want), "{url}");
    }
    // `0` is valid, `0.5` is the leading-zero form, trailing zeros are not extra decimals.
    for (amount, want) in [("0", "0"), ("0.5", "0.5"), ("1.500000000000", "1.5")] {
        let t = transfer(&format!("solana:{MVINES}?amount={amount}"));
        assert_eq!(t.amount.unwrap().normalize().to_string(), want);
    }
}

#[test]
fn a_token_amount_is_held_to_the_mints_decimals_once_they_are_known() {
    let url = format!("solana:{MVINES}?amount=0.0000001&spl-token={USDC}");
    let t = transfer(&url);
    assert_eq!(
        t.check_decimals(6),
        Err(SolanaPayError::AmountTooManyDecimals {
            decimals: 7,
            max: 6
        })
    );
    assert_eq!(
        transfer(&format!("solana:{MVINES}?amount=0.000001&spl-token={USDC}")).check_decimals(6),
        Ok(())
    );
}

#[test]
fn ambiguous_or_unencoded_urls_are_refused() {
    let cases = [
        (
            format!("solana:{MVINES}?amount=1&amount=1000"),
            SolanaPayError::DuplicateField { field: "amount" },
        ),
        (
            format!("solana:{MVINES}?spl-token={USDC}&spl-token={REF}"),
            SolanaPayError::DuplicateField { field: "spl-token" },
        ),
        (
            format!("solana:{MVINES}?memo=a&memo=b"),
            SolanaPayError::DuplicateField { field: "memo" },
        ),
        (
            format!("solana:{MVINES}?label=Thanks for"),
            SolanaPayError::RawCharacter { character: ' ' },
        ),
        (
            format!("solana:{MVINES}?label=café"),
            SolanaPayError::RawCharacter { character: 'é' },
        ),
        (
            format!("solana:{MVINES}?label=100%"),
            SolanaPayError::PercentEncoding,
        ),
        (
            format!("solana:{MVINES}?label=%C3"),
            SolanaPayError::NotUtf8,
        ),
        (
            format!("solana:{MVINES}?amount=1#frag"),
            SolanaPayError::Fragment,
        ),
        ("solana:".to_owned(), SolanaPayError::RecipientMissing),
        (
            format!("solana:{MVINES}?reference={REF}&reference=abc"),
            SolanaPayError::ReferenceInvalid { index: 1 },
        ),
    ];
    for (url, want) in cases {
        assert_eq!(SolanaPayRequest::parse(&url), Err(want), "{url}");
    }
}

#[test]
fn transaction_request_links_must_be_plain_absolute_https_urls() {
    for (url, code) in [
        (
            "solana:http%3A%2F%2Fexample.com%2Fsolana-pay",
            "link_invalid",
        ),
        ("solana:http://example.com/solana-pay", "link_invalid"),
        ("solana:ftp://example.com", "link_invalid"),
        ("solana:https%3A%2F%2F", "link_invalid"),
        (
            "solana:https://shop.example@evil.example/pay",
            "link_invalid",
        ),
        ("solana:https://example.com:99999/pay", "link_invalid"),
        ("solana:https%3A%2F%2Fexa%20mple.com", "link_invalid"),
        (
            "solana:https%3A%2F%2Fexample.com%2",
            "percent_encoding_invalid",
        ),
        // A link whose own query was left unencoded: the reference would drop `order`.
        (
            "solana:https://example.com/solana-pay?order=12345",
            "link_query_not_encoded",
        ),
        ("solana:relative%2Fpath", "link_invalid"),
    ] {
        let err = SolanaPayRequest::parse(url).expect_err(url);
        assert_eq!(err.code(), code, "{url}: {err}");
    }
}

/// `encodeTranferRequestURL.test.ts` and `encodeURL.test.ts`, with fixed keys.
#[test]
fn the_builder_writes_what_the_reference_encoder_writes() {
    let (r1, r2) = (key(REF), key(USDC));
    let base = TransferRequest::new(key(MVINES));
    let with = |f: &dyn Fn(&mut TransferRequest)| {
        let mut t = base.clone();
        f(&mut t);
        t.to_url().unwrap()
    };
    let amount = |a: &str| Some(Decimal::from_str(a).unwrap());
    assert_eq!(
        with(&|t| {
            t.amount = amount("0.000000001");
            t.spl_token = Some(r2);
            t.references = vec![r1, r2];
            t.label = Some("label".into());
            t.message = Some("message".into());
            t.memo = Some("memo".into());
        }),
        format!("solana:{MVINES}?amount=0.000000001&spl-token={USDC}&reference={REF}&reference={USDC}&label=label&message=message&memo=memo")
    );
    assert_eq!(with(&|_| {}), format!("solana:{MVINES}"));
    assert_eq!(
        with(&|t| t.amount = amount("1")),
        format!("solana:{MVINES}?amount=1")
    );
    assert_eq!(
        with(&|t| t.amount = amount("12345")),
        format!("solana:{MVINES}?amount=12345")
    );
    assert_eq!(
        with(&|t| {
            t.amount = amount("1.01");
            t.spl_token = Some(r2);
        }),
        format!("solana:{MVINES}?amount=1.01&spl-token={USDC}")
    );
    assert_eq!(
        with(&|t| {
            t.amount = amount("100000.123456");
            t.references = vec![r1];
        }),
        format!("solana:{MVINES}?amount=100000.123456&reference={REF}")
    );
    assert_eq!(
        with(&|t| {
            t.amount = amount("1.99");
            t.label = Some("label".into());
        }),
        format!("solana:{MVINES}?amount=1.99&label=label")
    );
    assert_eq!(
        with(&|t| {
            t.amount = amount("100");
            t.memo = Some("memo".into());
        }),
        format!("solana:{MVINES}?amount=100&memo=memo")
    );
    // Trailing zeros go, as BigNumber.toFixed(decimalPlaces()) drops them.
    assert_eq!(
        with(&|t| t.amount = amount("1.500")),
        format!("solana:{MVINES}?amount=1.5")
    );
}

#[test]
fn the_builder_refuses_what_the_parser_would_refuse() {
    let mut t = TransferRequest::new(key(MVINES));
    t.amount = Some(Decimal::from_str("-1").unwrap());
    assert_eq!(t.to_url(), Err(SolanaPayError::AmountNegative));
    t.amount = Some(Decimal::from_str("0.0000000001").unwrap());
    assert_eq!(
        t.to_url(),
        Err(SolanaPayError::AmountTooManyDecimals {
            decimals: 10,
            max: 9
        })
    );
    t.amount = None;
    t.recipient = Address::parse(
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ChainNamespace::Eip155,
    )
    .unwrap();
    assert_eq!(t.to_url(), Err(SolanaPayError::RecipientInvalid));
    let mut t = TransferRequest::new(key(MVINES));
    t.memo = Some("x".repeat(2100));
    assert!(matches!(t.to_url(), Err(SolanaPayError::TooLong { .. })));
}

#[test]
fn the_builder_encodes_links_only_when_they_need_it() {
    let link = |l: &str| TransactionRequest {
        link: l.to_owned(),
        label: None,
        message: None,
    };
    assert_eq!(
        link("https://example.com/solana-pay").to_url().unwrap(),
        "solana:https://example.com/solana-pay"
    );
    assert_eq!(
        link("https://example.com/solana-pay?order=12345")
            .to_url()
            .unwrap(),
        "solana:https%3A%2F%2Fexample.com%2Fsolana-pay%3Forder%3D12345"
    );
    assert!(link("http://example.com").to_url().is_err());
}

#[test]
fn text_fields_decode_plus_as_space_like_the_reference_and_encode_it_unambiguously() {
    let t = transfer(&format!(
        "solana:{MVINES}?message=Thanks+for+all+the+fish%21&memo=a%2Bb"
    ));
    assert_eq!(t.message.as_deref(), Some("Thanks for all the fish!"));
    assert_eq!(t.memo.as_deref(), Some("a+b"));
    let url = t.to_url().unwrap();
    assert!(
        url.ends_with("message=Thanks%20for%20all%20the%20fish!&memo=a%2Bb"),
        "{url}"
    );
}

#[test]
fn the_json_description_carries_amounts_as_strings() {
    let uri = PaymentUri::parse(TRANSFER_EXAMPLES[1].url).unwrap();
    let json = uri.to_json();
    assert_eq!(json["kind"], "transfer_request");
    assert_eq!(json["amount"], "0.01");
    assert_eq!(json["spl_token"], USDC);
    assert_eq!(json["references"], serde_json::json!([]));
}

fn solana_key() -> impl Strategy<Value = Address> {
    any::<[u8; 32]>().prop_map(Address::Solana)
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("\\PC{1,40}")
}

fn transfer_request() -> impl Strategy<Value = TransferRequest> {
    (
        solana_key(),
        proptest::option::of((0u64..u64::MAX, 0u32..=9)),
        proptest::option::of(solana_key()),
        proptest::collection::vec(solana_key(), 0..4),
        (text(), text(), text()),
    )
        .prop_map(
            |(recipient, amount, spl_token, references, (label, message, memo))| TransferRequest {
                recipient,
                amount: amount.map(|(m, s)| Decimal::new(m as i64 & i64::MAX, s).normalize()),
                spl_token,
                references,
                label,
                message,
                memo,
            },
        )
}

proptest! {
    #[test]
    fn a_built_transfer_request_parses_back_to_the_same_fields(t in transfer_request()) {
        let url = t.to_url().unwrap();
        prop_assert_eq!(SolanaPayRequest::parse(&url), Ok(SolanaPayRequest::Transfer(t)));
    }

    #[test]
    fn a_built_transaction_request_parses_back_to_the_same_fields(
        path in "[a-z0-9/._~-]{0,30}",
        query in proptest::option::of("[a-z0-9=&%+ ]{1,20}"),
        label in text(),
        message in text(),
    ) {
        let link = match query {
            Some(q) => format!("https://example.com/{path}?{}", q.replace(' ', "%20")),
            None => format!("https://example.com/{path}"),
        };
        let t = TransactionRequest { link, label, message };
        let url = t.to_url().unwrap();
        prop_assert_eq!(SolanaPayRequest::parse(&url), Ok(SolanaPayRequest::Transaction(t)));
    }
}
