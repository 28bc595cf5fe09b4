//! Payouts (`po_…`): batched settlement of a merchant's held balance, one transfer per asset
//! and chain for many payments.
//!
//! - **Scheduling** ([`schedule`]): for merchants on `batched` settlement, a payout of the whole
//!   held balance of an asset is created when it reaches `payout_threshold`, or when
//!   `payout_interval_secs` passed since the last payout. Merchants may also ask for one
//!   (`POST /v1/payouts`).
//! - **Recording**: creating a payout reserves its amount from the balance in the same
//!   transaction (`payout`: balance → payouts_pending), so concurrent schedulers and requests
//!   can never pay the same funds twice (`store::money`).
//! - **Maker-checker**: above `payout_approval_above` the payout waits in `pending_approval`
//!   until a second key (an operator, or a secret key of another custody than the maker's, see
//!   [`crate::approvals`]) approves it.
//! - **Sending** ([`drive`]): the destination is screened again; a blocked one ends the payout
//!   `blocked` and the balance goes back. Otherwise the transfer is the chain leg
//!   `("payout", po_…)` from the treasury, recorded before it is sent: after a crash, or from a
//!   second gateway, asking again returns the same leg. `payout_paid` (→ settled) when it
//!   confirms, `payout_reversal` when it fails.

use rialto_compliance::AddressRole;
use rialto_core::address::Address;
use rialto_core::asset::Asset;
use rialto_core::id::{MerchantId, PayoutId};
use rialto_core::money::Money;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::approvals::{maker_custody, require_second, Checker};
use crate::chain::rail::FlowError;
use crate::compliance::flow::OutgoingAddress;
use crate::error::{EngineError, ErrorCode};
use crate::idempotency::{IdempotencyKey, WriteError};
use crate::ledger::{self, merchant_balance, merchant_settled, payouts_pending};
use crate::services::Engine;
use crate::settings::{self, MerchantSettings, Schedule};
use crate::store::chain::{ChainTransfer, LegStatus};
use crate::store::money::{Effects, MoneyTable, Payout, PayoutStatus, Reservation, ReserveOutcome};
use crate::store::{CasOutcome, Event};
use crate::treasury::{self, Outgoing, Sent};

pub const PAYOUT_LEG: &str = "payout";
/// How long the schedule waits after a payout failed before it tries again.
pub const FAILED_BACKOFF_MS: i64 = 3600 * 1000;
/// `created_by` of payouts the schedule made.
pub const SCHEDULE: &str = "schedule";

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutObject {
    pub id: String,
    /// Always `payout`.
    pub object: &'static str,
    pub livemode: bool,
    #[schema(example = "1250.00")]
    pub amount: String,
    pub asset_id: String,
    #[schema(example = "usdc")]
    pub asset: String,
    pub chain_id: String,
    pub destination: String,
    /// `pending_approval`, `pending`, `in_transit`, `paid`, `failed`, `blocked`, `canceled`.
    pub status: String,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub failure_code: Option<String>,
    pub transaction_hash: Option<String>,
    pub created: i64,
}

pub fn payout_json(state: &Engine, payout: &Payout) -> String {
    let code = asset_of(state, &payout.asset)
        .map(|a| a.code.clone())
        .unwrap_or_default();
    serde_json::to_string(&PayoutObject {
        id: payout.id.to_string(),
        object: "payout",
        livemode: payout.livemode,
        amount: payout.amount.normalize().to_string(),
        asset_id: payout.asset.clone(),
        asset: code,
        chain_id: payout.chain_id.clone(),
        destination: payout.destination.clone(),
        status: payout.status.as_str().to_owned(),
        created_by: payout.created_by.clone(),
        approved_by: payout.approved_by.clone(),
        failure_code: payout.failure_code.clone(),
        transaction_hash: payout.tx_hash.clone(),
        created: payout.created_at_ms / 1000,
    })
    .unwrap_or_default()
}

fn asset_of<'a>(state: &'a Engine, asset: &str) -> Option<&'a Asset> {
    asset.parse().ok().and_then(|id| state.registry.asset(&id))
}

fn payout_event(state: &Engine, payout: &Payout, kind: &str, now_ms: i64) -> Event {
    Event {
        id: rialto_core::id::EventId::generate(),
        merchant_id: payout.merchant_id,
        livemode: payout.livemode,
        kind: kind.to_owned(),
        object_json: payout_json(state, payout),
        created_at_ms: now_ms,
    }
}

/// Where the merchant's payouts on `asset`'s chain go.
pub async fn destination(
    state: &Engine,
    merchant: &MerchantId,
    settings: &MerchantSettings,
    asset: &Asset,
) -> Result<Option<Address>, EngineError> {
    let chain = asset.id.chain();
    let named = settings
        .payout_addresses
        .iter()
        .find(|(key, _)| state.registry.chain(key).is_some_and(|c| &c.id == chain));
    if let Some((_, address)) = named {
        return Ok(Address::parse(address, chain.namespace()).ok());
    }
    let Some(m) = state.store.get_merchant(merchant).await? else {
        return Ok(None);
    };
    Ok(m.settlement_address
        .filter(|_| {
            m.settlement_asset
                .as_deref()
                .and_then(|a| asset_of(state, a))
                .is_some_and(|a| a.id.chain() == chain)
        })
        .and_then(|a| Address::parse(&a, chain.namespace()).ok()))
}

/// Where a payout goes: `to`, or the merchant's payout address for the chain; only on a chain
/// with a treasury wallet to send it.
async fn payout_destination(
    state: &Engine,
    (merchant_id, livemode): (&MerchantId, bool),
    settings: &MerchantSettings,
    asset: &Asset,
    to: Option<Address>,
) -> Result<Address, EngineError> {
    let found = match to {
        Some(address) => Some(address),
        None => destination(state, merchant_id, settings, asset).await?,
    };
    let Some(destination) = found else {
        return Err(EngineError::new(
            ErrorCode::PayoutDestinationMissing,
            format!(
                "No payout address for {}: set payout_addresses in /v1/settings.",
                asset.id.chain()
            ),
        ));
    };
    if state
        .chains
        .get(livemode, &asset.id.chain().to_string())
        .and_then(|c| c.hot_wallet.as_ref())
        .is_none()
    {
        return Err(EngineError::new(
            ErrorCode::PayoutsUnavailable,
            "Payouts are not available on this chain: no treasury wallet is configured for it.",
        ));
    }
    Ok(destination)
}

/// The amount to pay out: as asked, or all that is held; valid for the asset and positive.
async fn payout_amount(
    state: &Engine,
    account: &crate::ledger::Account,
    asset: &Asset,
    livemode: bool,
    amount: Option<Decimal>,
) -> Result<Decimal, EngineError> {
    let asset_id = asset.id.to_string();
    let amount = match amount {
        Some(a) => a,
        None => {
            state
                .store
                .account_balance(account, &asset_id, livemode)
                .await?
        }
    };
    Money::parse(&amount.normalize().to_string(), asset.currency()).map_err(|e| {
        EngineError::new(ErrorCode::InvalidAmount, format!("Invalid amount: {e}.")).param("amount")
    })?;
    if amount <= Decimal::ZERO {
        return Err(
            EngineError::new(ErrorCode::BalanceInsufficient, "Nothing to pay out.").param("amount"),
        );
    }
    Ok(amount)
}

/// Records a payout of `amount` (all that is held when `None`) with its reservation, made by
/// `created_by`, to `to` (the merchant's payout address for the chain when `None`).
pub async fn create(
    state: &Engine,
    merchant: (&MerchantId, bool),
    asset: &Asset,
    amount: Option<Decimal>,
    (created_by, to): (&str, Option<Address>),
    guard: Option<&IdempotencyKey>,
    now_ms: i64,
) -> Result<Payout, WriteError> {
    let (merchant_id, livemode) = merchant;
    let settings = settings::load(state.store.as_ref(), merchant_id, livemode).await?;
    let destination = payout_destination(state, merchant, &settings, asset, to).await?;
    let account = merchant_balance(merchant_id);
    let asset_id = asset.id.to_string();
    let amount = payout_amount(state, &account, asset, livemode, amount).await?;
    let needs_approval = settings
        .payout_approval_above
        .is_some_and(|limit| amount > limit);
    let payout = Payout {
        id: PayoutId::generate(),
        merchant_id: *merchant_id,
        livemode,
        amount,
        asset: asset_id.clone(),
        chain_id: asset.id.chain().to_string(),
        destination: destination.to_string(),
        status: if needs_approval {
            PayoutStatus::PendingApproval
        } else {
            PayoutStatus::Pending
        },
        created_by: created_by.to_owned(),
        approved_by: None,
        approved_at_ms: None,
        failure_code: None,
        tx_hash: None,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    let posting = ledger::transfer(
        (*merchant_id, livemode),
        "payout",
        &payout.id.to_string(),
        &asset_id,
        (account.clone(), payouts_pending(merchant_id)),
        amount,
        now_ms,
    )
    .map_err(|e| EngineError::internal(&e))?;
    let kind = if needs_approval {
        "payout.pending_approval"
    } else {
        "payout.created"
    };
    let events = [payout_event(state, &payout, kind, now_ms)];
    let record = guard.map(|g| g.record(200, &payout_json(state, &payout), now_ms));
    let reservation = Reservation {
        merchant_id: *merchant_id,
        livemode,
        account,
        asset: asset_id,
        amount,
    };
    let effects = Effects {
        intent: None,
        credit: &[],
        postings: std::slice::from_ref(&posting),
        events: &events,
        idempotency: record.as_ref(),
    };
    match state
        .store
        .create_payout(&payout, &reservation, effects)
        .await?
    {
        ReserveOutcome::Reserved => Ok(payout),
        ReserveOutcome::Insufficient { available } => Err(WriteError::Engine(
            EngineError::new(
                ErrorCode::BalanceInsufficient,
                format!(
                    "The available balance ({}) is less than the payout ({}).",
                    available.normalize(),
                    amount.normalize()
                ),
            )
            .param("amount"),
        )),
        ReserveOutcome::Conflict => Err(WriteError::Engine(EngineError::new(
            ErrorCode::BalanceChanged,
            "The balance changed while the payout was being created. Retry.",
        ))),
    }
}

/// A second key approves a payout waiting for approval: an operator, or a key of another
/// custody than the key that created it (see [`crate::approvals`]).
pub async fn approve(
    state: &Engine,
    payout: &Payout,
    checker: &Checker,
    now_ms: i64,
) -> Result<Payout, EngineError> {
    if payout.status != PayoutStatus::PendingApproval {
        return Err(EngineError::new(
            ErrorCode::PayoutNotPending,
            format!(
                "This payout is {}, not pending_approval.",
                payout.status.as_str()
            ),
        ));
    }
    let maker = maker_custody(state.store.as_ref(), &payout.created_by).await?;
    require_second(maker, checker, "A payout")?;
    let mut next = payout.clone();
    next.status = PayoutStatus::Pending;
    next.approved_by = Some(checker.label());
    next.approved_at_ms = Some(now_ms);
    next.updated_at_ms = now_ms;
    let events = [payout_event(state, &next, "payout.approved", now_ms)];
    let effects = Effects {
        events: &events,
        ..Effects::default()
    };
    match state
        .store
        .update_payout(&next, PayoutStatus::PendingApproval, effects)
        .await?
    {
        CasOutcome::Updated => Ok(next),
        CasOutcome::Conflict => Err(EngineError::new(
            ErrorCode::PayoutNotPending,
            "This payout changed while it was being approved.",
        )),
    }
}

/// Creates the payouts batched merchants are due. Returns how many were created.
pub async fn schedule(state: &Engine, now_ms: i64) -> Result<usize, EngineError> {
    let mut created = 0;
    for livemode in [false, true] {
        for (merchant, json) in state.store.merchants_with_settings(livemode).await? {
            let Ok(settings) = serde_json::from_str::<MerchantSettings>(&json) else {
                continue;
            };
            if settings.settlement_schedule != Schedule::Batched {
                continue;
            }
            // One merchant's failure must not hold up the others' payouts.
            match schedule_merchant(state, (&merchant, livemode), &settings, now_ms).await {
                Ok(n) => created += n,
                Err(err) => {
                    tracing::warn!(%merchant, error = %err.message, "payout schedule failed for a merchant; will retry")
                }
            }
        }
    }
    Ok(created)
}

async fn schedule_merchant(
    state: &Engine,
    (merchant, livemode): (&MerchantId, bool),
    settings: &MerchantSettings,
    now_ms: i64,
) -> Result<usize, EngineError> {
    let account = merchant_balance(merchant);
    let mut held: std::collections::BTreeMap<String, Decimal> = Default::default();
    for posting in state.store.merchant_postings(merchant, livemode).await? {
        for e in posting.entries.iter().filter(|e| e.account == account) {
            *held.entry(e.asset.clone()).or_default() += e.amount;
        }
    }
    let mut created = 0;
    for (asset_id, amount) in held.into_iter().filter(|(_, a)| *a > Decimal::ZERO) {
        let Some(asset) = asset_of(state, &asset_id) else {
            continue;
        };
        if state
            .chains
            .get(livemode, &asset.id.chain().to_string())
            .is_none()
        {
            continue; // not served by this instance
        }
        let last = state
            .store
            .last_payout(merchant, livemode, &asset_id)
            .await?;
        // A destination screening refused stays refused until the merchant changes it (or
        // asks for a payout itself): re-creating the payout every pass would churn payouts,
        // events and compliance cases forever.
        if let Some(refused) = last.as_ref().filter(|p| p.status == PayoutStatus::Blocked) {
            let to = destination(state, merchant, settings, asset).await?;
            if to.is_some_and(|to| to.to_string() == refused.destination) {
                continue;
            }
        }
        // A payout whose transfer failed on chain is retried, but not before FAILED_BACKOFF_MS:
        // each attempt costs gas, and the cause (an empty treasury, say) needs an operator.
        if last.as_ref().is_some_and(|p| {
            p.status == PayoutStatus::Failed && now_ms - p.updated_at_ms < FAILED_BACKOFF_MS
        }) {
            continue;
        }
        let by_threshold = settings.payout_threshold.is_some_and(|t| amount >= t);
        let by_interval = settings.payout_interval_secs.is_some_and(|secs| {
            let since = last.as_ref().map_or(0, |p| p.created_at_ms);
            now_ms - since >= i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)
        });
        if !(by_threshold || by_interval) {
            continue;
        }
        match create(
            state,
            (merchant, livemode),
            asset,
            Some(amount),
            (SCHEDULE, None),
            None,
            now_ms,
        )
        .await
        {
            Ok(_) => created += 1,
            // Another instance reserved it first, or there is nowhere to pay: next pass.
            Err(err) => {
                tracing::info!(%merchant, asset = %asset_id, error = ?err, "payout not created")
            }
        }
    }
    Ok(created)
}

/// Sends approved payouts and settles those whose transfer finished.
pub async fn drive(state: &Engine, now_ms: i64) -> Result<usize, FlowError> {
    let mut changed = 0;
    for status in [PayoutStatus::Pending, PayoutStatus::InTransit] {
        for payout in state.store.payouts_in(status, 200).await? {
            match drive_one(state, &payout, now_ms).await {
                Ok(moved) => changed += usize::from(moved),
                Err(err) => {
                    tracing::warn!(payout = %payout.id, error = %err, "payout not advanced; will retry")
                }
            }
        }
    }
    Ok(changed)
}

async fn drive_one(state: &Engine, payout: &Payout, now_ms: i64) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let Some(chain) = state.chains.get(payout.livemode, &payout.chain_id) else {
        return Ok(false);
    };
    let corrupt = |what: &str| FlowError::Ledger(format!("payout {}: {what}", payout.id));
    let asset = asset_of(state, &payout.asset).ok_or_else(|| corrupt("asset"))?;
    let destination = Address::parse(&payout.destination, asset.contract.namespace())
        .map_err(|_| corrupt("destination"))?;
    let reference = payout.id.to_string();
    let leg = match store.get_chain_transfer(PAYOUT_LEG, &reference).await? {
        Some(leg) => leg,
        None if payout.status == PayoutStatus::Pending => {
            let units = Money::parse(&payout.amount.normalize().to_string(), asset.currency())
                .and_then(|m| m.to_base_units())
                .map_err(|_| corrupt("amount"))?;
            let out = Outgoing {
                table: MoneyTable::Payouts,
                pending_status: PayoutStatus::Pending.as_str(),
                purpose: PAYOUT_LEG,
                reference,
                merchant: (payout.merchant_id, payout.livemode),
                payment_intent_id: None,
                token: asset.contract,
                destination,
                units,
                screening: OutgoingAddress {
                    role: AddressRole::Settlement,
                    point: "payout_sent",
                    intent: None,
                },
            };
            match treasury::send(state, chain, &out, now_ms).await? {
                Sent::Leg(leg) => *leg,
                Sent::NotNow => return Ok(false),
                Sent::Refused => {
                    return end(
                        state,
                        payout,
                        PayoutStatus::Blocked,
                        Some("destination_refused"),
                        None,
                        now_ms,
                    )
                    .await
                }
            }
        }
        None => return Err(corrupt("in transit without a leg")),
    };
    match (payout.status, leg.status) {
        (_, LegStatus::Confirmed) => {
            end(state, payout, PayoutStatus::Paid, None, Some(&leg), now_ms).await
        }
        (_, LegStatus::Failed) => {
            end(
                state,
                payout,
                PayoutStatus::Failed,
                Some("transfer_failed"),
                Some(&leg),
                now_ms,
            )
            .await
        }
        (PayoutStatus::Pending, _) => {
            let mut next = payout.clone();
            next.status = PayoutStatus::InTransit;
            next.tx_hash = Some(leg.tx_hash);
            next.updated_at_ms = now_ms;
            let events = [payout_event(state, &next, "payout.in_transit", now_ms)];
            let effects = Effects {
                events: &events,
                ..Effects::default()
            };
            Ok(store
                .update_payout(&next, PayoutStatus::Pending, effects)
                .await?
                == CasOutcome::Updated)
        }
        _ => Ok(false),
    }
}

/// Ends a payout: `paid` moves the reservation to settled; anything else gives it back.
async fn end(
    state: &Engine,
    payout: &Payout,
    status: PayoutStatus,
    failure: Option<&str>,
    leg: Option<&ChainTransfer>,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let m = payout.merchant_id;
    let mut next = payout.clone();
    next.status = status;
    next.failure_code = failure.map(str::to_owned);
    next.tx_hash = leg.map(|l| l.tx_hash.clone()).or(next.tx_hash);
    next.updated_at_ms = now_ms;
    let (kind, to) = if status == PayoutStatus::Paid {
        ("payout_paid", merchant_settled(&m))
    } else {
        ("payout_reversal", merchant_balance(&m))
    };
    let posting = ledger::transfer(
        (m, payout.livemode),
        kind,
        &payout.id.to_string(),
        &payout.asset,
        (payouts_pending(&m), to),
        payout.amount,
        now_ms,
    )
    .map_err(|e| FlowError::Ledger(e.to_string()))?;
    let events = [payout_event(
        state,
        &next,
        &format!("payout.{}", status.as_str()),
        now_ms,
    )];
    let mut postings = vec![posting];
    postings.extend(crate::chain::fee_postings(
        &state.registry,
        (m, payout.livemode),
        &leg.into_iter().collect::<Vec<_>>(),
        now_ms,
    ));
    let effects = Effects {
        intent: None,
        credit: &[],
        postings: &postings,
        events: &events,
        idempotency: None,
    };
    Ok(state
        .store
        .update_payout(&next, payout.status, effects)
        .await?
        == CasOutcome::Updated)
}
