//! Stuck legs on a real chain: anvil with automine off holds a leg's transaction in its pool
//! past the replacement time, and the rail replaces it at the same nonce. Run by
//! `evm/tests/replacement.rs` with the in-memory journal and by the gateway's tests with its
//! SQL store. Test support: panics on the first broken promise, like an assertion.

use rialto_connectors::rail::conformance::RailHarness;
use rialto_connectors::rail::{
    ChainTransfer, LegAction, LegRequest, LegStatus, Rail, RailJournal, Replacement,
    ReplacementKind,
};
use rialto_core::address::Address;

use super::rail_harness::AnvilRailHarness;
use crate::chain::EvmChain;
use crate::rail::EvmRail;
use crate::replace::ReplacementPolicy;
use crate::sender;

/// Any fixed instant: the rail's replacement clock is the `now_ms` it is driven with.
const T0: i64 = 1_900_000_000_000;
const AFTER_MS: i64 = 60_000;
const UNITS: u128 = 700;

fn policy(cancel_only: bool) -> ReplacementPolicy {
    ReplacementPolicy {
        after_ms: Some(AFTER_MS),
        bump_percent: 12,
        max_fee_per_gas: None,
        cancel_only,
    }
}

async fn replacements(journal: &dyn RailJournal, leg: &ChainTransfer) -> Vec<Replacement> {
    journal
        .replacements(&leg.draft.leg_id)
        .await
        .expect("the journal answers")
}

async fn record(journal: &dyn RailJournal, leg: &ChainTransfer) -> ChainTransfer {
    journal
        .find(&leg.draft.purpose, &leg.draft.reference)
        .await
        .expect("the journal answers")
        .expect("the leg is recorded")
}

async fn drive(rail: &EvmRail<'_>, now: i64) {
    rail.drive(now).await.expect("the rail drives");
}

/// Sends a token leg with blocks paused, drives it past the replacement time, then lets
/// blocks flow until it is finished. Returns the leg as recorded at the end, its ladder, the
/// recipient and the sender.
async fn stuck_then_mined(
    h: &AnvilRailHarness,
    journal: &dyn RailJournal,
    chain: &EvmChain,
    reference: &str,
) -> (ChainTransfer, Vec<Replacement>, Address, Address) {
    let key = h.funded_key().await;
    let to = h.recipient();
    let rail = EvmRail::new(chain, journal);
    let from = rail.address_of(&key).expect("an EVM key");
    h.pause_blocks(true).await;
    let request = LegRequest {
        purpose: "replacement_check",
        reference: reference.to_owned(),
        payment_intent_id: None,
        from: key,
        action: LegAction::Transfer {
            asset: Some(h.token()),
            to,
            amount: UNITS,
        },
        fees: Default::default(),
    };
    let leg = rail.send(&request, T0).await.expect("the leg is sent");
    let ladder = replacements(journal, &leg).await;
    assert!(!ladder.is_empty(), "a replaceable leg gets its ladder");
    drive(&rail, T0 + AFTER_MS - 1).await;
    assert!(
        replacements(journal, &leg)
            .await
            .iter()
            .all(|r| r.sent_at_ms.is_none()),
        "nothing is replaced before the policy's time"
    );
    drive(&rail, T0 + AFTER_MS).await;
    let sent: Vec<Replacement> = replacements(journal, &leg)
        .await
        .into_iter()
        .filter(|r| r.sent_at_ms.is_some())
        .collect();
    assert_eq!(
        sent.len(),
        1,
        "one replacement once the leg waited: {sent:?}"
    );
    assert_eq!(sent[0].seq, 1);
    let rpc = chain.rpc_url();
    assert_eq!(
        sender::pending_nonce(rpc, &from).await.expect("nonce"),
        leg.nonce + 1,
        "the replacement took the leg's nonce, not a new one"
    );
    h.pause_blocks(false).await;
    let mut now = T0 + AFTER_MS + 1;
    for _ in 0..10 {
        h.produce_blocks(1).await;
        drive(&rail, now).await;
        now += 1;
        if !record(journal, &leg).await.status.is_open() {
            break;
        }
    }
    // Driven again long after: a finished leg sends nothing more.
    drive(&rail, now + 10 * AFTER_MS).await;
    h.produce_blocks(h.confirmations()).await;
    (record(journal, &leg).await, ladder, to, from)
}

/// A leg left unmined past the replacement time is replaced at its nonce by the first
/// speed-up, which is mined: the leg succeeds with the replacement's hash, the recipient is
/// paid once, the sender's nonce moved by one.
pub async fn a_stuck_leg_is_replaced_at_its_nonce_and_lands_once(
    h: &AnvilRailHarness,
    journal: &dyn RailJournal,
) {
    let mut chain = h.chain().clone();
    chain.replacement = policy(false);
    let (leg, ladder, to, from) = stuck_then_mined(h, journal, &chain, "speed_up").await;
    assert_eq!(ladder[0].kind, ReplacementKind::SpeedUp);
    assert_eq!(leg.status, LegStatus::Confirmed, "{leg:?}");
    assert_eq!(
        leg.tx_hash, ladder[0].tx_hash,
        "the leg succeeded with the replacement's hash"
    );
    assert_eq!(leg.raw_tx, ladder[0].raw_tx);
    let rpc = chain.rpc_url();
    let original = crate::replace::decode(&leg.raw_tx).expect("decodes").1;
    assert_eq!(original, leg.nonce);
    let rail = EvmRail::new(&chain, journal);
    assert_eq!(
        rail.balance(Some(&h.token()), &to).await.expect("balance"),
        UNITS,
        "the recipient is paid exactly once"
    );
    assert_eq!(
        sender::pending_nonce(rpc, &from).await.expect("nonce"),
        leg.nonce + 1,
        "one transaction of the sender landed"
    );
}

/// With `cancel` configured, a stuck leg is replaced by a zero-value transfer to its sender at
/// its nonce: the leg fails as cancelled and nothing reaches the recipient.
pub async fn a_stuck_leg_configured_to_cancel_is_cancelled_and_moves_nothing(
    h: &AnvilRailHarness,
    journal: &dyn RailJournal,
) {
    let mut chain = h.chain().clone();
    chain.replacement = policy(true);
    let (leg, ladder, to, _) = stuck_then_mined(h, journal, &chain, "cancel").await;
    assert_eq!(ladder.len(), 1);
    assert_eq!(ladder[0].kind, ReplacementKind::Cancel);
    assert_eq!(leg.status, LegStatus::Failed, "{leg:?}");
    assert!(
        leg.failure
            .as_deref()
            .is_some_and(|f| f.starts_with("cancelled")),
        "{leg:?}"
    );
    assert_eq!(leg.tx_hash, ladder[0].tx_hash);
    let rail = EvmRail::new(&chain, journal);
    assert_eq!(
        rail.balance(Some(&h.token()), &to).await.expect("balance"),
        0,
        "a cancelled leg moves nothing"
    );
}
