//! Stuck and mispriced transactions: replacing a leg's transaction at the same nonce.
//!
//! A leg's transaction that stays unmined (the base fee rose past its cap, its tip is too low
//! for the block builders) would hold its nonce, and every later leg of the wallet, forever.
//! Sending the leg again under a new nonce would let both land. So the rail only ever replaces
//! it at the *same* nonce, which the chain includes at most once:
//! - a *speed-up*: the same call with both EIP-1559 fee caps raised by at least
//!   [`MIN_BUMP_PERCENT`] over the transaction it replaces (what geth, reth and anvil require
//!   of a replacement), never above the policy's cap or the leg's own;
//! - a *cancel*: a zero-value transfer to the sender itself at the same nonce, sent once no
//!   speed-up fits under the cap (or first, when the policy says so).
//!
//! The ladder is signed right after the leg is recorded, while the rail holds the key (the
//! worker that drives legs later holds none), and stored with the leg: every transaction that
//! can ever land for a leg is known, so whichever lands is recognised as the leg's, once.

use alloy::consensus::TxEnvelope;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Bytes, TxKind};
use rialto_connectors::rail::{Replacement, ReplacementKind};

use crate::contracts::from_wire;
use crate::sender::{self, CallSpec, Fees, PrivateKeySigner};
use crate::EvmError;

/// What nodes require of a replacement: both fee caps at least 10 % over the old ones.
pub const MIN_BUMP_PERCENT: u32 = 10;

/// No ladder is longer than this: a leg that four doublings of its fee do not get mined has
/// a problem no fee solves, and an operator must look at it.
pub const MAX_RUNGS: usize = 12;

/// A plain transfer's gas: what a cancel costs.
const CANCEL_GAS: u64 = 21_000;

/// When and how a chain's stuck legs are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplacementPolicy {
    /// How long a leg's latest transaction may stay unmined before the next replacement is
    /// sent, in milliseconds. `None`: never replaced, only broadcast again as it is.
    pub after_ms: Option<i64>,
    /// How much each replacement raises both fee caps, in percent; at least
    /// [`MIN_BUMP_PERCENT`].
    pub bump_percent: u32,
    /// No replacement's max fee per gas goes over this (wei). `None`: four times the leg's
    /// first max fee. A leg's own cap (a sweep spends only the gas it holds) applies too.
    pub max_fee_per_gas: Option<u128>,
    /// Cancel a stuck leg at once instead of speeding it up first.
    pub cancel_only: bool,
}

impl Default for ReplacementPolicy {
    fn default() -> Self {
        Self {
            after_ms: None,
            bump_percent: 15,
            max_fee_per_gas: None,
            cancel_only: false,
        }
    }
}

/// `value` raised by `percent`, rounded up, and by at least 1 wei.
fn bumped(value: u128, percent: u32) -> u128 {
    let raised = value
        .saturating_mul(u128::from(100 + percent))
        .div_ceil(100);
    raised.max(value.saturating_add(1))
}

fn bump(fees: Fees, percent: u32) -> Fees {
    let max_fee_per_gas = bumped(fees.max_fee_per_gas, percent);
    Fees {
        max_fee_per_gas,
        max_priority_fee_per_gas: bumped(fees.max_priority_fee_per_gas, percent)
            .min(max_fee_per_gas),
    }
}

/// The fees of each replacement of a transaction first sent at `first`, in order: speed-ups
/// while one more bump (for the cancel) still fits under the cap, then the cancel. Empty when
/// not even a cancel fits.
pub fn ladder(
    first: Fees,
    leg_cap: Option<u128>,
    policy: &ReplacementPolicy,
) -> Vec<(ReplacementKind, Fees)> {
    let percent = policy.bump_percent.max(MIN_BUMP_PERCENT);
    let cap = policy
        .max_fee_per_gas
        .unwrap_or_else(|| first.max_fee_per_gas.saturating_mul(4))
        .min(leg_cap.unwrap_or(u128::MAX));
    let mut rungs = Vec::new();
    let mut last = first;
    while !policy.cancel_only && rungs.len() + 1 < MAX_RUNGS {
        let next = bump(last, percent);
        if bump(next, percent).max_fee_per_gas > cap {
            break;
        }
        rungs.push((ReplacementKind::SpeedUp, next));
        last = next;
    }
    let cancel = bump(last, percent);
    if cancel.max_fee_per_gas <= cap {
        rungs.push((ReplacementKind::Cancel, cancel));
    }
    rungs
}

/// The call, nonce and fees of a stored raw EIP-1559 transaction.
pub fn decode(raw: &str) -> Result<(CallSpec, u64, Fees), EvmError> {
    let bytes = alloy::hex::decode(raw.trim_start_matches("0x"))
        .map_err(|e| EvmError::Key(format!("stored raw transaction is not hex: {e}")))?;
    let envelope = TxEnvelope::decode_2718(&mut bytes.as_slice())
        .map_err(|e| EvmError::Key(format!("stored raw transaction does not decode: {e}")))?;
    let tx = envelope
        .as_eip1559()
        .ok_or_else(|| EvmError::Key("stored transaction is not EIP-1559".into()))?
        .tx();
    let TxKind::Call(to) = tx.to else {
        return Err(EvmError::Key(
            "stored transaction creates a contract".into(),
        ));
    };
    let value = u128::try_from(tx.value)
        .map_err(|_| EvmError::Key("stored transaction's value is over 128 bits".into()))?;
    let spec = CallSpec {
        chain_id: tx.chain_id,
        to: from_wire(to),
        value,
        data: tx.input.clone(),
        gas_limit: tx.gas_limit,
    };
    let fees = Fees {
        max_fee_per_gas: tx.max_fee_per_gas,
        max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
    };
    Ok((spec, tx.nonce, fees))
}

/// Signs the replacement ladder of the leg whose stored transaction is `raw`.
pub fn sign_ladder(
    signer: &PrivateKeySigner,
    raw: &str,
    leg_cap: Option<u128>,
    policy: &ReplacementPolicy,
) -> Result<Vec<Replacement>, EvmError> {
    let (spec, nonce, first) = decode(raw)?;
    let cancel = CallSpec {
        to: sender::signer_address(signer),
        value: 0,
        data: Bytes::new(),
        gas_limit: CANCEL_GAS,
        ..spec.clone()
    };
    ladder(first, leg_cap, policy)
        .into_iter()
        .zip(1u32..)
        .map(|((kind, fees), seq)| {
            let call = match kind {
                ReplacementKind::SpeedUp => &spec,
                ReplacementKind::Cancel => &cancel,
            };
            let signed = sender::sign_call(signer, call, nonce, fees)?;
            Ok(Replacement {
                seq,
                kind,
                raw_tx: signed.raw,
                tx_hash: signed.hash,
                sent_at_ms: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GWEI: u128 = 1_000_000_000;

    fn first() -> Fees {
        Fees {
            max_fee_per_gas: 10 * GWEI,
            max_priority_fee_per_gas: GWEI,
        }
    }

    fn policy(cap: u128) -> ReplacementPolicy {
        ReplacementPolicy {
            after_ms: Some(60_000),
            bump_percent: 12,
            max_fee_per_gas: Some(cap),
            cancel_only: false,
        }
    }

    #[test]
    fn each_replacement_raises_both_fee_caps_by_at_least_ten_percent_and_ends_in_a_cancel() {
        let rungs = ladder(first(), None, &policy(20 * GWEI));
        assert!(rungs.len() >= 3, "{rungs:?}");
        let mut last = first();
        for (_, fees) in &rungs {
            assert!(fees.max_fee_per_gas * 100 >= last.max_fee_per_gas * 110);
            assert!(fees.max_priority_fee_per_gas * 100 >= last.max_priority_fee_per_gas * 110);
            assert!(fees.max_fee_per_gas <= 20 * GWEI);
            last = *fees;
        }
        let kinds: Vec<_> = rungs.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds.last(), Some(&ReplacementKind::Cancel));
        assert!(kinds[..kinds.len() - 1]
            .iter()
            .all(|k| *k == ReplacementKind::SpeedUp));
    }

    #[test]
    fn a_bump_below_the_ten_percent_nodes_require_is_raised_to_it() {
        let mut p = policy(100 * GWEI);
        p.bump_percent = 1;
        let (_, fees) = ladder(first(), None, &p)[0];
        assert_eq!(fees.max_fee_per_gas, 11 * GWEI);
    }

    #[test]
    fn the_legs_own_cap_and_the_policys_cap_both_bound_the_ladder() {
        assert!(
            ladder(first(), Some(first().max_fee_per_gas), &policy(100 * GWEI)).is_empty(),
            "a leg already at its own cap is never replaced"
        );
        let tight = ladder(first(), None, &policy(11_500_000_000));
        assert_eq!(tight.len(), 1, "{tight:?}");
        assert_eq!(tight[0].0, ReplacementKind::Cancel);
    }

    #[test]
    fn cancel_only_cancels_at_the_first_replacement() {
        let mut p = policy(100 * GWEI);
        p.cancel_only = true;
        let rungs = ladder(first(), None, &p);
        assert_eq!(rungs.len(), 1);
        assert_eq!(rungs[0].0, ReplacementKind::Cancel);
    }

    #[test]
    fn a_signed_ladder_keeps_the_nonce_and_call_and_cancels_to_the_sender() {
        let signer: PrivateKeySigner =
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
                .parse()
                .unwrap();
        let spec = CallSpec {
            chain_id: 31337,
            to: rialto_core::address::Address::parse(
                "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                rialto_core::ChainNamespace::Eip155,
            )
            .unwrap(),
            value: 5,
            data: Bytes::from(vec![1, 2, 3]),
            gas_limit: 60_000,
        };
        let raw = sender::sign_call(&signer, &spec, 9, first()).unwrap().raw;
        let ladder = sign_ladder(&signer, &raw, None, &policy(20 * GWEI)).unwrap();
        for r in &ladder {
            let (call, nonce, _) = decode(&r.raw_tx).unwrap();
            assert_eq!(nonce, 9, "a replacement never takes a new nonce");
            match r.kind {
                ReplacementKind::SpeedUp => assert_eq!(call, spec),
                ReplacementKind::Cancel => {
                    assert_eq!(call.to, sender::signer_address(&signer));
                    assert_eq!((call.value, call.data.len()), (0, 0));
                }
            }
        }
        let seqs: Vec<u32> = ladder.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=ladder.len() as u32).collect::<Vec<_>>());
    }
}
