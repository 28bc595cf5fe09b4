//! Refund fundings over sqlx `Any` (see `rialto_engine::refund_funding`): a verified transfer
//! from a merchant to the treasury, recorded once per `(chain_id, tx_hash)` in the same
//! transaction as the refund's status change or the reserve top-up's posting.

use rialto_core::id::MerchantId;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::money::{Effects, FundOutcome, Funding, Refund, RefundStatus, Reservation};
use super::sql_money::{apply_effects, decimal, lock_and_read};
use super::Tx;
use super::{Db, StoreError};

const COLUMNS: &str = "chain_id, tx_hash, merchant_id, livemode, purpose, reference, asset, \
    amount, from_address, to_address, block_number, created_at";

/// Inserts the funding unless its transaction is already recorded: `false` then.
async fn insert_funding(tx: &mut Tx, f: &Funding) -> Result<bool, StoreError> {
    let sql = format!(
        "INSERT INTO merchant_fundings ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11, $12) ON CONFLICT (chain_id, tx_hash) DO NOTHING"
    );
    let inserted = sqlx::query(&sql)
        .bind(f.chain_id.clone())
        .bind(f.tx_hash.clone())
        .bind(f.merchant_id.to_string())
        .bind(i64::from(f.livemode))
        .bind(f.purpose.clone())
        .bind(f.reference.clone())
        .bind(f.asset.clone())
        .bind(f.amount.normalize().to_string())
        .bind(f.from_address.clone())
        .bind(f.to_address.clone())
        .bind(f.block_number)
        .bind(f.created_at_ms)
        .execute(&mut **tx)
        .await
        .db()?
        .rows_affected();
    Ok(inserted == 1)
}

fn funding_from_row(row: &AnyRow) -> Result<Funding, StoreError> {
    let merchant: String = row.try_get("merchant_id").db()?;
    Ok(Funding {
        chain_id: row.try_get("chain_id").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        merchant_id: merchant
            .parse::<MerchantId>()
            .map_err(|_| StoreError::Corrupt("merchant_id".into()))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        purpose: row.try_get("purpose").db()?,
        reference: row.try_get("reference").db()?,
        asset: row.try_get("asset").db()?,
        amount: decimal(row, "amount")?,
        from_address: row.try_get("from_address").db()?,
        to_address: row.try_get("to_address").db()?,
        block_number: row.try_get("block_number").db()?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

pub(super) async fn fund_refund(
    writer: &super::Connections,
    next: &Refund,
    expected: RefundStatus,
    funding: Option<&Funding>,
    reservation: Option<&Reservation>,
    effects: Effects<'_>,
) -> Result<FundOutcome, StoreError> {
    let mut tx = writer.begin().await.db()?;
    if let Some(r) = reservation {
        let available = lock_and_read(&mut tx, r, effects.credit, next.updated_at_ms).await?;
        if available < r.amount {
            tx.rollback().await.db()?;
            return Ok(FundOutcome::Insufficient { available });
        }
    }
    if let Some(f) = funding {
        if !insert_funding(&mut tx, f).await? {
            tx.rollback().await.db()?;
            return Ok(FundOutcome::ProofUsed);
        }
    }
    let updated = sqlx::query(
        "UPDATE refunds SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(next.status.as_str())
    .bind(next.updated_at_ms)
    .bind(next.id.to_string())
    .bind(expected.as_str())
    .execute(&mut *tx)
    .await
    .db()?
    .rows_affected();
    if updated != 1 || !apply_effects(&mut tx, &effects).await? {
        tx.rollback().await.db()?;
        return Ok(FundOutcome::Conflict);
    }
    tx.commit().await.db()?;
    Ok(FundOutcome::Funded)
}

pub(super) async fn record_funding(
    writer: &super::Connections,
    funding: &Funding,
    effects: Effects<'_>,
) -> Result<bool, StoreError> {
    let mut tx = writer.begin().await.db()?;
    if !insert_funding(&mut tx, funding).await? || !apply_effects(&mut tx, &effects).await? {
        tx.rollback().await.db()?;
        return Ok(false);
    }
    tx.commit().await.db()?;
    Ok(true)
}

pub(super) async fn get_funding(
    pool: &super::Connections,
    chain_id: &str,
    tx_hash: &str,
) -> Result<Option<Funding>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM merchant_fundings WHERE chain_id = $1 AND tx_hash = $2");
    sqlx::query(&sql)
        .bind(chain_id.to_owned())
        .bind(tx_hash.to_owned())
        .fetch_optional(pool)
        .await
        .db()?
        .as_ref()
        .map(funding_from_row)
        .transpose()
}

pub(super) async fn fundings_on(
    pool: &super::Connections,
    chain_id: &str,
) -> Result<Vec<Funding>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM merchant_fundings WHERE chain_id = $1 ORDER BY created_at");
    sqlx::query(&sql)
        .bind(chain_id.to_owned())
        .fetch_all(pool)
        .await
        .db()?
        .iter()
        .map(funding_from_row)
        .collect()
}
