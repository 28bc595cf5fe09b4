//! The screening points of the payment flow (DESIGN.md §1): the settlement address when an
//! intent is created, the payer when funds arrive, and an operator's resolution of a held
//! payment. Each decision is stored with its audit record, and with the intent's status change,
//! in one transaction.

use std::sync::Arc;

use rialto_compliance::{
    AddressKey, AddressRole, AuditEntry, Cleared, ComplianceCaseId, CustomList, CustomListKind,
    Decision, ExternalScreener, ListOwner, Outcome, PartyIdentifiers, PartyRole, PastPayment,
    PaymentContext, RulesPolicy, Screened, ScreenedAddress, ScreeningRequest, TravelRuleData,
};
use rialto_core::address::Address;
use rialto_core::id::{MerchantId, PaymentIntentId};
use rialto_core::intent::{PaymentEvent, PaymentIntent, PaymentStatus};
use rialto_core::money::Money;
use serde::{Deserialize, Serialize};

use super::external_http::prefetch;
use super::lists::OfacLists;
use super::service::{fiat_value, MerchantPolicy};
use crate::error::{EngineError, ErrorCode};
use crate::objects::{intent_event, intent_json};
use crate::services::Engine;
use crate::store::{
    CasOutcome, CaseRecord, CaseResolution, CaseStatus, Event, IntentChange, PaymentTransaction,
    ScreenedPayment,
};

mod cases;
mod checkout_payer;
mod payer;
mod resume;
pub use cases::*;
pub use checkout_payer::{checkout_payer_details, CheckoutPayer};
pub use payer::{
    load_payer_details, payer_details_status, save_payer_details, PayerDetails, PayerDetailsStatus,
};
pub use resume::*;

/// What arrived for an intent and what is known about who sent it: the subject of the funds
/// screening, stored with the case so an approval can screen it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundsSubject {
    /// CAIP-2 chain the funds arrived on.
    pub chain: String,
    pub payer_addresses: Vec<String>,
    pub asset: Option<String>,
    pub amount: Option<String>,
    pub tx_hash: Option<String>,
    pub payer_name: Option<String>,
    pub payer_country: Option<String>,
    /// Date of birth, nationality and ID number, when the payer data carries them: what
    /// confirms a match on the payer's name (a name match alone is only reviewed). Left out
    /// of the stored subject when empty, so subjects stored before read back unchanged.
    #[serde(default, skip_serializing_if = "PartyIdentifiers::is_empty")]
    pub payer_identifiers: PartyIdentifiers,
    /// Holder name of a linked exchange account, where the venue gives one.
    pub account_holder: Option<String>,
    pub travel_rule: Option<TravelRuleData>,
}

/// Where a funds screening left the intent. Only `Cleared` carries the proof the router's
/// execution needs.
#[derive(Debug)]
pub enum FundsOutcome {
    Cleared {
        intent: PaymentIntent,
        proof: Cleared<PaymentIntentId>,
    },
    InReview {
        intent: PaymentIntent,
        case: ComplianceCaseId,
    },
    Blocked {
        intent: PaymentIntent,
        case: ComplianceCaseId,
    },
}

impl FundsOutcome {
    pub fn intent(&self) -> &PaymentIntent {
        match self {
            FundsOutcome::Cleared { intent, .. }
            | FundsOutcome::InReview { intent, .. }
            | FundsOutcome::Blocked { intent, .. } => intent,
        }
    }
}

fn outcome_str(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Clear => "clear",
        Outcome::Review => "review",
        Outcome::Block => "block",
    }
}

fn now_u64(now_ms: i64) -> u64 {
    u64::try_from(now_ms).unwrap_or(0)
}

/// The owner name of a merchant's lists in one mode: test-mode entries never affect live
/// screening.
pub fn merchant_owner(merchant: &MerchantId, livemode: bool) -> String {
    format!("{merchant}:{}", if livemode { "live" } else { "test" })
}

/// The entries of the operator's (when `with_operator`) and this merchant's (in this mode)
/// block- and allow-lists that concern `addresses`: one indexed lookup per address, however
/// long the lists are. Each list's version is therefore that of the entries that matched,
/// which is what the decision rested on; list changes are audited where they are made.
pub async fn custom_lists(
    state: &Engine,
    merchant: Option<(&MerchantId, bool)>,
    addresses: &[AddressKey],
    with_operator: bool,
) -> Result<Vec<CustomList>, EngineError> {
    lists_from(state, merchant, addresses, with_operator, false).await
}

/// With `cached`, may answer from a copy up to [`crate::compliance::service::ENTRY_CACHE_TTL`]
/// old: only for the intent-creation pre-check, which moves no money and whose settlement
/// address is screened again, fresh, when funds arrive.
async fn lists_from(
    state: &Engine,
    merchant: Option<(&MerchantId, bool)>,
    addresses: &[AddressKey],
    with_operator: bool,
    cached: bool,
) -> Result<Vec<CustomList>, EngineError> {
    let mut owners: Vec<(String, ListOwner)> = Vec::new();
    if with_operator {
        owners.push(("operator".into(), ListOwner::Operator));
    }
    if let Some((id, livemode)) = merchant {
        owners.push((merchant_owner(id, livemode), ListOwner::Merchant(*id)));
    }
    if owners.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = owners.iter().map(|(n, _)| n.as_str()).collect();
    let texts: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    let cache_key = format!("{}|{}", names.join(","), texts.join(","));
    let entries = match cached
        .then(|| state.compliance.cached_entries(&cache_key))
        .flatten()
    {
        Some(entries) => entries,
        None => {
            let entries = state.store.find_list_entries(&names, &texts).await?;
            if cached {
                state.compliance.cache_entries(cache_key, entries.clone());
            }
            entries
        }
    };
    let mut lists = Vec::new();
    for (name, owner) in &owners {
        for (kind, kind_name) in [
            (CustomListKind::Block, "block"),
            (CustomListKind::Allow, "allow"),
        ] {
            // Allow-lists belong to operators: a merchant's allow entry (one stored before the
            // API refused them) silences nothing.
            if kind == CustomListKind::Allow && matches!(owner, ListOwner::Merchant(_)) {
                continue;
            }
            // Entries are matched to the screened keys by their stored text, so no key is
            // lost to a re-parse that would normalise differently.
            let keys = addresses.iter().filter(|key| {
                let text = key.to_string();
                entries
                    .iter()
                    .any(|e| &e.owner == name && e.kind == kind_name && e.address == text)
            });
            lists.push(CustomList::new(*owner, kind, keys.cloned()));
        }
    }
    Ok(lists)
}

fn case_record(
    decision: &Decision,
    merchant: Option<MerchantId>,
    livemode: bool,
    intent: Option<PaymentIntentId>,
    point: &str,
    subject_json: String,
) -> Result<CaseRecord, EngineError> {
    let status = match decision.outcome {
        Outcome::Clear => CaseStatus::Closed,
        Outcome::Review => CaseStatus::Open,
        Outcome::Block => CaseStatus::Frozen,
    };
    Ok(CaseRecord {
        id: decision.case_id,
        merchant_id: merchant,
        livemode,
        payment_intent_id: intent,
        point: point.to_owned(),
        outcome: outcome_str(decision.outcome).to_owned(),
        status,
        decision_json: serde_json::to_string(decision).map_err(|e| EngineError::internal(&e))?,
        subject_json,
        created_at_ms: i64::try_from(decision.decided_at_ms).unwrap_or(i64::MAX),
        resolved_at_ms: None,
        resolved_by: None,
        resolution_note: None,
    })
}

fn audit_entry(decision: &Decision, point: &str, subject: &str) -> AuditEntry {
    let mut entry = AuditEntry::from_decision(decision, subject);
    entry.kind = format!("screening:{point}");
    entry
}

fn refused_settlement() -> EngineError {
    EngineError::new(
        ErrorCode::SettlementAddressRefused,
        "This settlement address cannot be used. Choose another address, or contact support if \
         you think this is a mistake.",
    )
    .param("settlement.address")
}

/// Screens a merchant's settlement address (at intent creation). A clear address records
/// nothing: creation moves no money and is the API's hot path. A blocked one is refused, and
/// the refusal is recorded and audited.
pub async fn check_settlement(
    state: &Engine,
    merchant: &MerchantId,
    livemode: bool,
    address: &Address,
    now_ms: i64,
) -> Result<(), EngineError> {
    let target = OutgoingAddress {
        role: AddressRole::Settlement,
        point: "intent_created",
        intent: None,
    };
    if screen_outgoing(state, merchant, livemode, address, target, now_ms).await? {
        Ok(())
    } else {
        Err(refused_settlement())
    }
}

/// Where an address money is about to be sent to is screened.
#[derive(Debug, Clone, Copy)]
pub struct OutgoingAddress {
    pub role: AddressRole,
    /// `intent_created`, `refund_created`, `payout_sent`, …
    pub point: &'static str,
    pub intent: Option<PaymentIntentId>,
}

/// Screens an address money is about to be sent to (a settlement, refund or payout
/// destination) against the current lists: `true` when clear. Anything else is recorded as a
/// case and audited; the caller refuses the transfer.
pub async fn screen_outgoing(
    state: &Engine,
    merchant: &MerchantId,
    livemode: bool,
    address: &Address,
    at: OutgoingAddress,
    now_ms: i64,
) -> Result<bool, EngineError> {
    let target = ScreenedAddress {
        role: at.role,
        address: AddressKey::from(address),
    };
    // The entry cache is for the intent-creation pre-check only (it moves no money). Refund
    // and payout destinations are screened right before money moves: from the database, so
    // an address block-listed a moment ago is never paid.
    let cached = at.point == "intent_created";
    let custom = lists_from(
        state,
        Some((merchant, livemode)),
        std::slice::from_ref(&target.address),
        true,
        cached,
    )
    .await?;
    let decision = screen_addresses_now(state, &custom, &[target], now_ms);
    metrics::counter!("rialto_compliance_screenings_total", "point" => at.point,
        "outcome" => outcome_str(decision.outcome))
    .increment(1);
    if decision.outcome == Outcome::Clear {
        return Ok(true);
    }
    let subject = match at.role {
        AddressRole::Settlement => serde_json::json!({ "settlement_address": address.to_string() }),
        role => serde_json::json!({ "address": address.to_string(), "role": role }),
    }
    .to_string();
    let case = case_record(
        &decision,
        Some(*merchant),
        livemode,
        at.intent,
        at.point,
        subject,
    )?;
    let audit = audit_entry(&decision, at.point, &merchant.to_string());
    state
        .store
        .record_decision(&case, &audit, None, None)
        .await?;
    Ok(false)
}

/// Address-only screening against the current lists (no await: the screener borrows
/// non-`Send` trait objects and must not live across one).
pub fn screen_addresses_now(
    state: &Engine,
    custom: &[CustomList],
    addresses: &[ScreenedAddress],
    now_ms: i64,
) -> Decision {
    let lists = state.compliance.lists();
    let rules = state.compliance.address_only_rules();
    let screener = state.compliance.screener(&lists, custom, rules, None);
    screener.screen_addresses(ComplianceCaseId::generate(), addresses, now_u64(now_ms))
}

fn parse_payers(state: &Engine, subject: &FundsSubject) -> Result<Vec<Address>, EngineError> {
    let chain = state.registry.chain(&subject.chain).ok_or_else(|| {
        EngineError::new(
            ErrorCode::InvalidChain,
            format!("Unknown chain `{}`.", subject.chain),
        )
        .param("chain")
    })?;
    if subject.payer_addresses.is_empty() {
        return Err(EngineError::new(
            ErrorCode::ParameterMissing,
            "At least one payer address is required.",
        )
        .param("payer_address"));
    }
    subject
        .payer_addresses
        .iter()
        .map(|a| {
            Address::parse(a, chain.id.namespace()).map_err(|e| {
                EngineError::new(
                    ErrorCode::InvalidAddress,
                    format!("Invalid payer address: {e}."),
                )
                .param("payer_address")
            })
        })
        .collect()
}

/// What arrived, when the reporter says: the amount in the asset, on the subject's chain.
fn received_money(state: &Engine, subject: &FundsSubject) -> Result<Option<Money>, EngineError> {
    let (asset, amount) = match (&subject.asset, &subject.amount) {
        (None, None) => return Ok(None),
        (Some(asset), Some(amount)) => (asset, amount),
        _ => {
            return Err(EngineError::new(
                ErrorCode::ParameterMissing,
                "asset and amount go together: give both or neither.",
            )
            .param(if subject.asset.is_none() {
                "asset"
            } else {
                "amount"
            }))
        }
    };
    let chain = state.registry.chain(&subject.chain).ok_or_else(|| {
        EngineError::new(
            ErrorCode::InvalidChain,
            format!("Unknown chain `{}`.", subject.chain),
        )
        .param("chain")
    })?;
    let asset = state
        .registry
        .asset_on(asset, chain)
        .map_err(|e| EngineError::new(ErrorCode::InvalidAsset, format!("{e}.")).param("asset"))?;
    Money::parse_positive(amount, asset.currency())
        .map(Some)
        .map_err(|e| {
            EngineError::new(ErrorCode::InvalidAmount, format!("Invalid amount: {e}."))
                .param("amount")
        })
}

/// The amount the rules see: the larger of what was charged and what arrived, in its fiat
/// unit. Funds in an asset without a peg are left as they are, so the amount rules (and the
/// travel rule) cannot be evaluated and hold the payment for review rather than under-count.
fn valuation(intent: &PaymentIntent, received: Option<&Money>) -> Money {
    let intended = fiat_value(&intent.amount).unwrap_or_else(|| intent.amount.clone());
    match received {
        None => intended,
        Some(money) => match fiat_value(money) {
            Some(value) if value.currency() == intended.currency() => {
                if value.amount() > intended.amount() {
                    value
                } else {
                    intended
                }
            }
            Some(value) => value,
            None => money.clone(),
        },
    }
}

/// Everything one funds screening of `intent` looks at, and the history it read.
struct FundsRequest {
    request: ScreeningRequest,
    policy: Option<MerchantPolicy>,
    valued: Money,
    history_seen: (i64, usize),
}

async fn funds_request(
    state: &Engine,
    intent: &PaymentIntent,
    subject: &FundsSubject,
    payers: &[Address],
    now_ms: i64,
) -> Result<FundsRequest, EngineError> {
    let merchant_country = payer::merchant_country(state, &intent.merchant_id).await?;
    let policy = match state.store.get_policy(&intent.merchant_id).await? {
        Some(json) => Some(
            serde_json::from_str::<MerchantPolicy>(&json).map_err(|e| EngineError::internal(&e))?,
        ),
        None => None,
    };
    let payer_country = match &subject.payer_country {
        Some(c) => Some(c.parse().map_err(|_| {
            EngineError::new(
                ErrorCode::ParameterInvalid,
                "payer.country must be an ISO 3166-1 alpha-2 code in upper case, such as US.",
            )
            .param("payer.country")
        })?),
        None => None,
    };
    for (name, param) in [
        (&subject.payer_name, "payer.name"),
        (&subject.account_holder, "account_holder"),
    ] {
        if name
            .as_ref()
            .is_some_and(|n| n.trim().is_empty() || n.chars().count() > 300)
        {
            return Err(EngineError::new(
                ErrorCode::ParameterInvalid,
                format!("{param} must be 1 to 300 characters."),
            )
            .param(param));
        }
    }
    let received = received_money(state, subject)?;
    let valued = valuation(intent, received.as_ref());
    let payer_key = AddressKey::from(&payers[0]).to_string();
    let since = now_ms.saturating_sub(
        i64::try_from(state.compliance.history_window_ms(policy.as_ref())).unwrap_or(i64::MAX),
    );
    let rows: Vec<ScreenedPayment> = state
        .store
        .payer_history(&intent.merchant_id, &payer_key, since)
        .await?
        .into_iter()
        .filter(|p| p.payment_intent_id != intent.id)
        .collect();
    let history_seen = (since, rows.len());
    let history = rows
        .into_iter()
        .filter(|p| p.currency == valued.currency().code())
        .filter_map(|p| {
            Some(PastPayment {
                at_ms: u64::try_from(p.at_ms).ok()?,
                amount: Money::parse(&p.amount, valued.currency().clone()).ok()?,
            })
        })
        .collect();
    let mut names = Vec::new();
    for name in [&subject.payer_name, &subject.account_holder]
        .into_iter()
        .flatten()
    {
        names.push((PartyRole::Payer, name.clone()));
    }
    let mut addresses: Vec<ScreenedAddress> = payers
        .iter()
        .map(|a| ScreenedAddress {
            role: AddressRole::Payer,
            address: AddressKey::from(a),
        })
        .collect();
    // The settlement address again: a list may have changed since the intent was created.
    addresses.push(ScreenedAddress {
        role: AddressRole::Settlement,
        address: AddressKey::from(&intent.settlement.address),
    });
    let request = ScreeningRequest {
        case_id: ComplianceCaseId::generate(),
        addresses,
        names,
        payer_identifiers: subject.payer_identifiers.clone(),
        payment: PaymentContext {
            merchant: intent.merchant_id,
            merchant_country,
            payer_country,
            amount: valued.clone(),
            now_ms: now_u64(now_ms),
            history,
            travel: subject.travel_rule.clone(),
        },
    };
    Ok(FundsRequest {
        request,
        policy,
        valued,
        history_seen,
    })
}

/// One full screening of received funds: lists, names, rules and the external screener.
/// Kept whole so an approval can release against exactly what it just screened.
struct FundsScreening {
    screened: Screened<PaymentIntentId>,
    request: ScreeningRequest,
    lists: Arc<OfacLists>,
    custom: Vec<CustomList>,
    rules: RulesPolicy,
    valued: Money,
    history_seen: (i64, usize),
}

async fn screen_funds(
    state: &Engine,
    intent: &PaymentIntent,
    subject: &FundsSubject,
    now_ms: i64,
) -> Result<FundsScreening, EngineError> {
    let merged = payer::with_payer_details(state, intent, subject).await?;
    let subject = &merged;
    let payers = parse_payers(state, subject)?;
    let FundsRequest {
        request,
        policy,
        valued,
        history_seen,
    } = funds_request(state, intent, subject, &payers, now_ms).await?;
    let lists = state.compliance.lists();
    let keys: Vec<AddressKey> = request
        .addresses
        .iter()
        .map(|a| a.address.clone())
        .collect();
    let custom = custom_lists(
        state,
        Some((&intent.merchant_id, intent.livemode)),
        &keys,
        true,
    )
    .await?;
    // The external screener is asked first (it is async; screening is not), and only about
    // payers that no list already blocks: those need no paid lookup, and their addresses are
    // not sent to a third party.
    let listed = |key: &AddressKey| {
        lists.sanctions.check(key).is_some()
            || custom
                .iter()
                .any(|l| l.kind() == CustomListKind::Block && l.contains(key))
    };
    let prefetched = match state.compliance.external() {
        Some(http) => {
            // TRM names chains by their lower-case short names (`ethereum`, `base`), as our
            // aliases do.
            let chain = state
                .registry
                .chain(&subject.chain)
                .map(|c| c.alias.clone())
                .unwrap_or_default();
            let ask: Vec<(AddressKey, String)> = request
                .addresses
                .iter()
                .filter(|a| a.role == AddressRole::Payer && !listed(&a.address))
                .map(|a| (a.address.clone(), chain.clone()))
                .collect();
            Some(prefetch(http, &ask).await)
        }
        None => None,
    };
    let rules = state
        .compliance
        .rules_policy(policy.as_ref(), valued.currency())
        .map_err(|e| EngineError::internal(&e))?;
    let screened = {
        let screener = state.compliance.screener(
            &lists,
            &custom,
            &rules,
            prefetched.as_ref().map(|p| p as &dyn ExternalScreener),
        );
        screener.screen(&request, intent.id)
    };
    Ok(FundsScreening {
        screened,
        request,
        lists,
        custom,
        rules,
        valued,
        history_seen,
    })
}

/// The intent after a funds decision (from `awaiting_funds` straight to where it ends up, as
/// one stored change) and the events that go with it.
fn funds_change(
    intent: &PaymentIntent,
    received: &PaymentIntent,
    outcome: Outcome,
    now_ms: i64,
) -> Result<(PaymentIntent, Vec<Event>), EngineError> {
    let mut events = vec![intent_event(
        received,
        "payment_intent.funds_received",
        &intent_json(received),
        now_ms,
    )];
    // The payment policy's verdict on how the funds differed (under, over), if it gave one.
    if let Some(detail) = received
        .payment_detail
        .as_ref()
        .filter(|d| d.kind != rialto_core::intent::PaymentDetailKind::Late)
    {
        events.push(intent_event(
            received,
            detail.event_type(),
            &intent_json(received),
            now_ms,
        ));
    }
    let mut next = match outcome {
        Outcome::Clear => Ok(received.clone()),
        Outcome::Review => received.transition(PaymentEvent::ComplianceReview, now_ms),
        Outcome::Block => received.transition(PaymentEvent::ComplianceBlocked, now_ms),
    }
    .map_err(|e| EngineError::internal(&e))?;
    // One stored change: the intent goes from awaiting_funds straight to where it ends up.
    next.version = intent.version + 1;
    let kind = match outcome {
        Outcome::Clear => None,
        Outcome::Review => Some("payment_intent.in_review"),
        Outcome::Block => Some("payment_intent.blocked"),
    };
    if let Some(kind) = kind {
        events.push(intent_event(&next, kind, &intent_json(&next), now_ms));
    }
    Ok((next, events))
}

/// How many times a funds screening is redone when the payer's history changed under it.
const SCREENING_ATTEMPTS: usize = 5;

/// Screens the payer of funds that arrived for `intent` (in `awaiting_funds`) and moves it to
/// `funds_received` (clear), `in_review` (a case is opened) or `blocked` (funds frozen), with
/// the decision, its audit record and the events in one transaction. If the intent moved
/// meanwhile (it expired, say), the decision is still recorded and audited, and a blocked
/// payer's case is still frozen.
pub async fn screen_received_funds(
    state: &Engine,
    intent: &PaymentIntent,
    subject: FundsSubject,
    now_ms: i64,
) -> Result<FundsOutcome, EngineError> {
    screen_received_funds_confirming(state, intent, subject, None, now_ms).await
}

/// [`screen_received_funds`], recording `confirms` (the payment transaction that brought the
/// funds, as confirmed) in the same transaction as the decision and the intent's change: one
/// write for the chain watcher's confirmation and its screening. An `Ok` means it was written.
pub async fn screen_received_funds_confirming(
    state: &Engine,
    intent: &PaymentIntent,
    subject: FundsSubject,
    confirms: Option<PaymentTransaction>,
    now_ms: i64,
) -> Result<FundsOutcome, EngineError> {
    let received = intent
        .transition(PaymentEvent::FundsDetected, now_ms)
        .map_err(|e| EngineError::new(ErrorCode::PaymentIntentUnexpectedState, format!("{e}.")))?;
    let subject_json = serde_json::to_string(&subject).map_err(|e| EngineError::internal(&e))?;
    let payer = parse_payers(state, &subject)?
        .first()
        .map(|a| AddressKey::from(a).to_string())
        .unwrap_or_default();
    let _serialised = state
        .compliance
        .lock_payer(&intent.merchant_id.to_string(), &payer)
        .await;
    for attempt in 1..=SCREENING_ATTEMPTS {
        let FundsScreening {
            screened,
            valued,
            history_seen,
            ..
        } = screen_funds(state, intent, &subject, now_ms).await?;
        let decision = screened.decision().clone();
        let (next, events) = funds_change(intent, &received, decision.outcome, now_ms)?;
        let case = case_record(
            &decision,
            Some(intent.merchant_id),
            intent.livemode,
            Some(intent.id),
            "funds_received",
            subject_json.clone(),
        )?;
        let audit = audit_entry(&decision, "funds_received", &intent.id.to_string());
        let change = IntentChange {
            expected: PaymentStatus::AwaitingFunds,
            next: next.clone(),
            events,
            confirms: confirms.clone(),
        };
        let payment = ScreenedPayment {
            payment_intent_id: intent.id,
            merchant_id: intent.merchant_id,
            payer: payer.clone(),
            amount: valued.to_amount_string(),
            currency: valued.currency().code().to_owned(),
            at_ms: now_ms,
            history_seen: Some(history_seen),
        };
        let stored = state
            .store
            .record_decision(&case, &audit, Some(&change), Some(&payment))
            .await?;
        if stored == CasOutcome::Updated {
            metrics::counter!("rialto_compliance_screenings_total", "point" => "funds_received",
                "outcome" => outcome_str(decision.outcome))
            .increment(1);
            return Ok(match screened {
                Screened::Cleared(proof) => FundsOutcome::Cleared {
                    intent: next,
                    proof,
                },
                Screened::InReview { .. } => FundsOutcome::InReview {
                    intent: next,
                    case: case.id,
                },
                Screened::Blocked { .. } => FundsOutcome::Blocked {
                    intent: next,
                    case: case.id,
                },
            });
        }
        let now = state.store.get_intent_unscoped(&intent.id).await?;
        let unmoved = now
            .as_ref()
            .is_some_and(|i| i.status == intent.status && i.version == intent.version);
        if unmoved && attempt < SCREENING_ATTEMPTS {
            // Only the payer's history changed (a concurrent payment): screen again with it.
            continue;
        }
        // The intent moved: what was found is still recorded, without the status change.
        state
            .store
            .record_decision(&case, &audit, None, None)
            .await?;
        return Err(EngineError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            "The payment intent changed while its funds were screened; retrieve it.",
        ));
    }
    Err(EngineError::internal(&"funds screening did not settle"))
}
