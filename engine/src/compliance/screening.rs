//! Ad-hoc screenings as operators and merchants see them: parsing the address to screen, and
//! the screening object `rialto compliance screen` prints and `/v1/compliance/screenings`
//! answers.

use rialto_compliance::{AddressKey, Decision, Outcome};
use rialto_core::address::Address;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{EngineError, ErrorCode};

/// A screening's result. Merchants get `decision` and `message` only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScreeningObject {
    /// Always `compliance_screening`.
    pub object: &'static str,
    /// The decision's id (`cc_…`), as recorded in the audit log.
    pub id: String,
    /// `clear`, `review` or `block`.
    pub decision: String,
    pub message: String,
    /// Operators only: every finding with its evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub reasons: Option<serde_json::Value>,
    /// Operators only: the version of the list this screening is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_versions: Option<Vec<String>>,
}

pub fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Clear => "clear",
        Outcome::Review => "review",
        Outcome::Block => "block",
    }
}

/// The JSON `rialto compliance screen` prints and operators get over HTTP.
pub fn operator_screening(decision: &Decision, primary_list: usize) -> ScreeningObject {
    ScreeningObject {
        object: "compliance_screening",
        id: decision.case_id.to_string(),
        decision: outcome_name(decision.outcome).to_owned(),
        message: decision.merchant_message().to_owned(),
        reasons: serde_json::to_value(&decision.findings).ok(),
        list_version: decision.list_versions.get(primary_list).cloned(),
        list_versions: Some(decision.list_versions.clone()),
    }
}

/// Parses an address to screen: for a named chain as that chain requires, else in any format
/// a list may hold.
pub fn screening_key(
    registry: &rialto_core::asset::AssetRegistry,
    address: &str,
    chain: Option<&str>,
) -> Result<AddressKey, EngineError> {
    let invalid = |msg: String| EngineError::new(ErrorCode::InvalidAddress, msg).param("address");
    match chain {
        Some(chain) => {
            let chain = registry.chain(chain).ok_or_else(|| {
                EngineError::new(ErrorCode::InvalidChain, format!("Unknown chain `{chain}`."))
                    .param("chain")
            })?;
            let parsed = Address::parse(address, chain.id.namespace())
                .map_err(|e| invalid(format!("Invalid address: {e}.")))?;
            Ok(AddressKey::from(&parsed))
        }
        None => AddressKey::parse(address).map_err(|e| invalid(format!("{e}."))),
    }
}
