//! [`MisdirectedStore`] over sqlx `Any` (migration 0038): the unique movement index is the
//! at-most-once guard on detection; every status move is a compare-and-set on the row's status
//! with its postings in the same transaction.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::Row;

use super::chain::DepositAddress;
use super::misdirected::{
    MisdirectedDeposit, MisdirectedKind, MisdirectedStatus, MisdirectedStore, MisdirectedUpdate,
};
use super::sql::SqlStore;
use super::{Db, StoreError};
use crate::ledger::Posting;

const COLUMNS: &str = "id, chain_id, livemode, payment_intent_id, merchant_id, address, kind, \
    token, asset, amount_units, sender, tx_hash, log_index, block_number, status, reason, \
    return_to, network_cost_units, returned_units, resolved_by, created_at, updated_at, \
    route_execution_id";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("misdirected deposit {what}"))
}

fn units(text: Option<String>, what: &str) -> Result<Option<u128>, StoreError> {
    text.map(|t| t.parse::<u128>().map_err(|_| corrupt(what)))
        .transpose()
}

fn row_to(row: &AnyRow) -> Result<MisdirectedDeposit, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name).db();
    let maybe = |name: &str| row.try_get::<Option<String>, _>(name).db();
    Ok(MisdirectedDeposit {
        id: text("id")?,
        chain_id: text("chain_id")?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        payment_intent_id: text("payment_intent_id")?
            .parse()
            .map_err(|_| corrupt("payment_intent_id"))?,
        merchant_id: text("merchant_id")?,
        address: text("address")?,
        kind: MisdirectedKind::parse(&text("kind")?).ok_or_else(|| corrupt("kind"))?,
        token: maybe("token")?,
        asset: maybe("asset")?,
        amount_units: text("amount_units")?
            .parse()
            .map_err(|_| corrupt("amount_units"))?,
        sender: text("sender")?,
        tx_hash: text("tx_hash")?,
        log_index: row.try_get::<i64, _>("log_index").db()?,
        block_number: row.try_get::<i64, _>("block_number").db()?,
        status: MisdirectedStatus::parse(&text("status")?).ok_or_else(|| corrupt("status"))?,
        reason: maybe("reason")?,
        return_to: maybe("return_to")?,
        network_cost_units: units(maybe("network_cost_units")?, "network_cost_units")?,
        returned_units: units(maybe("returned_units")?, "returned_units")?,
        resolved_by: maybe("resolved_by")?,
        created_at_ms: row.try_get::<i64, _>("created_at").db()?,
        updated_at_ms: row.try_get::<i64, _>("updated_at").db()?,
        route_execution_id: maybe("route_execution_id")?,
    })
}

#[async_trait]
impl MisdirectedStore for SqlStore {
    async fn record_misdirected(&self, r: &MisdirectedDeposit) -> Result<bool, StoreError> {
        let done = sqlx::query(&format!(
            "INSERT INTO misdirected_deposits ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
             $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
             ON CONFLICT (chain_id, tx_hash, log_index) DO NOTHING"
        ))
        .bind(r.id.clone())
        .bind(r.chain_id.clone())
        .bind(i64::from(r.livemode))
        .bind(r.payment_intent_id.to_string())
        .bind(r.merchant_id.clone())
        .bind(r.address.clone())
        .bind(r.kind.as_str())
        .bind(r.token.clone())
        .bind(r.asset.clone())
        .bind(r.amount_units.to_string())
        .bind(r.sender.clone())
        .bind(r.tx_hash.clone())
        .bind(r.log_index)
        .bind(r.block_number)
        .bind(r.status.as_str())
        .bind(r.reason.clone())
        .bind(r.return_to.clone())
        .bind(r.network_cost_units.map(|u| u.to_string()))
        .bind(r.returned_units.map(|u| u.to_string()))
        .bind(r.resolved_by.clone())
        .bind(r.created_at_ms)
        .bind(r.updated_at_ms)
        .bind(r.route_execution_id.clone())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(done.rows_affected() == 1)
    }

    async fn get_misdirected(&self, id: &str) -> Result<Option<MisdirectedDeposit>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM misdirected_deposits WHERE id = $1"
        ))
        .bind(id.to_owned())
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(row_to).transpose()
    }

    async fn misdirected_in(
        &self,
        chain_id: &str,
        status: MisdirectedStatus,
        limit: u32,
    ) -> Result<Vec<MisdirectedDeposit>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM misdirected_deposits WHERE chain_id = $1 AND status = $2 \
             ORDER BY created_at, id LIMIT $3"
        ))
        .bind(chain_id.to_owned())
        .bind(status.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter().map(row_to).collect()
    }

    async fn list_misdirected(
        &self,
        livemode: bool,
        status: Option<MisdirectedStatus>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MisdirectedDeposit>, StoreError> {
        // Ids are time-ordered: newest first is id descending.
        let mut sql = format!("SELECT {COLUMNS} FROM misdirected_deposits WHERE livemode = $1");
        let mut next = 2;
        if status.is_some() {
            sql.push_str(&format!(" AND status = ${next}"));
            next += 1;
        }
        if starting_after.is_some() {
            sql.push_str(&format!(" AND id < ${next}"));
            next += 1;
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${next}"));
        let mut query = sqlx::query(&sql).bind(i64::from(livemode));
        if let Some(status) = status {
            query = query.bind(status.as_str());
        }
        if let Some(after) = starting_after {
            query = query.bind(after.to_owned());
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .db()?;
        rows.iter().map(row_to).collect()
    }

    async fn misdirected_on(&self, chain_id: &str) -> Result<Vec<MisdirectedDeposit>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM misdirected_deposits WHERE chain_id = $1 ORDER BY id"
        ))
        .bind(chain_id.to_owned())
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(row_to).collect()
    }

    async fn move_misdirected(
        &self,
        id: &str,
        expected: MisdirectedStatus,
        next: MisdirectedStatus,
        u: &MisdirectedUpdate,
        postings: &[Posting],
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        for posting in postings {
            posting
                .check()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        }
        let mut tx = self.writer.begin().await.db()?;
        let moved = sqlx::query(
            "UPDATE misdirected_deposits SET status = $1, reason = COALESCE($2, reason), \
             return_to = COALESCE($3, return_to), network_cost_units = COALESCE($4, \
             network_cost_units), returned_units = COALESCE($5, returned_units), resolved_by = \
             COALESCE($6, resolved_by), updated_at = $7, route_execution_id = COALESCE($10, \
             route_execution_id) WHERE id = $8 AND status = $9",
        )
        .bind(next.as_str())
        .bind(u.reason.clone())
        .bind(u.return_to.clone())
        .bind(u.network_cost_units.map(|v| v.to_string()))
        .bind(u.returned_units.map(|v| v.to_string()))
        .bind(u.resolved_by.clone())
        .bind(now_ms)
        .bind(id.to_owned())
        .bind(expected.as_str())
        .bind(u.route_execution_id.clone())
        .execute(&mut *tx)
        .await
        .db()?;
        if moved.rows_affected() != 1 {
            tx.rollback().await.db()?;
            return Ok(false);
        }
        super::sql_ledger::insert_postings(&mut tx, postings).await?;
        tx.commit().await.db()?;
        Ok(true)
    }

    async fn deposit_addresses_in_family(
        &self,
        namespace_prefix: &str,
        livemode: bool,
    ) -> Result<Vec<DepositAddress>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.payment_intent_id, d.chain_id, d.derivation_index, d.address, d.created_at \
             FROM deposit_addresses d JOIN payment_intents p ON p.id = d.payment_intent_id \
             WHERE d.chain_id LIKE $1 AND p.livemode = $2",
        )
        .bind(format!("{namespace_prefix}%"))
        .bind(i64::from(livemode))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter()
            .map(super::sql_chain::deposit_from_row)
            .collect()
    }
}
