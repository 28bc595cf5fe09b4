//! EIP-681 URIs against the EIP's examples (https://eips.ethereum.org/EIPS/eip-681, "Semantics")
//! and the malformed forms its grammar and words rule out.

use proptest::prelude::*;
use rialto_core::payment_uri::{
    Eip681Arg, Eip681Call, Eip681Error, Eip681Request, PaymentUri, Uint256,
};
use rialto_core::{Address, ChainNamespace};

fn evm(text: &str) -> Address {
    Address::parse(text, ChainNamespace::Eip155).unwrap()
}

fn units(text: &str) -> Uint256 {
    text.parse().unwrap()
}

#[test]
fn the_eips_erc20_example_parses_to_token_beneficiary_and_units() {
    // EIP-681: "requesting a Unicorn to address 0x8e23…d052".
    let r = Eip681Request::parse(
        "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7/transfer?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=1",
    )
    .unwrap();
    assert_eq!(r.target, evm("0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7"));
    assert_eq!(r.chain_id, None);
    assert!(!r.pay_prefix);
    assert_eq!(
        r.call,
        Some(Eip681Call::Erc20Transfer {
            to: evm("0x8e23ee67d1332ad560396262c48ffbb01f93d052"),
            amount: units("1"),
        })
    );
    assert_eq!(r.value, None);
}

#[test]
fn the_eips_native_example_is_refused_for_its_bad_checksum_and_reads_2_014_ether_without_it() {
    // EIP-681: "requesting 2.014 ETH to address 0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359".
    // Its mixed case is not the EIP-55 checksum (0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359),
    // which is exactly what a checksum exists to catch.
    let example = "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2.014e18";
    assert_eq!(
        Eip681Request::parse(example),
        Err(Eip681Error::AddressChecksum {
            field: "target_address"
        })
    );
    for uri in [
        "ethereum:0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359?value=2.014e18",
        "ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359?value=2.014e18",
        "ethereum:pay-0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359?value=2014000000000000000",
    ] {
        let r = Eip681Request::parse(uri).unwrap();
        assert_eq!(
            r.target,
            evm("0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"),
            "{uri}"
        );
        assert_eq!(r.call, None, "{uri}");
        assert_eq!(r.value, Some(units("2014000000000000000")), "{uri}");
    }
}

#[test]
fn numbers_follow_the_grammar_and_must_be_integers() {
    let value = |v: &str| {
        Eip681Request::parse(&format!(
            "ethereum:0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359?value={v}"
        ))
        .map(|r| r.value.unwrap().to_string())
    };
    for (text, want) in [
        ("2.014e18", "2014000000000000000"),
        ("2.014E18", "2014000000000000000"),
        ("+1e3", "1000"),
        ("1e0", "1"),
        ("007", "7"),
        ("0e99999999999999999999", "0"),
        (".5e1", "5"),
        (
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "115792089237316195423570985008687907853269984665640564039457584007913129639935",
        ),
    ] {
        assert_eq!(value(text).as_deref(), Ok(want), "{text}");
    }
    let key = || "value".to_owned();
    for (text, want) in [
        ("2.0145e3", Eip681Error::NumberNotInteger { key: key() }),
        ("1.5", Eip681Error::NumberNotInteger { key: key() }),
        ("1.50e1", Eip681Error::NumberNotInteger { key: key() }),
        ("-1", Eip681Error::NumberNegative { key: key() }),
        ("1e", Eip681Error::NumberSyntax { key: key() }),
        ("e18", Eip681Error::NumberSyntax { key: key() }),
        ("", Eip681Error::NumberSyntax { key: key() }),
        ("1.", Eip681Error::NumberSyntax { key: key() }),
        ("0x10", Eip681Error::NumberSyntax { key: key() }),
        ("1e-3", Eip681Error::NumberSyntax { key: key() }),
        ("1e78", Eip681Error::NumberOutOfRange { key: key() }),
        (
            "1e99999999999999999999",
            Eip681Error::NumberOutOfRange { key: key() },
        ),
        (
            "115792089237316195423570985008687907853269984665640564039457584007913129639936",
            Eip681Error::NumberOutOfRange { key: key() },
        ),
    ] {
        assert_eq!(value(text), Err(want), "{text}");
    }
}

#[test]
fn malformed_uris_are_refused_with_the_rule_named() {
    const A: &str = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
    const T: &str = "0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7";
    let cases: Vec<(String, &str)> = vec![
        ("bitcoin:1abc".into(), "scheme_invalid"),
        ("ethereum:".into(), "target_missing"),
        ("ethereum:0x123".into(), "address_invalid"),
        ("ethereum:vitalik.eth?value=1".into(), "ens_not_supported"),
        (
            format!("ethereum:{T}/transfer?address=vitalik.eth&uint256=1"),
            "ens_not_supported",
        ),
        (format!("ethereum:{A}@0"), "chain_id_invalid"),
        (format!("ethereum:{A}@01"), "chain_id_invalid"),
        (format!("ethereum:{A}@0x1"), "chain_id_invalid"),
        (format!("ethereum:{A}@"), "chain_id_invalid"),
        (
            format!("ethereum:{A}@99999999999999999999"),
            "chain_id_invalid",
        ),
        (format!("ethereum:{T}/1transfer"), "function_name_invalid"),
        (format!("ethereum:{T}/"), "function_name_invalid"),
        (format!("ethereum:{A}?"), "parameter_malformed"),
        (format!("ethereum:{A}?value"), "parameter_malformed"),
        (
            format!("ethereum:{A}?value=1&&gas=2"),
            "parameter_malformed",
        ),
        (
            format!("ethereum:{A}?value=1&value=2"),
            "duplicate_parameter",
        ),
        (
            format!("ethereum:{A}?gas=1&gasLimit=2"),
            "duplicate_parameter",
        ),
        (format!("ethereum:{A}?amount=1"), "parameter_key_invalid"),
        (
            format!("ethereum:{A}?uint256=1"),
            "arguments_without_function",
        ),
        (
            format!("ethereum:{T}/transfer?address={A}"),
            "transfer_arguments_invalid",
        ),
        (
            format!("ethereum:{T}/transfer?uint256=1"),
            "transfer_arguments_invalid",
        ),
        (
            format!("ethereum:{T}/transfer?address={A}&address={A}&uint256=1"),
            "transfer_arguments_invalid",
        ),
        (
            format!("ethereum:{T}/transfer?address={A}&uint256=1&bool=true"),
            "transfer_arguments_invalid",
        ),
        (
            format!("ethereum:{T}/transfer?address={A}&uint256=-1"),
            "number_negative",
        ),
        (format!("ethereum:{T}/approve?bool=yes"), "argument_invalid"),
        (format!("ethereum:{T}/f?uint7=1"), "parameter_key_invalid"),
        (
            format!("ethereum:{T}/f?bytes33=0x00"),
            "parameter_key_invalid",
        ),
        (
            format!("ethereum:{T}/f?uint256[]=1"),
            "parameter_key_invalid",
        ),
        (format!("ethereum:{A}?value=1#x"), "fragment_not_allowed"),
        (format!("ethereum:{A}?value=1 "), "character_not_encoded"),
        (format!("ethereum:{T}/f?string=%E2%82"), "not_utf8"),
        (
            format!("ethereum:{T}/f?string=%G1"),
            "percent_encoding_invalid",
        ),
    ];
    for (uri, code) in cases {
        let err = Eip681Request::parse(&uri).expect_err(&uri);
        assert_eq!(err.code(), code, "{uri}: {err}");
    }
}

#[test]
fn other_calls_keep_their_typed_arguments_in_order() {
    let r = Eip681Request::parse(
        "ethereum:0x89205a3a3b2a69de6dbf7f01ed13b2108b2c43e7@8453/approve?address=0x8e23ee67d1332ad560396262c48ffbb01f93d052&uint256=2.5e6&string=hello%20world&int256=-3&gas=21000",
    )
    .unwrap();
    assert_eq!(r.chain_id, Some(8453));
    assert_eq!(r.gas_limit, Some(units("21000")));
    let arg = |t: &str, v: &str| Eip681Arg {
        abi_type: t.into(),
        value: v.into(),
    };
    assert_eq!(
        r.call,
        Some(Eip681Call::Other {
            function: "approve".into(),
            args: vec![
                arg(
                    "address",
                    &evm("0x8e23ee67d1332ad560396262c48ffbb01f93d052").to_string()
                ),
                arg("uint256", "2500000"),
                arg("string", "hello world"),
                arg("int256", "-3"),
            ],
        })
    );
}

#[test]
fn the_gateways_transfer_uri_is_written_as_before() {
    let uri = Eip681Request::erc20_transfer(
        8453,
        evm("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
        evm("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        Uint256::from_u128(25_500_000),
    )
    .to_uri();
    assert_eq!(
        uri,
        "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer\
         ?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=25500000"
    );
    let native = Eip681Request::native(
        Some(1),
        evm("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        Some(units("2014000000000000000")),
    );
    assert_eq!(
        native.to_uri(),
        "ethereum:0x70997970C51812dc3A010C7d01b50e0d17dc79C8@1?value=2014000000000000000"
    );
}

#[test]
fn the_json_description_names_the_kind_and_carries_units_as_strings() {
    let json = PaymentUri::parse(
        "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=25500000",
    )
    .unwrap()
    .to_json();
    assert_eq!(json["standard"], "eip681");
    assert_eq!(json["kind"], "erc20_transfer");
    assert_eq!(json["chain_id"], 8453);
    assert_eq!(json["token"], "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913");
    assert_eq!(json["to"], "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
    assert_eq!(json["amount_units"], "25500000");
}

fn uint() -> impl Strategy<Value = Uint256> {
    prop_oneof![
        any::<u128>().prop_map(Uint256::from_u128),
        Just(Uint256::max()),
        Just(Uint256::zero()),
    ]
}

fn evm_address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::Evm)
}

fn arg() -> impl Strategy<Value = Eip681Arg> {
    let arg = |t: &'static str| {
        move |v: String| Eip681Arg {
            abi_type: t.into(),
            value: v,
        }
    };
    prop_oneof![
        evm_address()
            .prop_map(|a| a.to_string())
            .prop_map(arg("address")),
        uint().prop_map(|u| u.to_string()).prop_map(arg("uint256")),
        any::<i64>()
            .prop_map(|i| i.to_string())
            .prop_map(arg("int64")),
        any::<bool>()
            .prop_map(|b| b.to_string())
            .prop_map(arg("bool")),
        "\\PC{0,20}".prop_map(arg("string")),
    ]
}

fn call() -> impl Strategy<Value = Option<Eip681Call>> {
    proptest::option::of(prop_oneof![
        (evm_address(), uint()).prop_map(|(to, amount)| Eip681Call::Erc20Transfer { to, amount }),
        (
            "[a-z_$][a-zA-Z0-9_$]{0,12}".prop_filter("not transfer", |f| f != "transfer"),
            proptest::collection::vec(arg(), 0..4)
        )
            .prop_map(|(function, args)| Eip681Call::Other { function, args }),
    ])
}

proptest! {
    #[test]
    fn a_built_request_parses_back_to_the_same_fields(
        pay_prefix in any::<bool>(),
        target in evm_address(),
        chain_id in proptest::option::of(1u64..),
        call in call(),
        value in proptest::option::of(uint()),
        gas_limit in proptest::option::of(uint()),
        gas_price in proptest::option::of(uint()),
    ) {
        let r = Eip681Request { pay_prefix, target, chain_id, call, value, gas_limit, gas_price };
        let uri = r.to_uri();
        prop_assert_eq!(Eip681Request::parse(&uri), Ok(r));
    }
}

proptest! {
    #[test]
    fn big_endian_bytes_give_the_same_digits_as_u128(v in any::<u128>()) {
        let mut bytes = [0u8; 32];
        bytes[16..].copy_from_slice(&v.to_be_bytes());
        prop_assert_eq!(Uint256::from_be_bytes(bytes), Uint256::from_u128(v));
    }
}

#[test]
fn the_largest_uint256_round_trips_through_its_bytes() {
    assert_eq!(Uint256::from_be_bytes([0xff; 32]), Uint256::max());
    assert_eq!(Uint256::from_be_bytes([0; 32]), Uint256::zero());
}
