//! Payer details: what a payer (or the merchant on the payer's behalf, or the hosted checkout)
//! says about who is paying, before the funds move: name, country, identifiers and the IVMS101
//! travel-rule data. Validated when given (an invalid IVMS101 payload is refused naming the rule
//! it breaks), stored sealed under the master key and bound to the intent's row, shown only to
//! operators, and merged into the funds screening, so a payment whose rules need the data (every
//! EU/EEA merchant's, under the Transfer of Funds Regulation) clears without manual review.

use rialto_compliance::{ivms101, CountryCode, PartyIdentifiers, TravelRuleData, TravelRulePolicy};
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use serde::{Deserialize, Serialize};

use super::FundsSubject;
use crate::error::{EngineError, ErrorCode};
use crate::services::Engine;
use crate::store::payer::PayerDetailsRecord;
use crate::webhooks::Sealer;

/// The payer's own account of who they are. Every field optional; what a merchant's rules need
/// decides what must be there for the payment to clear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "PartyIdentifiers::is_empty")]
    pub identifiers: PartyIdentifiers,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub travel_rule: Option<TravelRuleData>,
}

fn row(intent: &PaymentIntentId) -> String {
    Sealer::row("payer_details", &intent.to_string())
}

impl PayerDetails {
    /// Refuses what screening could not use: a country that is not ISO 3166-1, a blank or
    /// over-long name, an IVMS101 payload that breaks any rule of the standard (the error
    /// names each rule and path).
    pub fn validate(&self, now_ms: i64) -> Result<(), EngineError> {
        if let Some(name) = &self.name {
            let length = name.trim().chars().count();
            if length == 0 || length > 140 {
                return Err(EngineError::new(
                    ErrorCode::ParameterInvalid,
                    "name must be 1 to 140 characters.",
                )
                .param("name"));
            }
        }
        if let Some(country) = &self.country {
            if country.parse::<CountryCode>().is_err() {
                return Err(EngineError::new(
                    ErrorCode::ParameterInvalid,
                    format!("country {country:?} is not an ISO 3166-1 alpha-2 code."),
                )
                .param("country"));
            }
        }
        if let Some(data) = &self.travel_rule {
            // The wallet addresses may be left out: screening fills them in from the funds
            // (the paying addresses) and the intent (the settlement address), which is what
            // the chain says, before the rules check the payload again.
            let problems: Vec<_> = ivms101::validate(data, u64::try_from(now_ms).unwrap_or(0))
                .into_iter()
                .filter(|p| p.rule != ivms101::Rule::AccountNumberRequired)
                .collect();
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                return Err(EngineError::new(
                    ErrorCode::TravelRuleInvalid,
                    format!(
                        "travel_rule breaks {} rule(s): {}.",
                        problems.len(),
                        list.join("; ")
                    ),
                )
                .param("travel_rule"));
            }
        }
        Ok(())
    }
}

/// Stores `details` for `intent`, sealed. Only before funds arrive: what was screened stays
/// what was screened.
pub async fn save_payer_details(
    state: &Engine,
    intent: &PaymentIntent,
    details: &PayerDetails,
) -> Result<(), EngineError> {
    if intent.status != PaymentStatus::AwaitingFunds {
        return Err(EngineError::new(
            ErrorCode::PaymentIntentUnexpectedState,
            format!(
                "Payer details can be given only while the payment intent awaits funds; it is {}.",
                intent.status.as_str()
            ),
        ));
    }
    let now_ms = state.clock.now_ms();
    details.validate(now_ms)?;
    let plain = serde_json::to_string(details).map_err(|e| EngineError::internal(&e))?;
    let created_at_ms = match state.store.get_payer_details(&intent.id).await? {
        Some(earlier) => earlier.created_at_ms,
        None => now_ms,
    };
    let record = PayerDetailsRecord {
        payment_intent_id: intent.id,
        merchant_id: intent.merchant_id,
        livemode: intent.livemode,
        sealed: state.sealer.seal_for(&row(&intent.id), &plain),
        created_at_ms,
        updated_at_ms: now_ms,
    };
    state.store.put_payer_details(&record).await?;
    Ok(())
}

/// The intent's payer details, opened, if any were given.
pub async fn load_payer_details(
    state: &Engine,
    intent: &PaymentIntentId,
) -> Result<Option<PayerDetails>, EngineError> {
    let Some(record) = state.store.get_payer_details(intent).await? else {
        return Ok(None);
    };
    let plain = state
        .sealer
        .open_for(&row(intent), &record.sealed)
        .map_err(|e| EngineError::internal(&e))?;
    let details = serde_json::from_str(&plain).map_err(|e| EngineError::internal(&e))?;
    Ok(Some(details))
}

/// `subject` with the intent's stored payer details filling what it does not say itself
/// (what the funds' own source reports, such as a venue's account holder, is kept). The stored
/// case subject is left without them, so they stay sealed at rest.
pub(super) async fn with_payer_details(
    state: &Engine,
    intent: &PaymentIntent,
    subject: &FundsSubject,
) -> Result<FundsSubject, EngineError> {
    let mut merged = subject.clone();
    let Some(details) = load_payer_details(state, &intent.id).await? else {
        return Ok(merged);
    };
    if merged.payer_name.is_none() {
        merged.payer_name = details.name;
    }
    if merged.payer_country.is_none() {
        merged.payer_country = details.country;
    }
    if merged.payer_identifiers.is_empty() {
        merged.payer_identifiers = details.identifiers;
    }
    if merged.travel_rule.is_none() {
        merged.travel_rule = details.travel_rule.map(|mut data| {
            if data.originator.account_number.is_empty() {
                data.originator.account_number = subject.payer_addresses.clone();
            }
            if data.beneficiary.account_number.is_empty() {
                data.beneficiary.account_number = vec![intent.settlement.address.to_string()];
            }
            data
        });
    }
    Ok(merged)
}

/// What the merchant's rules need from the payer of `intent` before funds move, and what was
/// given (never the data itself): what the hosted checkout asks and a wallet may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayerDetailsStatus {
    /// IVMS101 originator data is needed for the payment to clear without review (every
    /// payment to an EU/EEA merchant; elsewhere from the jurisdiction's threshold).
    pub travel_rule_required: bool,
    pub payer_name_given: bool,
    pub travel_rule_given: bool,
}

/// The merchant's country as its rules see it: its own, or the configured default.
pub(super) async fn merchant_country(
    state: &Engine,
    merchant: &rialto_core::id::MerchantId,
) -> Result<CountryCode, EngineError> {
    Ok(state
        .store
        .get_merchant(merchant)
        .await?
        .and_then(|m| m.country)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| state.compliance.default_merchant_country()))
}

/// [`PayerDetailsStatus`] of `intent`.
pub async fn payer_details_status(
    state: &Engine,
    intent: &PaymentIntent,
) -> Result<PayerDetailsStatus, EngineError> {
    let country = merchant_country(state, &intent.merchant_id).await?;
    let valued = crate::compliance::service::fiat_value(&intent.amount)
        .unwrap_or_else(|| intent.amount.clone());
    let given = load_payer_details(state, &intent.id).await?;
    Ok(PayerDetailsStatus {
        travel_rule_required: TravelRulePolicy::standard().requires_data(country, &valued),
        payer_name_given: given.as_ref().is_some_and(|d| d.name.is_some()),
        travel_rule_given: given.as_ref().is_some_and(|d| d.travel_rule.is_some()),
    })
}
