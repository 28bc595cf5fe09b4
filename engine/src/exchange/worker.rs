//! Follows exchange withdrawals until the venue reports their transaction, binds it to the
//! intent, and erases the credentials of payments that ended (unless the payer kept them).

use crate::store::exchange::ExchangeAccountStatus;
use rialto_connectors::exchange::AssetCode;

use super::{claim_withdrawal, Credentials, SettlementTarget};
use crate::services::Engine;
use crate::store::StoreError;

/// One pass; returns how many accounts changed.
pub async fn poll_exchange_withdrawals(state: &Engine) -> Result<usize, StoreError> {
    let store = state.store.as_ref();
    let mut changed = 0;
    for mut account in store.submitted_exchange_withdrawals().await? {
        let (Some(venues), Some(withdrawal_id)) = (
            state.venues.get(&account.livemode),
            account.venue_withdrawal_id.clone(),
        ) else {
            continue;
        };
        let Some(intent) = store
            .get_intent_unscoped(&account.payment_intent_id)
            .await?
        else {
            continue;
        };
        let row = crate::webhooks::Sealer::row("exchange_accounts", &account.id);
        let Ok(opened) = state.sealer.open_for(&row, &account.sealed_credentials) else {
            continue; // erased or sealed under another key: nothing more to ask the venue
        };
        let Ok(credentials) = serde_json::from_str::<Credentials>(&opened) else {
            continue;
        };
        let asset = &intent.settlement.asset;
        let Some(coin) = AssetCode::new(&asset.symbol) else {
            continue;
        };
        let chain = asset.id.chain().clone();
        let address = intent.settlement.address.to_string();
        let target = SettlementTarget {
            asset: &coin,
            chain: &chain,
            address: &address,
        };
        let Ok(venue) = venues.client(&account.venue, &credentials, target) else {
            continue;
        };
        match venue.withdrawal_status(&coin, &withdrawal_id).await {
            Ok(w) => {
                if let Some(hash) = w.tx_hash {
                    match claim_withdrawal(state, &intent, &account, &hash).await {
                        Ok(()) => {
                            account.tx_hash = Some(hash);
                            account.status = ExchangeAccountStatus::Withdrawn;
                        }
                        // Not withdrawn for this intent: left as it is, for an operator.
                        Err(err) => {
                            tracing::warn!(account = %account.id, error = %err, "withdrawal not bound; will retry");
                            continue;
                        }
                    }
                } else if w.status.is_final() {
                    account.status = ExchangeAccountStatus::Failed;
                    account.failure =
                        Some(format!("the venue ended the withdrawal {:?}", w.status));
                } else {
                    continue;
                }
                account.updated_at_ms = state.clock.now_ms();
                store.update_exchange_account(&account).await?;
                changed += 1;
            }
            Err(err) => {
                tracing::warn!(account = %account.id, error = %err, "withdrawal status unavailable; will retry")
            }
        }
    }
    changed += usize::try_from(
        store
            .erase_finished_exchange_credentials(state.clock.now_ms())
            .await?,
    )
    .unwrap_or(0);
    Ok(changed)
}
