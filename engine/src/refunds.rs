//! Refunds (`re_…`): money back to the payer, out of the merchant's held balance.
//!
//! Creating a refund, in one database transaction: reserve the amount from the merchant's
//! balance (`refund`: balance → refunds_pending; refused when the balance is short, see
//! `store::money`), bump the intent's `amount_refunded` with compare-and-set (so several
//! refunds can never add up to more than was paid) and emit `refund.created`. The transfer is
//! then the chain leg `("refund", re_…)` from the treasury (the chain's hot wallet), recorded
//! before it is sent, so a crash or a second gateway can never send it twice. When the leg
//! confirms: `refund_sent` (refunds_pending → payers) and `refund.succeeded`; when it fails:
//! `refund_reversal` (back to the balance), `amount_refunded` goes back down, `refund.failed`.
//!
//! Blocked (sanctioned) and held payments are never refundable here; destinations are
//! screened when the refund is created and again before its transfer is signed.

use std::collections::BTreeMap;

use rialto_compliance::AddressRole;
use rialto_core::address::Address;
use rialto_core::id::RefundId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use rialto_core::money::Money;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::approvals::{maker_custody, require_second, Checker};
use crate::chain::rail::FlowError;
use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
use crate::error::{EngineError, ErrorCode};
use crate::idempotency::{IdempotencyKey, WriteError};
use crate::ledger::{self, merchant_balance, refunds_pending, PAYERS};
use crate::services::Engine;
use crate::settings;
use crate::store::chain::{ChainTransfer, LegStatus};
use crate::store::money::{Effects, MoneyTable, Refund, RefundStatus, Reservation, ReserveOutcome};
use crate::store::{CasOutcome, Event};
use crate::store::{PaymentSource, PaymentTxStatus};
use crate::treasury::{self, Outgoing, Sent};

pub const REFUND_LEG: &str = "refund";
/// Reasons a merchant may give; policies add `overpaid`, `underpaid`, `late`.
pub const MERCHANT_REASONS: [&str; 3] = ["requested_by_customer", "duplicate", "fraudulent"];
/// Refund creation retries this often when the intent moves underneath it.
const CAS_RETRIES: usize = 3;

/// A refund as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundObject {
    pub id: String,
    /// Always `refund`.
    pub object: &'static str,
    pub livemode: bool,
    pub payment_intent: String,
    #[schema(example = "10.00")]
    pub amount: String,
    /// The asset refunded (what the merchant received, debited from its balance), CAIP-19,
    /// and its code.
    pub asset_id: String,
    #[schema(example = "usdc")]
    pub asset: String,
    pub chain_id: String,
    pub destination: String,
    pub reason: String,
    /// `requires_funding` (neither the balance nor the refund reserve covers it: see
    /// `funding`), `pending_approval` (to an address other than the payer's, above the
    /// approval limit), `pending`, `succeeded` or `failed`.
    pub status: String,
    pub failure_code: Option<String>,
    pub transaction_hash: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: i64,
    /// Set while the refund is `requires_funding`: where to send the funds (see
    /// `POST /v1/refunds/{id}/funding`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub funding: Option<FundingInstructions>,
    /// A refund in another asset than the one received: the locked conversion of `amount`
    /// into what the payer receives, `chain_id` being that asset's chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversion: Option<crate::refund_convert::RefundConversionObject>,
}

/// How to fund a refund waiting in `requires_funding`.
#[derive(Debug, Serialize, ToSchema)]
pub struct FundingInstructions {
    /// Rialto's treasury on the refund's chain.
    pub pay_to: String,
    /// Exactly this amount of the refund's asset, from the payment's settlement address.
    pub amount: String,
    /// What the settlement address signs (EIP-191) to prove a transfer, with the transaction
    /// hash in lower case in place of `<tx_hash>`.
    pub proof_message: String,
}

impl RefundObject {
    pub fn new(refund: &Refund, asset_code: &str) -> Self {
        Self {
            id: refund.id.to_string(),
            object: "refund",
            livemode: refund.livemode,
            payment_intent: refund.payment_intent_id.to_string(),
            amount: refund.amount.normalize().to_string(),
            asset_id: refund.asset.clone(),
            asset: asset_code.to_owned(),
            chain_id: refund.chain_id.clone(),
            destination: refund.destination.clone(),
            reason: refund.reason.clone(),
            status: refund.status.as_str().to_owned(),
            failure_code: refund.failure_code.clone(),
            transaction_hash: refund.tx_hash.clone(),
            metadata: refund.metadata.clone(),
            created: refund.created_at_ms / 1000,
            funding: None,
            conversion: None,
        }
    }
}

pub fn refund_json(state: &Engine, refund: &Refund) -> String {
    let code = refund
        .asset
        .parse()
        .ok()
        .and_then(|id| state.registry.asset(&id))
        .map(|a| a.code.clone())
        .unwrap_or_default();
    let mut object = RefundObject::new(refund, &code);
    object.conversion = crate::refund_convert::RefundConversion::of(refund)
        .ok()
        .flatten()
        .map(|c| crate::refund_convert::RefundConversionObject::new(state, &c));
    if refund.status == RefundStatus::RequiresFunding {
        object.funding =
            crate::refund_funding::pay_to(state, refund).map(|pay_to| FundingInstructions {
                pay_to,
                amount: refund.amount.normalize().to_string(),
                proof_message: crate::chain::proof::payment_message(
                    &refund.id.to_string(),
                    "<tx_hash>",
                ),
            });
    }
    serde_json::to_string(&object).unwrap_or_default()
}

pub(crate) fn refund_event(state: &Engine, refund: &Refund, kind: &str, now_ms: i64) -> Event {
    Event {
        id: rialto_core::id::EventId::generate(),
        merchant_id: refund.merchant_id,
        livemode: refund.livemode,
        kind: kind.to_owned(),
        object_json: refund_json(state, refund),
        created_at_ms: now_ms,
    }
}

/// What to refund.
#[derive(Debug, Clone)]
pub struct RefundSpec {
    /// In the settlement asset's whole units; `None` refunds everything not yet refunded.
    pub amount: Option<Decimal>,
    pub destination: Option<Address>,
    pub reason: String,
    pub created_by: String,
    pub metadata: BTreeMap<String, String>,
    /// Statuses the intent may be in: `succeeded` for merchants; policies also refund funds
    /// of intents that expired.
    pub allowed: &'static [PaymentStatus],
    /// A `payment` posting recorded in the same transaction, before the balance is read: the
    /// policy books funds that never settled and refunds them at once.
    pub credit: Vec<crate::ledger::Posting>,
    /// The asset the payer receives when it is not the one received: the refund converts
    /// through the router with a locked quote ([`crate::refund_convert`]).
    pub convert_to: Option<rialto_core::asset::Asset>,
}

/// The payer's address: who sent the (first) confirmed payment. For a routed payment, the
/// wallet that funded the route (its source address, from the execution's funding): the
/// payment transaction's own sender is Rialto's hot wallet. An exchange withdrawal's sender is
/// the venue's hot wallet, where a refund may not be credited: no default then.
pub(crate) async fn payer_of(
    state: &Engine,
    intent: &PaymentIntent,
) -> Result<Option<Address>, EngineError> {
    let paid = state.store.payment_transactions_of(&intent.id).await?;
    let Some(first) = paid.iter().find(|p| p.status == PaymentTxStatus::Confirmed) else {
        return Ok(None);
    };
    let namespace = intent.settlement.address.namespace();
    match first.source {
        PaymentSource::Route => {
            let Some(execution) = first.payer.strip_prefix("route:") else {
                return Ok(None);
            };
            Ok(match state.store.get_execution(execution).await? {
                Some(exec) => match exec.funding {
                    crate::routing::execute::Funding::Wallet { payer, .. } => {
                        Address::parse(&payer, namespace).ok()
                    }
                    crate::routing::execute::Funding::Exchange { account, .. } => {
                        crate::refund_convert::venue_deposit_address(state, Some(&account), intent)
                            .await?
                    }
                },
                None => None,
            })
        }
        PaymentSource::Exchange => {
            crate::refund_convert::venue_deposit_address(state, None, intent).await
        }
        _ => Ok(Address::parse(&first.payer, namespace).ok()),
    }
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> EngineError {
    EngineError::new(code, message)
}

/// Where a refund's money comes from, tried in this order when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The merchant's held balance (`refund`: balance → refunds_pending).
    Balance,
    /// The merchant's prepaid refund reserve (`refund_from_reserve`: reserve →
    /// refunds_pending).
    Reserve,
    /// Neither covers it: recorded in `requires_funding` with nothing reserved.
    Unfunded,
}

/// Validates and records a refund with its reservation; the worker sends it. A refund that
/// neither the balance nor the refund reserve covers is recorded in `requires_funding`.
pub async fn create(
    state: &Engine,
    intent_id: &rialto_core::id::PaymentIntentId,
    merchant: (&rialto_core::id::MerchantId, bool),
    spec: &RefundSpec,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Refund, WriteError> {
    for _ in 0..CAS_RETRIES {
        let intent = state
            .store
            .get_intent(merchant.0, merchant.1, intent_id)
            .await?
            .ok_or_else(|| {
                EngineError::missing("payment_intent", &intent_id.to_string(), "payment_intent")
            })?;
        let (planned, reservation, next) = plan(state, &intent, spec, now_ms).await?;
        let mut conflict = false;
        for source in [Source::Balance, Source::Reserve, Source::Unfunded] {
            match record(
                state,
                &planned,
                &reservation,
                (&intent, &next),
                spec,
                source,
                guard,
            )
            .await?
            {
                (ReserveOutcome::Reserved, refund) => return Ok(refund),
                (ReserveOutcome::Insufficient { .. }, _) => continue,
                (ReserveOutcome::Conflict, _) => {
                    conflict = true;
                    break;
                }
            }
        }
        if !conflict {
            return Err(WriteError::Engine(EngineError::internal(
                &"an unfunded refund reserved nothing and was still refused",
            )));
        }
    }
    Err(WriteError::Engine(refuse(
        ErrorCode::PaymentIntentUnexpectedState,
        "The payment intent changed while the refund was being created. Retry.",
    )))
}

/// Records the refund funded from `source`, in one transaction with its reservation, the
/// intent's compare-and-set, its events and the idempotency record.
async fn record(
    state: &Engine,
    planned: &Refund,
    reservation: &Reservation,
    (intent, next): (&PaymentIntent, &PaymentIntent),
    spec: &RefundSpec,
    source: Source,
    guard: Option<&IdempotencyKey>,
) -> Result<(ReserveOutcome, Refund), WriteError> {
    let now_ms = planned.created_at_ms;
    let mut refund = planned.clone();
    let mut reservation = reservation.clone();
    let m = refund.merchant_id;
    let from = match source {
        Source::Balance => Some(("refund", merchant_balance(&m))),
        Source::Reserve => Some(("refund_from_reserve", crate::ledger::refund_reserve(&m))),
        Source::Unfunded => None,
    };
    let mut postings = Vec::new();
    if let Some((kind, account)) = from {
        reservation.account = account.clone();
        postings.push(
            ledger::transfer(
                (m, refund.livemode),
                kind,
                &refund.id.to_string(),
                &refund.asset,
                (account, refunds_pending(&m)),
                refund.amount,
                now_ms,
            )
            .map_err(|e| EngineError::internal(&e))?,
        );
    } else {
        // Nothing is reserved (a zero reservation still serializes with the merchant's
        // other reservations); `amount_refunded` is bumped all the same, so refunds waiting
        // for funds can never add up to more than was paid.
        reservation.amount = Decimal::ZERO;
        refund.status = RefundStatus::RequiresFunding;
    }
    let mut events = vec![refund_event(state, &refund, "refund.created", now_ms)];
    if source == Source::Unfunded {
        events.push(refund_event(
            state,
            &refund,
            "refund.requires_funding",
            now_ms,
        ));
    }
    let record = guard.map(|g| g.record(200, &refund_json(state, &refund), now_ms));
    let effects = Effects {
        intent: Some((intent.status, next)),
        credit: &spec.credit,
        postings: &postings,
        events: &events,
        idempotency: record.as_ref(),
    };
    let outcome = state
        .store
        .create_refund(&refund, &reservation, effects)
        .await?;
    Ok((outcome, refund))
}

/// How much this refund is: as asked, or all that is left to refund; exact in the asset,
/// positive, and no more than what was paid in less what was refunded.
async fn refund_amount(
    state: &Engine,
    intent: &PaymentIntent,
    spec: &RefundSpec,
    balance: &crate::ledger::Account,
) -> Result<Decimal, EngineError> {
    let asset = &intent.settlement.asset;
    let credited: Decimal = spec
        .credit
        .iter()
        .flat_map(|p| &p.entries)
        .filter(|e| &e.account == balance)
        .map(|e| e.amount)
        .sum();
    let paid = state.store.paid_into(&intent.id, balance).await? + credited;
    let refundable = paid - intent.amount_refunded;
    let amount = spec.amount.unwrap_or(refundable);
    // Exactly representable in the asset: no rounding, ever.
    Money::parse(&amount.normalize().to_string(), asset.currency()).map_err(|e| {
        refuse(ErrorCode::InvalidAmount, format!("Invalid amount: {e}.")).param("amount")
    })?;
    if amount <= Decimal::ZERO {
        return Err(refuse(
            ErrorCode::InvalidAmount,
            "Nothing is left to refund on this payment.",
        )
        .param("amount"));
    }
    if amount > refundable {
        return Err(refuse(
            ErrorCode::RefundExceedsPayment,
            format!(
                "The refund ({}) exceeds what is left to refund on this payment ({}).",
                amount.normalize(),
                refundable.normalize()
            ),
        )
        .param("amount"));
    }
    Ok(amount)
}

/// The refund, its reservation and the intent with `amount_refunded` bumped.
async fn plan(
    state: &Engine,
    intent: &PaymentIntent,
    spec: &RefundSpec,
    now_ms: i64,
) -> Result<(Refund, Reservation, PaymentIntent), EngineError> {
    if matches!(
        intent.status,
        PaymentStatus::Blocked | PaymentStatus::InReview
    ) {
        return Err(refuse(
            ErrorCode::RefundNotAllowed,
            "This payment cannot be refunded. Contact support.",
        )
        .param("payment_intent"));
    }
    if !spec.allowed.contains(&intent.status) {
        return Err(refuse(
            ErrorCode::PaymentIntentUnexpectedState,
            format!(
                "Only succeeded payments can be refunded; this one is {}.",
                intent.status
            ),
        )
        .param("payment_intent"));
    }
    let asset = &intent.settlement.asset;
    let balance = merchant_balance(&intent.merchant_id);
    let amount = refund_amount(state, intent, spec, &balance).await?;
    let payer = payer_of(state, intent).await?;
    let destination = match spec.destination {
        Some(address) => address,
        None => payer.ok_or_else(|| {
            refuse(
                ErrorCode::RefundDestinationRequired,
                "This payment has no on-chain payer address to refund to (an exchange \
                 withdrawal's sender is the venue's wallet, and the venue gave no deposit \
                 address for the account): give a destination, such as the payer's deposit \
                 address at the venue.",
            )
            .param("destination")
        })?,
    };
    let chain = state
        .chains
        .get(intent.livemode, &asset.id.chain().to_string())
        .filter(|c| c.hot_wallet.is_some())
        .ok_or_else(|| {
            refuse(
                ErrorCode::RefundsUnavailable,
                "Refunds are not available on this payment's chain: no treasury wallet is \
                 configured for it.",
            )
        })?;
    let at = OutgoingAddress {
        role: AddressRole::Payer,
        point: "refund_created",
        intent: Some(intent.id),
    };
    if !screen_outgoing(
        state,
        &intent.merchant_id,
        intent.livemode,
        &destination,
        at,
        now_ms,
    )
    .await?
    {
        return Err(refuse(
            ErrorCode::RefundDestinationRefused,
            "Funds cannot be sent to this address. Choose another, or contact support.",
        )
        .param("destination"));
    }
    // Quoted only once the destination screened clear.
    let (conversion, chain_id) =
        crate::refund_convert::conversion_for(state, intent, spec, amount, chain, now_ms).await?;
    let refund = Refund {
        id: RefundId::generate(),
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        payment_intent_id: intent.id,
        amount,
        asset: asset.id.to_string(),
        chain_id,
        destination: destination.to_string(),
        reason: spec.reason.clone(),
        status: if needs_approval(state, intent, amount, payer != Some(destination)).await? {
            RefundStatus::PendingApproval
        } else {
            RefundStatus::Pending
        },
        failure_code: None,
        tx_hash: None,
        created_by: spec.created_by.clone(),
        metadata: spec.metadata.clone(),
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
        conversion: conversion.as_ref().map(|c| c.to_json()),
    };
    let reservation = Reservation {
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        account: balance,
        asset: refund.asset.clone(),
        amount,
    };
    let mut next = intent.clone();
    next.amount_refunded += amount;
    next.version += 1;
    next.updated_at_ms = now_ms;
    Ok((refund, reservation, next))
}

/// A refund elsewhere than to the payer's own address moves money like a payout: above the
/// merchant's `payout_approval_above` it waits for a second key.
pub(crate) async fn needs_approval(
    state: &Engine,
    intent: &PaymentIntent,
    amount: Decimal,
    elsewhere: bool,
) -> Result<bool, EngineError> {
    if !elsewhere {
        return Ok(false);
    }
    let settings =
        settings::load(state.store.as_ref(), &intent.merchant_id, intent.livemode).await?;
    Ok(settings
        .payout_approval_above
        .is_some_and(|limit| amount > limit))
}

/// A second key approves a refund waiting for approval: an operator, or a key of another
/// custody than the one that asked for it.
pub async fn approve(
    state: &Engine,
    refund: &Refund,
    checker: &Checker,
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Refund, WriteError> {
    let not_pending = || {
        EngineError::new(
            ErrorCode::RefundNotPendingApproval,
            "This refund is not waiting for approval.",
        )
    };
    if refund.status != RefundStatus::PendingApproval {
        return Err(not_pending().into());
    }
    let maker = maker_custody(state.store.as_ref(), &refund.created_by).await?;
    require_second(maker, checker, "A refund")?;
    let mut next = refund.clone();
    next.status = RefundStatus::Pending;
    next.updated_at_ms = now_ms;
    let mut event = refund_event(state, &next, "refund.approved", now_ms);
    // The refund object has no approver field; the event says who approved.
    if let Ok(mut object) = serde_json::from_str::<serde_json::Value>(&event.object_json) {
        object["approved_by"] = serde_json::Value::String(checker.label());
        event.object_json = object.to_string();
    }
    let events = [event];
    let record = guard.map(|g| g.record(200, &refund_json(state, &next), now_ms));
    let effects = Effects {
        events: &events,
        idempotency: record.as_ref(),
        ..Effects::default()
    };
    match state
        .store
        .update_refund(&next, RefundStatus::PendingApproval, effects)
        .await?
    {
        CasOutcome::Updated => Ok(next),
        CasOutcome::Conflict => Err(not_pending().into()),
    }
}

/// Sends pending refunds and settles those whose transfer finished. Returns how many changed.
pub async fn drive(state: &Engine, now_ms: i64) -> Result<usize, FlowError> {
    let mut changed = crate::refund_funding::drive(state, now_ms)
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "refunds waiting for funds not advanced; will retry");
            0
        });
    for refund in state.store.refunds_in(RefundStatus::Pending, 200).await? {
        match drive_one(state, &refund, now_ms).await {
            Ok(moved) => changed += usize::from(moved),
            Err(err) => {
                tracing::warn!(refund = %refund.id, error = %err, "refund not advanced; will retry")
            }
        }
    }
    Ok(changed)
}

async fn drive_one(state: &Engine, refund: &Refund, now_ms: i64) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let Some(chain) = state.chains.get(refund.livemode, &refund.chain_id) else {
        return Ok(false); // not a chain this instance runs
    };
    let reference = refund.id.to_string();
    let leg = match store.get_chain_transfer(REFUND_LEG, &reference).await? {
        Some(leg) => leg,
        None => {
            if let Some(moved) = convert(state, refund, now_ms).await? {
                return Ok(moved);
            }
            let (token, destination, units) =
                transfer_of(state, refund).map_err(FlowError::Ledger)?;
            let out = Outgoing {
                table: MoneyTable::Refunds,
                pending_status: RefundStatus::Pending.as_str(),
                purpose: REFUND_LEG,
                reference,
                merchant: (refund.merchant_id, refund.livemode),
                payment_intent_id: Some(refund.payment_intent_id),
                token,
                destination,
                units,
                screening: OutgoingAddress {
                    role: AddressRole::Payer,
                    point: "refund_sent",
                    intent: Some(refund.payment_intent_id),
                },
            };
            match treasury::send(state, chain, &out, now_ms).await? {
                Sent::Leg(leg) => *leg,
                Sent::NotNow => return Ok(false),
                Sent::Refused => {
                    return finish(
                        state,
                        refund,
                        false,
                        Some("destination_refused"),
                        None,
                        now_ms,
                    )
                    .await
                }
            }
        }
    };
    match leg.status {
        LegStatus::Confirmed => finish(state, refund, true, None, Some(&leg), now_ms).await,
        LegStatus::Failed => {
            finish(
                state,
                refund,
                false,
                Some("transfer_failed"),
                Some(&leg),
                now_ms,
            )
            .await
        }
        _ => Ok(false),
    }
}

/// Moves a refund's conversion on, if it has one still running: `Some(changed)`, or `None`
/// when there is none or it delivered (the refund's own transfer goes next).
async fn convert(state: &Engine, refund: &Refund, now_ms: i64) -> Result<Option<bool>, FlowError> {
    use crate::refund_convert::{advance, Advance, RefundConversion};
    let Some(conv) = RefundConversion::of(refund).map_err(FlowError::Ledger)? else {
        return Ok(None);
    };
    let step = advance(state, refund, &conv, now_ms).await.map_err(|e| {
        tracing::warn!(refund = %refund.id, error = %e, "refund conversion not advanced; will retry");
        FlowError::Ledger(e.to_string())
    });
    match step? {
        Advance::Wait => Ok(Some(false)),
        Advance::Delivered => Ok(None),
        Advance::Failed(conv, code) => {
            let mut failed = refund.clone();
            failed.conversion = Some(conv.to_json());
            finish(state, &failed, false, Some(code), None, now_ms)
                .await
                .map(Some)
        }
        Advance::Progressed(conv, postings) => {
            let mut next = refund.clone();
            next.conversion = Some(conv.to_json());
            next.updated_at_ms = now_ms;
            let effects = Effects {
                postings: &postings,
                ..Effects::default()
            };
            let outcome = state
                .store
                .update_refund(&next, RefundStatus::Pending, effects)
                .await?;
            Ok(Some(outcome == CasOutcome::Updated))
        }
    }
}

/// The token, destination and base units of the refund's transfer: the refund's amount in its
/// asset, or a converted refund's locked amount in the asset converted to.
fn transfer_of(state: &Engine, refund: &Refund) -> Result<(Address, Address, u128), String> {
    let corrupt = |what: &str| format!("refund {}: {what}", refund.id);
    let (asset, amount) = match crate::refund_convert::RefundConversion::of(refund)? {
        Some(c) => (c.asset, c.amount_out),
        None => (refund.asset.clone(), refund.amount),
    };
    let asset = asset
        .parse()
        .ok()
        .and_then(|id| state.registry.asset(&id))
        .ok_or_else(|| corrupt("unknown asset"))?;
    let destination = Address::parse(&refund.destination, asset.contract.namespace())
        .map_err(|_| corrupt("destination"))?;
    let units = Money::parse(&amount.normalize().to_string(), asset.currency())
        .and_then(|m| m.to_base_units())
        .map_err(|_| corrupt("amount"))?;
    Ok((asset.contract, destination, units))
}

/// `pending → succeeded | failed`, with its posting (and, on failure, `amount_refunded` back).
async fn finish(
    state: &Engine,
    refund: &Refund,
    succeeded: bool,
    failure: Option<&str>,
    leg: Option<&ChainTransfer>,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let tx_hash = leg.map(|l| l.tx_hash.clone());
    let mut next = refund.clone();
    next.status = if succeeded {
        RefundStatus::Succeeded
    } else {
        RefundStatus::Failed
    };
    next.failure_code = failure.map(str::to_owned);
    next.tx_hash = tx_hash;
    next.updated_at_ms = now_ms;
    let m = refund.merchant_id;
    let (kind, to, event) = if succeeded {
        ("refund_sent", PAYERS.to_owned(), "refund.succeeded")
    } else {
        ("refund_reversal", merchant_balance(&m), "refund.failed")
    };
    let converted = crate::refund_convert::RefundConversion::of(refund)
        .map_err(FlowError::Ledger)?
        .and_then(|c| crate::refund_convert::closing_postings(refund, &c, succeeded, now_ms));
    let mut postings = match converted {
        Some(postings) => postings,
        None => vec![ledger::transfer(
            (m, refund.livemode),
            kind,
            &refund.id.to_string(),
            &refund.asset,
            (refunds_pending(&m), to),
            refund.amount,
            now_ms,
        )
        .map_err(|e| FlowError::Ledger(e.to_string()))?],
    };
    let events = [refund_event(state, &next, event, now_ms)];
    let intent = state
        .store
        .get_intent_unscoped(&refund.payment_intent_id)
        .await?
        .ok_or_else(|| FlowError::Ledger(format!("refund {} has no intent", refund.id)))?;
    let mut undone = intent.clone();
    undone.amount_refunded -= refund.amount;
    undone.version += 1;
    undone.updated_at_ms = now_ms;
    postings.extend(crate::chain::fee_postings(
        &state.registry,
        (m, refund.livemode),
        &leg.into_iter().collect::<Vec<_>>(),
        now_ms,
    ));
    let effects = Effects {
        intent: (!succeeded).then_some((intent.status, &undone)),
        credit: &[],
        postings: &postings,
        events: &events,
        idempotency: None,
    };
    let outcome = state
        .store
        .update_refund(&next, RefundStatus::Pending, effects)
        .await?;
    Ok(outcome == CasOutcome::Updated)
}
