//! Batched EIP-3009 relays on a real devnet: Circle's FiatToken v2.2 USDC, Rialto's
//! `BatchRelayer` deployed by the devnet, batches sent through the rail (recorded before they
//! are sent, replaced at their nonce when stuck) from several nonce lanes.

mod common;

use alloy::primitives::U256;
use alloy::providers::{DynProvider, Provider};
use alloy::signers::local::PrivateKeySigner;
use common::{balance, block_time, key, merchant, reader, start, token};
use rialto_connectors::rail::{
    ChainTransfer, LegAction, LegRequest, LegStatus, MemoryJournal, Rail, RailJournal, SigningKey,
};
use rialto_core::Address;
use rialto_evm::batch_relay::{self, BatchItem, ItemOutcome, NonceLanes, GAS_PER_ITEM};
use rialto_evm::chain::EvmChain;
use rialto_evm::contracts::{to_wire, IFiatToken};
use rialto_evm::eip3009::{intent_nonce, read_domain, sign, Authorization, AuthorizationKind};
use rialto_evm::manifest::{Account, ChainManifest};
use rialto_evm::rail::EvmRail;
use rialto_evm::replace::ReplacementPolicy;

const VALUE: u64 = 2_500_001; // 2.500001 USDC

fn evm_chain(c: &ChainManifest) -> EvmChain {
    let caip2 = c.chain_id.to_string();
    let id = c.chain_id.evm_chain_id().unwrap();
    EvmChain::new(
        caip2,
        id,
        c.alias.clone(),
        false,
        vec![c.rpc_url.clone()],
        1,
    )
}

fn signing_key(a: &Account) -> SigningKey {
    SigningKey(a.private_key.clone())
}

/// An authorization of `VALUE + n` from `payer` to merchant `0x40 + n`, for intent `pi_{tag}_{n}`,
/// signed by `signer` (the payer, or someone else for an invalid one).
async fn item(
    c: &ChainManifest,
    payer: &Account,
    signer: &PrivateKeySigner,
    tag: &str,
    n: u8,
) -> BatchItem {
    let p = reader(c).await;
    let usdc = token(c, "USDC");
    let domain = read_domain(&p, &usdc).await.unwrap();
    let auth = Authorization {
        kind: AuthorizationKind::Transfer,
        from: payer.address,
        to: merchant(0x40 + n),
        value: U256::from(VALUE + u64::from(n)),
        valid_after: 0,
        valid_before: block_time(&p).await + 3600,
        nonce: intent_nonce(&format!("pi_{tag}_{n}"), domain.chain_id, &usdc),
    };
    let signature = sign(signer, &domain, &auth).unwrap().to_vec();
    BatchItem { auth, signature }
}

fn batch_request(
    c: &ChainManifest,
    from: SigningKey,
    reference: &str,
    items: &[BatchItem],
) -> LegRequest {
    let data = batch_relay::calldata(&token(c, "USDC"), GAS_PER_ITEM, items).unwrap();
    LegRequest {
        purpose: "eip3009_batch",
        reference: reference.to_owned(),
        payment_intent_id: None,
        from,
        action: LegAction::Call {
            to: c
                .batch_relayer
                .expect("the devnet deploys the batch relayer"),
            value: 0,
            data: data.to_vec(),
            moves: None,
        },
        fees: Default::default(),
    }
}

async fn outcomes_of(c: &ChainManifest, tx_hash: &str, items: &[BatchItem]) -> Vec<ItemOutcome> {
    let (success, logs) = batch_relay::receipt_logs(&c.rpc_url, tx_hash)
        .await
        .unwrap()
        .expect("the batch is mined");
    assert!(success, "a batch with a refused item does not revert");
    batch_relay::outcomes(&logs, &c.batch_relayer.unwrap(), &token(c, "USDC"), items).unwrap()
}

async fn used(p: &DynProvider, c: &ChainManifest, item: &BatchItem) -> bool {
    IFiatToken::new(to_wire(&token(c, "USDC")).unwrap(), p)
        .authorizationState(to_wire(&item.auth.from).unwrap(), item.auth.nonce)
        .call()
        .await
        .unwrap()
}

async fn rpc(p: &DynProvider, method: &'static str, params: serde_json::Value) {
    let _: serde_json::Value = p.raw_request(method.into(), params).await.unwrap();
}

async fn balances(p: &DynProvider, usdc: &Address, who: &[Address]) -> Vec<U256> {
    let mut out = Vec::new();
    for w in who {
        out.push(balance(p, usdc, w).await);
    }
    out
}

async fn drive_until_done(
    rail: &EvmRail<'_>,
    journal: &dyn RailJournal,
    leg: &ChainTransfer,
    now: i64,
) -> ChainTransfer {
    for step in 0..20 {
        rail.drive(now + step).await.unwrap();
        let l = journal
            .find(&leg.draft.purpose, &leg.draft.reference)
            .await
            .unwrap()
            .unwrap();
        if !l.status.is_open() {
            return l;
        }
    }
    panic!("the batch leg never finished");
}

#[tokio::test]
async fn a_batch_with_one_invalid_authorization_settles_the_others_and_skips_that_one() {
    let devnet = start().await;
    let c = &devnet.manifest().chains[0];
    let p = reader(c).await;
    let usdc = token(c, "USDC");
    let mut items = Vec::new();
    for n in 0..5u8 {
        let payer = &c.payers[usize::from(n) % c.payers.len()];
        // Item 2 is signed by another payer's key: the token refuses it ("invalid signature").
        let signer = if n == 2 {
            key(&c.payers[1])
        } else {
            key(payer)
        };
        items.push(item(c, payer, &signer, "mixed", n).await);
    }
    // Item 5 pays the relayer itself: it is skipped, so the relayer never holds anything.
    let relayer = c.batch_relayer.unwrap();
    let payer = &c.payers[2];
    let mut to_relayer = item(c, payer, &key(payer), "mixed", 5).await;
    to_relayer.auth.to = relayer;
    let domain = read_domain(&p, &usdc).await.unwrap();
    to_relayer.signature = sign(&key(payer), &domain, &to_relayer.auth)
        .unwrap()
        .to_vec();
    items.push(to_relayer);
    let merchants: Vec<Address> = items[..5].iter().map(|i| i.auth.to).collect();
    let payers: Vec<Address> = c.payers.iter().map(|a| a.address).collect();
    let payers_before = balances(&p, &usdc, &payers).await;

    let chain = evm_chain(c);
    let journal = MemoryJournal::new();
    let rail = EvmRail::new(&chain, &journal);
    let request = batch_request(c, signing_key(&c.gateway_hot_wallet), "batch_mixed", &items);
    let leg = rail.send(&request, 1).await.unwrap();
    let leg = drive_until_done(&rail, &journal, &leg, 2).await;
    assert_eq!(leg.status, LegStatus::Confirmed, "{leg:?}");

    let out = outcomes_of(c, &leg.tx_hash, &items).await;
    for (n, o) in out.iter().enumerate() {
        assert_eq!(o.is_relayed(), n != 2 && n != 5, "item {n}: {o:?}");
    }
    match &out[5] {
        ItemOutcome::Skipped { reason } => {
            assert!(reason.contains("payee is the batch relayer"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!used(&p, c, &items[5]).await);
    match &out[2] {
        ItemOutcome::Skipped { reason } => {
            assert!(reason.contains("invalid signature"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Exactly the four valid payments moved; the invalid one moved nothing.
    let got = balances(&p, &usdc, &merchants).await;
    for (n, units) in got.iter().enumerate() {
        let expected = if n == 2 { 0 } else { VALUE + n as u64 };
        assert_eq!(*units, U256::from(expected), "merchant {n}");
    }
    let payers_after = balances(&p, &usdc, &payers).await;
    let paid = |payer: usize| -> u64 {
        (0..5u64)
            .filter(|n| *n != 2 && *n as usize % 3 == payer)
            .map(|n| VALUE + n)
            .sum()
    };
    for i in 0..3 {
        assert_eq!(
            payers_before[i] - payers_after[i],
            U256::from(paid(i)),
            "payer {i}"
        );
    }
    assert!(
        !used(&p, c, &items[2]).await,
        "the refused authorization stays usable"
    );
    assert!(used(&p, c, &items[0]).await);
    // The relayer holds nothing, in the token or in ETH.
    assert_eq!(balance(&p, &usdc, &relayer).await, U256::ZERO);
    let eth = p.get_balance(to_wire(&relayer).unwrap()).await.unwrap();
    assert_eq!(eth, U256::ZERO);
}

#[tokio::test]
async fn nonce_lanes_each_send_a_batch_at_their_own_nonce_concurrently_into_one_block() {
    let devnet = start().await;
    let c = &devnet.manifest().chains[0];
    let p = reader(c).await;
    let mut keys = vec![c.gateway_hot_wallet.clone()];
    keys.extend(c.relay_lanes.iter().cloned());
    assert!(keys.len() >= 3, "the devnet gives the gateway three lanes");
    let lanes = NonceLanes::new(keys).unwrap();
    let mut batches = Vec::new();
    for b in 0..3u8 {
        let mut items = Vec::new();
        for n in 0..2u8 {
            let payer = &c.payers[usize::from(b)];
            items.push(item(c, payer, &key(payer), &format!("lane{b}"), b * 2 + n).await);
        }
        batches.push((lanes.next().clone(), items));
    }
    let mut nonces_before = Vec::new();
    for (lane, _) in &batches {
        nonces_before.push(
            p.get_transaction_count(to_wire(&lane.address).unwrap())
                .await
                .unwrap(),
        );
    }
    let chain = evm_chain(c);
    let journal = MemoryJournal::new();
    let rail = EvmRail::new(&chain, &journal);
    let requests: Vec<LegRequest> = batches
        .iter()
        .enumerate()
        .map(|(b, (lane, items))| {
            batch_request(c, signing_key(lane), &format!("lane_batch_{b}"), items)
        })
        .collect();
    rpc(&p, "evm_setAutomine", serde_json::json!([false])).await;
    let sent = futures::future::join_all(requests.iter().map(|r| rail.send(r, 1))).await;
    let legs: Vec<ChainTransfer> = sent.into_iter().map(|l| l.unwrap()).collect();
    for (b, leg) in legs.iter().enumerate() {
        assert_eq!(
            leg.draft.from,
            batches[b].0.address.to_string(),
            "batch {b} is sent from its own lane"
        );
        assert_eq!(
            leg.nonce, nonces_before[b],
            "each lane uses its own next nonce"
        );
    }
    // All three were in flight at once: one block takes all of them.
    rpc(&p, "evm_mine", serde_json::json!([])).await;
    rpc(&p, "evm_setAutomine", serde_json::json!([true])).await;
    let mut blocks = Vec::new();
    for (b, leg) in legs.iter().enumerate() {
        let done = drive_until_done(&rail, &journal, leg, 2).await;
        assert_eq!(done.status, LegStatus::Confirmed);
        blocks.push(done.block_number);
        let out = outcomes_of(c, &done.tx_hash, &batches[b].1).await;
        assert!(
            out.iter().all(ItemOutcome::is_relayed),
            "batch {b}: {out:?}"
        );
    }
    assert!(
        blocks.windows(2).all(|w| w[0] == w[1]),
        "one block: {blocks:?}"
    );
}

#[tokio::test]
async fn a_batch_recorded_but_never_sent_before_a_crash_pays_each_item_once() {
    let devnet = start().await;
    let c = &devnet.manifest().chains[0];
    let p = reader(c).await;
    let usdc = token(c, "USDC");
    let payer = &c.payers[0];
    let mut items = Vec::new();
    for n in 0..3u8 {
        items.push(item(c, payer, &key(payer), "crash", n).await);
    }
    let chain = evm_chain(c);
    let journal = MemoryJournal::new();
    let request = batch_request(c, signing_key(&c.gateway_hot_wallet), "batch_crash", &items);
    rpc(&p, "evm_setAutomine", serde_json::json!([false])).await;
    let leg = {
        let rail = EvmRail::new(&chain, &journal);
        rail.send(&request, 1).await.unwrap()
    };
    // The process dies after recording: its broadcast never reached the node.
    rpc(
        &p,
        "anvil_dropTransaction",
        serde_json::json!([leg.tx_hash]),
    )
    .await;
    rpc(&p, "evm_setAutomine", serde_json::json!([true])).await;
    let payer_before = balance(&p, &usdc, &payer.address).await;

    // A new process: asking for the same batch again answers the recorded one, and driving
    // sends its very bytes (same hash, same nonce).
    let rail = EvmRail::new(&chain, &journal);
    let again = rail.send(&request, 2).await.unwrap();
    assert_eq!(
        (again.tx_hash.as_str(), again.nonce),
        (leg.tx_hash.as_str(), leg.nonce)
    );
    let done = drive_until_done(&rail, &journal, &leg, 3).await;
    assert_eq!(done.status, LegStatus::Confirmed);
    assert_eq!(done.tx_hash, leg.tx_hash);
    assert!(outcomes_of(c, &done.tx_hash, &items)
        .await
        .iter()
        .all(ItemOutcome::is_relayed));

    // Even a second batch of the same authorizations (a retry that ignored the journal) moves
    // nothing more: the token spent each nonce once, and every item is skipped.
    let retry = batch_request(
        c,
        signing_key(&c.relay_lanes[0]),
        "batch_crash_retry",
        &items,
    );
    let second = rail.send(&retry, 4).await.unwrap();
    let second = drive_until_done(&rail, &journal, &second, 5).await;
    let out = outcomes_of(c, &second.tx_hash, &items).await;
    assert!(out.iter().all(|o| !o.is_relayed()), "{out:?}");
    let total: u64 = (0..3u64).map(|n| VALUE + n).sum();
    assert_eq!(
        payer_before - balance(&p, &usdc, &payer.address).await,
        U256::from(total)
    );
    for it in &items {
        assert_eq!(
            balance(&p, &usdc, &it.auth.to).await,
            it.auth.value,
            "paid once"
        );
    }
}

#[tokio::test]
async fn a_stuck_batch_is_replaced_at_its_nonce_and_its_items_are_read_from_the_replacement() {
    let devnet = start().await;
    let c = &devnet.manifest().chains[0];
    let p = reader(c).await;
    let payer = &c.payers[1];
    let mut items = Vec::new();
    for n in 0..2u8 {
        items.push(item(c, payer, &key(payer), "stuck", n).await);
    }
    let mut chain = evm_chain(c);
    chain.replacement = ReplacementPolicy {
        after_ms: Some(60_000),
        bump_percent: 12,
        max_fee_per_gas: None,
        cancel_only: false,
    };
    let journal = MemoryJournal::new();
    let rail = EvmRail::new(&chain, &journal);
    rpc(&p, "evm_setAutomine", serde_json::json!([false])).await;
    let request = batch_request(c, signing_key(&c.gateway_hot_wallet), "batch_stuck", &items);
    let t0 = 1_900_000_000_000;
    let leg = rail.send(&request, t0).await.unwrap();
    let ladder = journal.replacements(&leg.draft.leg_id).await.unwrap();
    assert!(
        !ladder.is_empty(),
        "a batch leg gets its replacement ladder"
    );
    rail.drive(t0 + 60_000).await.unwrap();
    rpc(&p, "evm_setAutomine", serde_json::json!([true])).await;
    rpc(&p, "evm_mine", serde_json::json!([])).await;
    let done = drive_until_done(&rail, &journal, &leg, t0 + 60_001).await;
    assert_eq!(done.status, LegStatus::Confirmed, "{done:?}");
    assert_eq!(
        done.tx_hash, ladder[0].tx_hash,
        "the replacement at the same nonce landed"
    );
    assert_eq!(done.nonce, leg.nonce);
    let out = outcomes_of(c, &done.tx_hash, &items).await;
    assert!(out.iter().all(ItemOutcome::is_relayed), "{out:?}");
    for it in &items {
        assert_eq!(
            balance(&p, &token(c, "USDC"), &it.auth.to).await,
            it.auth.value
        );
    }
}
