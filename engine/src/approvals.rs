//! Maker-checker: who may approve what another asked for.
//!
//! A merchant's keys fall into custodies (`ApiKeyRecord::custody`): a key issued by `rialto
//! keys create` (or with the merchant) starts one; a key made or rolled through the API with key
//! K joins K's, because whoever holds K could have made it. "A second key" therefore means a key
//! of another custody, or an operator: one key, and everything it can mint, never approves its
//! own request.

use rialto_core::id::ApiKeyId;

use crate::error::{EngineError, ErrorCode};
use crate::store::Store;

/// Who approves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checker {
    /// An operator key (`op_…`), by its name.
    Operator { name: String },
    /// One of the merchant's secret keys.
    Key { id: ApiKeyId, custody: ApiKeyId },
}

impl Checker {
    /// How records name the approver: `operator:<name>` or `key:<key id>`.
    pub fn label(&self) -> String {
        match self {
            Checker::Operator { name } => format!("operator:{name}"),
            Checker::Key { id, .. } => format!("key:{id}"),
        }
    }
}

/// The custody of the key that `made_by` (`key:key_…`) names; `None` when no key made it (the
/// payout schedule, a payment policy, an operator).
pub async fn maker_custody(
    store: &dyn Store,
    made_by: &str,
) -> Result<Option<ApiKeyId>, EngineError> {
    let Some(id) = made_by.strip_prefix("key:") else {
        return Ok(None);
    };
    let id: ApiKeyId = id
        .parse()
        .map_err(|_| EngineError::internal(&format!("maker {made_by:?} is not a key id")))?;
    // A maker key that vanished is still its own custody: never let it approve itself.
    Ok(Some(
        store
            .get_api_key(&id)
            .await?
            .map(|k| k.custody)
            .unwrap_or(id),
    ))
}

/// Refuses `checker` when it is of the maker's custody.
pub fn require_second(
    maker_custody: Option<ApiKeyId>,
    checker: &Checker,
    what: &str,
) -> Result<(), EngineError> {
    match checker {
        Checker::Operator { .. } => Ok(()),
        Checker::Key { custody, .. } if Some(*custody) == maker_custody => Err(EngineError::new(
            ErrorCode::ApprovalRequiresSecondKey,
            format!(
                "{what} must be approved by another key than the one that asked for it (or a key \
                 made or rolled from it), or by an operator."
            ),
        )),
        Checker::Key { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_of_the_makers_custody_never_approves_and_an_operator_always_may() {
        let maker = ApiKeyId::generate();
        let same = Checker::Key {
            id: ApiKeyId::generate(),
            custody: maker,
        };
        let other = Checker::Key {
            id: ApiKeyId::generate(),
            custody: ApiKeyId::generate(),
        };
        let op = Checker::Operator {
            name: "olga".into(),
        };
        assert_eq!(
            require_second(Some(maker), &same, "A payout")
                .unwrap_err()
                .code,
            ErrorCode::ApprovalRequiresSecondKey
        );
        assert!(require_second(Some(maker), &other, "A payout").is_ok());
        assert!(require_second(Some(maker), &op, "A payout").is_ok());
        assert!(require_second(None, &same, "A payout").is_ok());
    }
}
