use alloy::primitives::{address, b256, hex, Address as WireAddress};
use alloy::sol;
use alloy::sol_types::{Eip712Domain, SolStruct};
use rialto_core::ChainNamespace;

use super::*;
use crate::contracts::from_wire;

/// anvil's account #1 (a sandbox payer); its key is public.
const PAYER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const OTHER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const NOW: u64 = 1_700_000_000;

pub(super) fn evm(text: &str) -> Address {
    Address::parse(text, ChainNamespace::Eip155).unwrap()
}

pub(super) fn payer() -> PrivateKeySigner {
    PAYER_KEY.parse().unwrap()
}

fn token() -> Address {
    evm("0x5FbDB2315678afecb367f032d93F642f64180aa3")
}

fn merchant() -> Address {
    evm("0x14dC79964da2C08b23698B3D3cc7Ca32193d9955")
}

fn hot_wallet() -> Address {
    evm("0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f")
}

pub(super) fn domain() -> TokenDomain {
    TokenDomain {
        name: "USD Coin".into(),
        version: "2".into(),
        chain_id: 31337,
        verifying_contract: token(),
    }
}

pub(super) fn valid_auth() -> Authorization {
    Authorization {
        kind: AuthorizationKind::Transfer,
        from: from_wire(payer().address()),
        to: merchant(),
        value: U256::from(25_500_000u64),
        valid_after: NOW - 60,
        valid_before: NOW + 600,
        nonce: intent_nonce("pi_test", 31337, &token()),
    }
}

fn expected() -> ExpectedPayment {
    ExpectedPayment {
        chain_id: 31337,
        token: token(),
        to: merchant(),
        min_value: U256::from(25_500_000u64),
        nonce: intent_nonce("pi_test", 31337, &token()),
        relayer: hot_wallet(),
    }
}

#[test]
fn the_typehashes_are_circles_constants() {
    assert_eq!(
        AuthorizationKind::Transfer.typehash(),
        b256!("7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267")
    );
    assert_eq!(
        AuthorizationKind::Receive.typehash(),
        b256!("d099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8")
    );
}

/// The example of EIP-712 itself (`Mail` from Cow to Bob, "Ether Mail" domain), with its
/// published domain separator, struct hash, digest and signature by `keccak256("cow")`.
#[test]
fn eip712_hashing_reproduces_the_specs_mail_example() {
    let contract = address!("CcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC");
    let separator = domain_separator("Ether Mail", "1", 1, &contract);
    assert_eq!(
        separator,
        b256!("f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")
    );
    let person_type = keccak256("Person(string name,address wallet)");
    let person = |name: &str, wallet: WireAddress| {
        keccak256((person_type, keccak256(name), wallet).abi_encode_params())
    };
    let mail_type =
        keccak256("Mail(Person from,Person to,string contents)Person(string name,address wallet)");
    let mail = keccak256(
        (
            mail_type,
            person("Cow", address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")),
            person("Bob", address!("bBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB")),
            keccak256("Hello, Bob!"),
        )
            .abi_encode_params(),
    );
    assert_eq!(
        mail,
        b256!("c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")
    );
    let digest = typed_data_digest(separator, mail);
    assert_eq!(
        digest,
        b256!("be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
    );

    let published = hex!(
        "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
        "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562"
        "1c"
    );
    let signature = parse_signature(&published).unwrap();
    assert_eq!(
        signature.recover_address_from_prehash(&digest).unwrap(),
        address!("CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")
    );
    let cow = PrivateKeySigner::from_bytes(&keccak256("cow")).unwrap();
    assert_eq!(cow.sign_hash_sync(&digest).unwrap().as_bytes(), published);
}

sol! {
    struct TransferWithAuthorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }
}

#[test]
fn the_signing_digest_equals_alloys_independent_eip712_implementation() {
    let (d, auth) = (domain(), valid_auth());
    let alloy_domain = Eip712Domain::new(
        Some(d.name.clone().into()),
        Some(d.version.clone().into()),
        Some(U256::from(d.chain_id)),
        Some(to_wire(&d.verifying_contract).unwrap()),
        None,
    );
    assert_eq!(d.separator().unwrap(), alloy_domain.separator());
    let message = TransferWithAuthorization {
        from: to_wire(&auth.from).unwrap(),
        to: to_wire(&auth.to).unwrap(),
        value: auth.value,
        validAfter: U256::from(auth.valid_after),
        validBefore: U256::from(auth.valid_before),
        nonce: auth.nonce,
    };
    assert_eq!(
        signing_digest(&d, &auth).unwrap(),
        message.eip712_signing_hash(&alloy_domain)
    );
    let receive = Authorization {
        kind: AuthorizationKind::Receive,
        ..auth
    };
    assert_ne!(
        signing_digest(&d, &receive).unwrap(),
        message.eip712_signing_hash(&alloy_domain),
        "a transfer signature is not a receive signature"
    );
}

#[test]
fn a_signature_recovers_to_its_signer_and_only_under_its_own_domain() {
    let (d, auth) = (domain(), valid_auth());
    let signature = sign(&payer(), &d, &auth).unwrap();
    assert!(matches!(signature[64], 27 | 28));
    assert_eq!(recover(&d, &auth, &signature).unwrap(), auth.from);
    let other_chain = TokenDomain {
        chain_id: 31338,
        ..d.clone()
    };
    assert_ne!(recover(&other_chain, &auth, &signature).unwrap(), auth.from);
    let more = Authorization {
        value: auth.value + U256::from(1),
        ..auth.clone()
    };
    assert_ne!(recover(&d, &more, &signature).unwrap(), auth.from);
}

#[test]
fn malformed_and_high_s_signatures_are_refused_with_a_reason() {
    let (d, auth) = (domain(), valid_auth());
    let good = sign(&payer(), &d, &auth).unwrap();
    let refused = |bytes: &[u8]| match recover(&d, &auth, bytes) {
        Err(EvmError::InvalidSignature(reason)) => reason,
        other => panic!("expected an invalid signature, got {other:?}"),
    };
    assert!(refused(&good[..64]).contains("65 bytes"));
    assert!(refused(&[good.as_slice(), &[0]].concat()).contains("65 bytes"));
    let mut bad_v = good;
    bad_v[64] = 29;
    assert!(refused(&bad_v).contains("27 or 28"));
    let mut zero_r = good;
    zero_r[..32].fill(0);
    assert!(refused(&zero_r).contains("non-zero"));

    // The malleable twin: s' = n - s with the other parity recovers the same key, but
    // FiatToken refuses it, so we do too.
    let sig = parse_signature(&good).unwrap();
    let n = U256::from_be_bytes(hex!(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"
    ));
    let twin = Signature::new(sig.r(), n - sig.s(), !sig.v());
    let digest = signing_digest(&d, &auth).unwrap();
    assert_eq!(
        twin.recover_address_from_prehash(&digest).unwrap(),
        to_wire(&auth.from).unwrap(),
        "the twin really is valid ECDSA"
    );
    assert!(refused(&twin.as_bytes()).contains("upper half"));
}

#[test]
fn a_zero_one_parity_byte_is_read_as_27_28() {
    let (d, auth) = (domain(), valid_auth());
    let mut signature = sign(&payer(), &d, &auth).unwrap();
    signature[64] -= 27;
    assert_eq!(recover(&d, &auth, &signature).unwrap(), auth.from);
}

#[test]
fn the_intent_nonce_matches_a_hand_built_abi_encoding() {
    // Computed outside Rust: the ABI words written out by hand, hashed with js-sha3's keccak256.
    assert_eq!(
        intent_nonce("pi_0192f3a4b5c67d8e9f0a1b2c3d4e5f60", 31337, &token()),
        b256!("11c31541154908a2f39b18f7e5e48958f0e0a919d77bb23815f42dfd525016f4")
    );
}

#[test]
fn the_intent_nonce_changes_with_intent_chain_and_token() {
    let base = intent_nonce("pi_a", 31337, &token());
    assert_eq!(base, intent_nonce("pi_a", 31337, &token()));
    assert_ne!(base, intent_nonce("pi_b", 31337, &token()));
    assert_ne!(base, intent_nonce("pi_a", 31338, &token()));
    assert_ne!(base, intent_nonce("pi_a", 31337, &merchant()));
    // Length prefixes keep a shifted boundary from colliding.
    assert_ne!(
        intent_nonce("pi_a1", 31337, &token()),
        intent_nonce("pi_a", 131337, &token())
    );
}

#[test]
fn a_correct_authorization_passes_offchain_verification() {
    let (d, auth) = (domain(), valid_auth());
    let signature = sign(&payer(), &d, &auth).unwrap();
    assert!(verify_offchain(&d, &auth, &signature, &expected(), NOW).is_ok());
    let overpaid = Authorization {
        value: auth.value + U256::from(1),
        ..auth
    };
    let signature = sign(&payer(), &d, &overpaid).unwrap();
    assert!(
        verify_offchain(&d, &overpaid, &signature, &expected(), NOW).is_ok(),
        "paying more than due is the gateway's overpayment, not a refusal"
    );
}

/// One case per refusal: what to change from the valid authorization, and the variant that
/// must come back.
#[test]
fn each_offchain_refusal_has_its_own_variant() {
    type Case = (
        &'static str,
        fn(&mut TokenDomain, &mut Authorization, &mut ExpectedPayment, &mut u64),
        fn(&AuthorizationError) -> bool,
    );
    let cases: [Case; 12] = [
        (
            "other chain",
            |d, _, _, _| d.chain_id = 31338,
            |e| {
                matches!(
                    e,
                    AuthorizationError::WrongChain {
                        expected: 31337,
                        actual: 31338
                    }
                )
            },
        ),
        (
            "other token",
            |d, _, _, _| d.verifying_contract = merchant(),
            |e| matches!(e, AuthorizationError::WrongToken { .. }),
        ),
        (
            "receive not by payee",
            |_, a, _, _| a.kind = AuthorizationKind::Receive,
            |e| matches!(e, AuthorizationError::ReceiveNeedsPayee { .. }),
        ),
        (
            "other recipient",
            |_, a, _, _| a.to = hot_wallet(),
            |e| matches!(e, AuthorizationError::WrongRecipient { .. }),
        ),
        (
            "other intent's nonce",
            |_, a, _, _| a.nonce = intent_nonce("pi_other", 31337, &token()),
            |e| matches!(e, AuthorizationError::WrongNonce { .. }),
        ),
        (
            "signed by another key",
            |_, a, _, _| a.from = evm("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
            |e| matches!(e, AuthorizationError::SignerMismatch { .. }),
        ),
        (
            "too little",
            |_, a, _, _| a.value = U256::from(25_499_999u64),
            |e| matches!(e, AuthorizationError::WrongAmount { .. }),
        ),
        (
            "at valid_after",
            |_, _, _, now| *now = NOW - 60,
            |e| matches!(e, AuthorizationError::NotYetValid { .. }),
        ),
        (
            "before valid_after",
            |_, a, _, _| a.valid_after = NOW + 1,
            |e| matches!(e, AuthorizationError::NotYetValid { .. }),
        ),
        (
            "at valid_before",
            |_, _, _, now| *now = NOW + 600,
            |e| matches!(e, AuthorizationError::Expired { .. }),
        ),
        (
            "after valid_before",
            |_, a, _, _| a.valid_before = NOW - 1,
            |e| matches!(e, AuthorizationError::Expired { .. }),
        ),
        (
            "expected more",
            |_, _, x, _| x.min_value = U256::from(25_500_001u64),
            |e| matches!(e, AuthorizationError::WrongAmount { .. }),
        ),
    ];
    for (name, change, is_expected) in cases {
        let (mut d, mut auth, mut exp, mut now) = (domain(), valid_auth(), expected(), NOW);
        change(&mut d, &mut auth, &mut exp, &mut now);
        // Signed by the payer over the changed fields (and the changed domain), so each case
        // isolates its one change; "signed by another key" keeps the payer's key but names
        // another `from`.
        let signature = sign(&payer(), &d, &auth).unwrap();
        let Err(err) = verify_offchain(&d, &auth, &signature, &exp, now) else {
            panic!("{name}: accepted");
        };
        assert!(is_expected(&err), "{name}: got {err:?}");
        assert!(!err.is_retryable(), "{name}");
    }
}

#[test]
fn a_malformed_signature_is_a_bad_signature_not_a_mismatch() {
    let (d, auth) = (domain(), valid_auth());
    let signature = sign(&payer(), &d, &auth).unwrap();
    let err = verify_offchain(&d, &auth, &signature[..60], &expected(), NOW).unwrap_err();
    assert!(
        matches!(err, AuthorizationError::BadSignature(r) if r.contains("65 bytes")),
        "{err:?}"
    );
    let other: PrivateKeySigner = OTHER_KEY.parse().unwrap();
    let by_other = sign(&other, &d, &auth).unwrap();
    let err = verify_offchain(&d, &auth, &by_other, &expected(), NOW).unwrap_err();
    match err {
        AuthorizationError::SignerMismatch { signer, from } => {
            assert_eq!(signer, from_wire(other.address()));
            assert_eq!(from, auth.from);
        }
        other => panic!("expected a signer mismatch, got {other:?}"),
    }
}

#[test]
fn a_receive_authorization_passes_when_the_relayer_is_the_payee() {
    let d = domain();
    let auth = Authorization {
        kind: AuthorizationKind::Receive,
        ..valid_auth()
    };
    let exp = ExpectedPayment {
        relayer: merchant(),
        ..expected()
    };
    let signature = sign(&payer(), &d, &auth).unwrap();
    assert!(verify_offchain(&d, &auth, &signature, &exp, NOW).is_ok());
}
