//! [`ReserveStore`] over sqlx `Any`: the Proof of Reserve verdicts (migration 0034), written
//! compare-and-set on the stored status so one instance announces each change.

use async_trait::async_trait;
use rialto_core::id::MerchantId;
use rialto_engine::reserves::{ReserveState, ReserveStatus};
use sqlx::Row;

use super::reserves::ReserveStore;
use super::sql::{insert_event, SqlStore};
use super::{CasOutcome, Db, Event, StoreError};

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("reserve status {what}"))
}

fn state_of(row: &sqlx::any::AnyRow) -> Result<ReserveState, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name).db();
    let decimal = |name: &str| -> Result<rust_decimal::Decimal, StoreError> {
        text(name)?.parse().map_err(|_| corrupt(name))
    };
    Ok(ReserveState {
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        chain: text("chain_id")?,
        asset: text("asset")?,
        status: ReserveStatus::parse(&text("status")?).ok_or_else(|| corrupt("status"))?,
        reserves: decimal("reserves")?,
        supply: decimal("supply")?,
        report_updated_at: u64::try_from(row.try_get::<i64, _>("report_updated_at").db()?)
            .map_err(|_| corrupt("report_updated_at"))?,
        checked_at_ms: row.try_get("checked_at").db()?,
        changed_at_ms: row.try_get("changed_at").db()?,
    })
}

#[async_trait]
impl ReserveStore for SqlStore {
    async fn reserve_states(&self) -> Result<Vec<ReserveState>, StoreError> {
        let rows = sqlx::query(
            "SELECT livemode, chain_id, asset, status, reserves, supply, report_updated_at, \
             checked_at, changed_at FROM reserve_status ORDER BY livemode, chain_id, asset",
        )
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(state_of).collect()
    }

    async fn save_reserve_state(
        &self,
        expected: Option<ReserveStatus>,
        state: &ReserveState,
        events: &[Event],
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        let updated_at = i64::try_from(state.report_updated_at).unwrap_or(i64::MAX);
        let written = match expected {
            // The first reading: whoever inserts first wins; the other sees a conflict.
            None => sqlx::query(
                "INSERT INTO reserve_status (livemode, chain_id, asset, status, reserves, supply, \
                 report_updated_at, checked_at, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                 $8, $9) ON CONFLICT (livemode, chain_id, asset) DO NOTHING",
            )
            .bind(i64::from(state.livemode))
            .bind(state.chain.clone())
            .bind(state.asset.clone())
            .bind(state.status.as_str())
            .bind(state.reserves.to_string())
            .bind(state.supply.to_string())
            .bind(updated_at)
            .bind(state.checked_at_ms)
            .bind(state.changed_at_ms),
            Some(prev) => sqlx::query(
                "UPDATE reserve_status SET status = $4, reserves = $5, supply = $6, \
                 report_updated_at = $7, checked_at = $8, changed_at = $9 WHERE livemode = $1 \
                 AND chain_id = $2 AND asset = $3 AND status = $10",
            )
            .bind(i64::from(state.livemode))
            .bind(state.chain.clone())
            .bind(state.asset.clone())
            .bind(state.status.as_str())
            .bind(state.reserves.to_string())
            .bind(state.supply.to_string())
            .bind(updated_at)
            .bind(state.checked_at_ms)
            .bind(state.changed_at_ms)
            .bind(prev.as_str()),
        }
        .execute(&mut *tx)
        .await
        .db()?
        .rows_affected();
        if written != 1 {
            return Ok(CasOutcome::Conflict);
        }
        for event in events {
            insert_event(&mut tx, event).await?;
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn merchant_ids(&self) -> Result<Vec<MerchantId>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM merchants ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .db()?;
        ids.iter()
            .map(|id| id.parse().map_err(|_| corrupt("merchant id")))
            .collect()
    }
}
