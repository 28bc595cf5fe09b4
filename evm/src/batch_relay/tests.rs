use alloy::primitives::{keccak256, LogData};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolError;
use rialto_core::ChainNamespace;

use super::*;
use crate::contracts::from_wire;
use crate::eip3009::{sign, TokenDomain};

fn evm(text: &str) -> Address {
    Address::parse(text, ChainNamespace::Eip155).unwrap()
}

fn token() -> Address {
    evm("0x5FbDB2315678afecb367f032d93F642f64180aa3")
}

fn relayer() -> Address {
    evm("0x0165878A594ca255338adfa4d48449f69242Eb8F")
}

/// anvil's account #1 (a sandbox payer); its key is public.
fn payer() -> PrivateKeySigner {
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
        .parse()
        .unwrap()
}

fn item(n: u8) -> BatchItem {
    let domain = TokenDomain {
        name: "USD Coin".into(),
        version: "2".into(),
        chain_id: 31337,
        verifying_contract: token(),
    };
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: from_wire(payer().address()),
        to: evm("0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"),
        value: U256::from(1_000_000u64 + u64::from(n)),
        valid_after: 0,
        valid_before: 1_800_000_000,
        nonce: keccak256([n]),
    };
    let signature = sign(&payer(), &domain, &auth).unwrap().to_vec();
    BatchItem { auth, signature }
}

fn log_of<E: SolEvent>(address: &Address, event: &E) -> Log {
    let data: LogData = event.encode_log_data();
    Log {
        address: to_wire(address).unwrap(),
        data,
    }
}

fn relayed(i: u64, it: &BatchItem) -> Log {
    let e = IBatchRelayer::ItemRelayed {
        index: U256::from(i),
        from: to_wire(&it.auth.from).unwrap(),
        nonce: it.auth.nonce,
    };
    log_of(&relayer(), &e)
}

fn used(at: &Address, it: &BatchItem) -> Log {
    let e = IEip3009Events::AuthorizationUsed {
        authorizer: to_wire(&it.auth.from).unwrap(),
        nonce: it.auth.nonce,
    };
    log_of(at, &e)
}

#[test]
fn batch_calldata_carries_each_authorization_with_its_signature_in_order() {
    let items = [item(1), item(2)];
    let data = calldata(&token(), GAS_PER_ITEM, &items).unwrap();
    let call = IBatchRelayer::relayCall::abi_decode(&data).unwrap();
    assert_eq!(call.token, to_wire(&token()).unwrap());
    assert_eq!(call.gasPerItem, U256::from(GAS_PER_ITEM));
    assert_eq!(call.items.len(), 2);
    for (sent, it) in call.items.iter().zip(&items) {
        assert_eq!(sent.value, it.auth.value);
        assert_eq!(sent.nonce, it.auth.nonce);
        assert_eq!(sent.r.as_slice(), &it.signature[..32]);
        assert_eq!(sent.s.as_slice(), &it.signature[32..64]);
        assert_eq!(sent.v, it.signature[64]);
    }
}

#[test]
fn a_receive_authorization_cannot_be_batched() {
    let mut it = item(1);
    it.auth.kind = AuthorizationKind::Receive;
    assert!(calldata(&token(), GAS_PER_ITEM, &[it]).is_err());
}

#[test]
fn an_item_is_relayed_only_when_the_token_itself_logged_its_authorization_used() {
    let items = [item(1), item(2), item(3)];
    let skipped = IBatchRelayer::ItemSkipped {
        index: U256::from(1),
        from: to_wire(&items[1].auth.from).unwrap(),
        nonce: items[1].auth.nonce,
        reason: alloy::sol_types::Revert::from("FiatTokenV2: invalid signature")
            .abi_encode()
            .into(),
    };
    let logs = [
        used(&token(), &items[0]),
        relayed(0, &items[0]),
        log_of(&relayer(), &skipped),
        // Item 2: the relayer says relayed but the AuthorizationUsed comes from another
        // contract, not the token: not proof that the token moved anything.
        used(&relayer(), &items[2]),
        relayed(2, &items[2]),
    ];
    let out = outcomes(&logs, &relayer(), &token(), &items).unwrap();
    assert_eq!(out[0], ItemOutcome::Relayed);
    assert_eq!(
        out[1],
        ItemOutcome::Skipped {
            reason: "revert: FiatTokenV2: invalid signature".into()
        }
    );
    assert!(!out[2].is_relayed(), "{:?}", out[2]);
}

#[test]
fn an_item_the_receipt_says_nothing_of_is_not_relayed() {
    let items = [item(1), item(2)];
    let logs = [used(&token(), &items[0]), relayed(0, &items[0])];
    let out = outcomes(&logs, &relayer(), &token(), &items).unwrap();
    assert!(out[0].is_relayed());
    assert!(!out[1].is_relayed());
}

#[test]
fn a_receipt_whose_events_name_other_authorizations_decides_nothing() {
    let items = [item(1)];
    let other = item(9);
    let logs = [used(&token(), &other), relayed(0, &other)];
    assert!(outcomes(&logs, &relayer(), &token(), &items).is_err());
    let beyond = [relayed(5, &items[0])];
    assert!(outcomes(&beyond, &relayer(), &token(), &items).is_err());
}

#[test]
fn lanes_are_handed_out_in_turn_and_no_key_means_no_lanes() {
    let lanes = NonceLanes::new(vec!["a", "b", "c"]).unwrap();
    let got: Vec<_> = (0..4).map(|_| *lanes.next()).collect();
    assert_eq!(got, ["a", "b", "c", "a"]);
    assert!(NonceLanes::<&str>::new(vec![]).is_none());
}

#[test]
fn a_computed_batch_gas_limit_covers_the_contracts_check_for_every_item_and_fits_a_block() {
    let items: Vec<BatchItem> = (1..=100).map(item).collect();
    let data = calldata(&token(), GAS_PER_ITEM, &items).unwrap();
    let limit = gas_limit(GAS_PER_ITEM, items.len(), data.len());
    // Before the last item the contract wants `gasPerItem + gasPerItem / 63 + 10_000` left
    // after every earlier item used at most its `gasPerItem` plus its bookkeeping.
    let demanded = 21_000
        + 16 * data.len() as u64
        + 99 * (GAS_PER_ITEM + 10_000)
        + GAS_PER_ITEM
        + GAS_PER_ITEM / 63
        + 10_000;
    assert!(limit > demanded, "{limit} ≤ {demanded}");
    assert!(
        limit < 30_000_000,
        "a batch of 100 fits a 30M-gas block: {limit}"
    );
    assert_eq!(gas_limit(GAS_PER_ITEM, 0, 0), 71_000);
}

#[test]
fn a_batch_is_capped_at_what_its_chains_block_can_hold() {
    let fits = |n: usize| {
        let items: Vec<BatchItem> = (1..=n).map(|i| item(i as u8)).collect();
        let data = calldata(&token(), GAS_PER_ITEM, &items).unwrap();
        gas_limit(GAS_PER_ITEM, n, data.len())
    };
    for block in [400_000, 1_000_000, 30_000_000, 36_000_000] {
        let n = items_within(GAS_PER_ITEM, block);
        assert!(fits(n) <= block, "{n} items fit {block}");
        assert!(fits(n + 1) > block, "{} items do not fit {block}", n + 1);
    }
    assert!(items_within(GAS_PER_ITEM, 30_000_000) >= DEFAULT_MAX_BATCH);
    assert_eq!(items_within(GAS_PER_ITEM, 100_000), 0);
    assert_eq!(items_within(GAS_PER_ITEM, 0), 0);
}
