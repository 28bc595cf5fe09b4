//! Funding refunds that the merchant's held balance cannot cover (a merchant on immediate
//! settlement holds nothing): such a refund waits in `requires_funding` (see
//! [`crate::refunds::create`]) until one of these moves it to `pending`, in one database
//! transaction with its ledger posting and its `refund.funded` event:
//!
//! - **A transfer from the merchant's settlement address** to Rialto's treasury (the chain's
//!   hot wallet) of exactly the refund's amount in the refund's asset, proven by the
//!   settlement address's signature of `Rialto: fund <re_…> with <tx hash>` (the same proof a
//!   payer gives for a reported payment, [`crate::chain::proof`]): anyone can name any
//!   settlement address on an intent, so the transfer alone proves nothing. The gateway reads
//!   it from the chain (sender, recipient, token, amount, confirmations).
//! - **An EIP-3009 authorization** signed by the settlement address: the gateway relays it to
//!   the treasury as the leg `(FUNDING_RELAY, re_…)` and, once it confirms, funds the refund
//!   from that transaction exactly as above (the signature on the authorization is the proof).
//! - **The merchant's refund reserve** (`merchant:{id}:refund_reserve`, per asset, so per asset
//!   and chain), topped up by proven transfers like the first; refunds draw on it when they
//!   are created and, while they wait, on every refund worker pass.
//!
//! A transaction funds one refund or one top-up, once: the funding is recorded under
//! `(chain_id, tx_hash)` in the same transaction as the refund's change, and a second claim is
//! `transaction_already_used`. Postings (all exact, in the refund's asset):
//! `refund_funding` (re_…): `merchant:{id}:settled` −x, `refunds_pending` +x;
//! `refund_reserve_top_up` (`{chain}:{tx}`): settled −x, `refund_reserve` +x;
//! `refund_from_reserve` (re_…): `refund_reserve` −x, `refunds_pending` +x. The merchant's
//! `settled` account is what reached its own address net of what it sent back.

use rialto_connectors::chain::ObservedTransfer;
use rialto_core::address::Address;
use rialto_core::asset::Asset;
use rialto_core::id::MerchantId;
use rialto_core::money::Money;
use rust_decimal::Decimal;

use crate::chain::Chain;
use crate::error::{EngineError, ErrorCode};
use crate::idempotency::{IdempotencyKey, WriteError};
use crate::ledger::{self, merchant_settled, refund_reserve, refunds_pending};
use crate::refunds::{needs_approval, refund_event, refund_json};
use crate::services::Engine;
use crate::store::money::{Effects, FundOutcome, Funding, Refund, RefundStatus, Reservation};

/// The purpose of the leg relaying a merchant's EIP-3009 authorization that funds a refund.
/// (Not `refund…`: reconciliation expects a `refund` posting of those.)
pub const FUNDING_RELAY: &str = "funding_relay";
/// `Funding::purpose` of a refund's funding and of a reserve top-up.
pub const FUNDS_REFUND: &str = "refund";
pub const FUNDS_RESERVE: &str = "refund_reserve";

fn refuse(code: ErrorCode, message: impl Into<String>) -> EngineError {
    EngineError::new(code, message)
}

/// The refund's asset and chain, and the chain's treasury address.
pub fn treasury_of<'a>(
    state: &'a Engine,
    livemode: bool,
    asset: &str,
) -> Result<(Asset, &'a Chain, Address), EngineError> {
    let asset = asset
        .parse()
        .ok()
        .and_then(|id| state.registry.asset(&id))
        .cloned()
        .ok_or_else(|| refuse(ErrorCode::InvalidAsset, "Unknown asset.").param("asset"))?;
    let chain = state
        .chains
        .get(livemode, &asset.id.chain().to_string())
        .ok_or_else(|| {
            refuse(
                ErrorCode::RefundsUnavailable,
                "Refunds are not available on this chain: no treasury wallet is configured.",
            )
        })?;
    let treasury = chain
        .hot_wallet
        .as_ref()
        .and_then(|k| chain.node.address_of(k).ok())
        .ok_or_else(|| {
            refuse(
                ErrorCode::RefundsUnavailable,
                "Refunds are not available on this chain: no treasury wallet is configured.",
            )
        })?;
    Ok((asset, chain, treasury))
}

/// The treasury address a refund is funded to (shown on a refund in `requires_funding`).
pub fn pay_to(state: &Engine, refund: &Refund) -> Option<String> {
    treasury_of(state, refund.livemode, &refund.asset)
        .ok()
        .map(|(_, _, t)| t.to_string())
}

/// Reads the transfer of `asset` to the treasury in `tx_hash`, with its confirmations.
async fn observe(
    chain: &Chain,
    asset: &Asset,
    treasury: &Address,
    tx_hash: &str,
) -> Result<ObservedTransfer, EngineError> {
    let observed = chain
        .node
        .observe_transfer(tx_hash, &asset.contract, treasury)
        .await
        .map_err(crate::chain::report::chain_error)?;
    if observed.confirmations < chain.confirmations {
        return Err(refuse(
            ErrorCode::TransactionUnconfirmed,
            format!(
                "That transaction has {} of the {} confirmations funding needs; retry shortly.",
                observed.confirmations, chain.confirmations
            ),
        )
        .param("tx_hash"));
    }
    Ok(observed)
}

/// What `sender` sent in the observed transfer, in whole units of `asset`.
fn sent_by(
    asset: &Asset,
    observed: &ObservedTransfer,
    sender: &Address,
) -> Result<Decimal, EngineError> {
    Money::from_base_units(observed.units_from(sender), asset.currency())
        .map(|m| m.amount())
        .map_err(|e| EngineError::internal(&e))
}

fn funding_of(
    refund_or_reserve: (&str, String),
    (merchant, livemode): (MerchantId, bool),
    (asset, chain, treasury): (&Asset, &Chain, &Address),
    observed: &ObservedTransfer,
    (sender, amount): (&Address, Decimal),
    now_ms: i64,
) -> Funding {
    Funding {
        chain_id: chain.caip2.clone(),
        tx_hash: observed.tx_hash.clone(),
        merchant_id: merchant,
        livemode,
        purpose: refund_or_reserve.0.to_owned(),
        reference: refund_or_reserve.1,
        asset: asset.id.to_string(),
        amount,
        from_address: sender.to_string(),
        to_address: treasury.to_string(),
        block_number: i64::try_from(observed.block_number).unwrap_or(i64::MAX),
        created_at_ms: now_ms,
    }
}

fn not_awaiting() -> EngineError {
    refuse(
        ErrorCode::RefundNotAwaitingFunding,
        "This refund is not waiting for funds.",
    )
}

fn proof_used() -> EngineError {
    refuse(
        ErrorCode::TransactionAlreadyUsed,
        "That transaction already funded a refund or a refund reserve top-up.",
    )
    .param("tx_hash")
}

/// The refund's settlement address: the only sender whose transfer may fund it.
async fn settlement_of(state: &Engine, refund: &Refund) -> Result<Address, EngineError> {
    let intent = state
        .store
        .get_intent_unscoped(&refund.payment_intent_id)
        .await?
        .ok_or_else(|| EngineError::internal(&"a refund without its payment intent"))?;
    Ok(intent.settlement.address)
}

/// Funds a refund waiting in `requires_funding` with a proven transfer from the payment's
/// settlement address to the treasury of exactly the refund's amount (see the module docs).
/// `signature` is the settlement address's signature of `Rialto: fund <re_…> with <tx hash>`.
pub async fn fund_with_transfer(
    state: &Engine,
    refund: &Refund,
    tx_hash: &str,
    signature: &[u8],
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Refund, WriteError> {
    fund_from_chain(state, refund, tx_hash, Some(signature), guard, now_ms).await
}

/// [`fund_with_transfer`]; with no signature only for the refund's own confirmed funding
/// relay (the merchant's EIP-3009 signature, checked before relaying, was the proof).
async fn fund_from_chain(
    state: &Engine,
    refund: &Refund,
    tx_hash: &str,
    signature: Option<&[u8]>,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Refund, WriteError> {
    if refund.status != RefundStatus::RequiresFunding {
        return Err(not_awaiting().into());
    }
    if let Some(used) = state
        .store
        .get_funding(&chain_id_of(state, refund)?, tx_hash)
        .await?
    {
        if used.reference != refund.id.to_string() {
            return Err(proof_used().into());
        }
    }
    let (asset, chain, treasury) = treasury_of(state, refund.livemode, &refund.asset)?;
    let observed = observe(chain, &asset, &treasury, tx_hash).await?;
    let settlement = settlement_of(state, refund).await?;
    let sender = match signature {
        Some(sig) => {
            crate::chain::proof::proven_sender(
                chain.node.as_ref(),
                &observed,
                &refund.id.to_string(),
                sig,
            )
            .await?
        }
        None => settlement,
    };
    if sender != settlement {
        return Err(refuse(
            ErrorCode::FundingSenderMismatch,
            "A refund is funded from the payment's settlement address; this transaction's \
             proven sender is another address.",
        )
        .param("signature")
        .into());
    }
    let amount = sent_by(&asset, &observed, &sender)?;
    if amount != refund.amount {
        return Err(refuse(
            ErrorCode::TransactionMismatch,
            format!(
                "The settlement address sent {} {} to the treasury in that transaction; this \
                 refund needs exactly {}.",
                amount.normalize(),
                asset.code,
                refund.amount.normalize()
            ),
        )
        .param("tx_hash")
        .into());
    }
    let funding = funding_of(
        (FUNDS_REFUND, refund.id.to_string()),
        (refund.merchant_id, refund.livemode),
        (&asset, chain, &treasury),
        &observed,
        (&sender, amount),
        now_ms,
    );
    let from = merchant_settled(&refund.merchant_id);
    fund(
        state,
        refund,
        ("refund_funding", from),
        Some(&funding),
        guard,
        now_ms,
    )
    .await
}

fn chain_id_of(state: &Engine, refund: &Refund) -> Result<String, EngineError> {
    treasury_of(state, refund.livemode, &refund.asset).map(|(_, c, _)| c.caip2.clone())
}

/// `requires_funding → pending` (or `pending_approval`), posting `kind` from `from` to
/// `refunds_pending`; from the reserve, the reserve is reserved (serialized) first.
async fn fund(
    state: &Engine,
    refund: &Refund,
    (kind, from): (&str, ledger::Account),
    funding: Option<&Funding>,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Refund, WriteError> {
    let intent = state
        .store
        .get_intent_unscoped(&refund.payment_intent_id)
        .await?
        .ok_or_else(|| EngineError::internal(&"a refund without its payment intent"))?;
    let payer = crate::refunds::payer_of(state, &intent).await?;
    let elsewhere = payer.map(|p| p.to_string()) != Some(refund.destination.clone());
    let mut next = refund.clone();
    next.status = if needs_approval(state, &intent, refund.amount, elsewhere).await? {
        RefundStatus::PendingApproval
    } else {
        RefundStatus::Pending
    };
    next.updated_at_ms = now_ms;
    let m = refund.merchant_id;
    let posting = ledger::transfer(
        (m, refund.livemode),
        kind,
        &refund.id.to_string(),
        &refund.asset,
        (from.clone(), refunds_pending(&m)),
        refund.amount,
        now_ms,
    )
    .map_err(|e| EngineError::internal(&e))?;
    let reservation = (funding.is_none()).then(|| Reservation {
        merchant_id: m,
        livemode: refund.livemode,
        account: from,
        asset: refund.asset.clone(),
        amount: refund.amount,
    });
    let events = [refund_event(state, &next, "refund.funded", now_ms)];
    let record = guard.map(|g| g.record(200, &refund_json(state, &next), now_ms));
    let effects = Effects {
        postings: std::slice::from_ref(&posting),
        events: &events,
        idempotency: record.as_ref(),
        ..Effects::default()
    };
    match state
        .store
        .fund_refund(
            &next,
            RefundStatus::RequiresFunding,
            funding,
            reservation.as_ref(),
            effects,
        )
        .await?
    {
        FundOutcome::Funded => Ok(next),
        FundOutcome::ProofUsed => Err(proof_used().into()),
        FundOutcome::Insufficient { available } => Err(refuse(
            ErrorCode::BalanceInsufficient,
            format!(
                "The refund reserve holds {}; this refund needs {}.",
                available.normalize(),
                refund.amount.normalize()
            ),
        )
        .into()),
        FundOutcome::Conflict => Err(not_awaiting().into()),
    }
}

/// Funds a waiting refund from the merchant's refund reserve (`balance_insufficient` when the
/// reserve is short; nothing is written then).
pub async fn fund_from_reserve(
    state: &Engine,
    refund: &Refund,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Refund, WriteError> {
    if refund.status != RefundStatus::RequiresFunding {
        return Err(not_awaiting().into());
    }
    let from = refund_reserve(&refund.merchant_id);
    fund(
        state,
        refund,
        ("refund_from_reserve", from),
        None,
        guard,
        now_ms,
    )
    .await
}

/// A reserve top-up as the API shows it.
#[derive(Debug, Clone)]
pub struct TopUp {
    pub funding: Funding,
    pub balance: Decimal,
}

/// Credits the merchant's refund reserve in `asset` with a proven transfer to the treasury:
/// the sender's signature of `Rialto: fund <reserve account> with <tx hash>` (the account is
/// `merchant:{id}:refund_reserve`, so the proof names whose reserve it tops up). The whole
/// amount the proven sender sent is credited. Claiming the same transaction again for the same
/// reserve answers the top-up as it stands (so a retry is safe); for anything else it is
/// `transaction_already_used`.
pub async fn top_up_reserve(
    state: &Engine,
    (merchant, livemode): (MerchantId, bool),
    asset: &str,
    tx_hash: &str,
    signature: &[u8],
    now_ms: i64,
) -> Result<TopUp, WriteError> {
    let (asset, chain, treasury) = treasury_of(state, livemode, asset)?;
    let reserve = refund_reserve(&merchant);
    if let Some(used) = state.store.get_funding(&chain.caip2, tx_hash).await? {
        if used.reference != reserve.to_string() || used.merchant_id != merchant {
            return Err(proof_used().into());
        }
        let balance = reserve_balance(state, (merchant, livemode), &used.asset).await?;
        return Ok(TopUp {
            funding: used,
            balance,
        });
    }
    let observed = observe(chain, &asset, &treasury, tx_hash).await?;
    let sender = crate::chain::proof::proven_sender(
        chain.node.as_ref(),
        &observed,
        &reserve.to_string(),
        signature,
    )
    .await?;
    let amount = sent_by(&asset, &observed, &sender)?;
    let funding = funding_of(
        (FUNDS_RESERVE, reserve.to_string()),
        (merchant, livemode),
        (&asset, chain, &treasury),
        &observed,
        (&sender, amount),
        now_ms,
    );
    let posting = ledger::transfer(
        (merchant, livemode),
        "refund_reserve_top_up",
        &format!("{}:{}", chain.caip2, observed.tx_hash),
        &funding.asset,
        (merchant_settled(&merchant), reserve),
        amount,
        now_ms,
    )
    .map_err(|e| EngineError::internal(&e))?;
    let effects = Effects {
        postings: std::slice::from_ref(&posting),
        ..Effects::default()
    };
    if !state.store.record_funding(&funding, effects).await? {
        return Err(proof_used().into());
    }
    let balance = reserve_balance(state, (merchant, livemode), &funding.asset).await?;
    Ok(TopUp { funding, balance })
}

/// The merchant's refund reserve in `asset` (CAIP-19).
pub async fn reserve_balance(
    state: &Engine,
    (merchant, livemode): (MerchantId, bool),
    asset: &str,
) -> Result<Decimal, EngineError> {
    Ok(state
        .store
        .account_balance(&refund_reserve(&merchant), asset, livemode)
        .await?)
}

/// Refunds waiting for funds draw on their merchant's reserve; refunds whose funding relay
/// confirmed are funded from it. Returns how many were funded.
pub async fn drive(state: &Engine, now_ms: i64) -> Result<usize, EngineError> {
    let mut funded = 0;
    for refund in state
        .store
        .refunds_in(RefundStatus::RequiresFunding, 200)
        .await?
    {
        let relay = state
            .store
            .get_chain_transfer(FUNDING_RELAY, &refund.id.to_string())
            .await?;
        let outcome = match relay {
            Some(leg) if leg.status == crate::store::chain::LegStatus::Confirmed => {
                fund_from_chain(state, &refund, &leg.tx_hash, None, None, now_ms).await
            }
            Some(_) => continue, // the merchant's own authorization is on its way
            None => fund_from_reserve(state, &refund, None, now_ms).await,
        };
        match outcome {
            Ok(_) => funded += 1,
            Err(WriteError::Engine(e)) if e.code == ErrorCode::BalanceInsufficient => {}
            Err(err) => {
                tracing::warn!(refund = %refund.id, error = ?err, "refund funding not advanced")
            }
        }
    }
    Ok(funded)
}
