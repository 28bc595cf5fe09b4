//! A mined batch's item decisions in a few statements ([`decide_items`]), rather than three
//! per item: one `UPDATE … FROM (VALUES …) RETURNING` moves every item still `batched`, one
//! multi-row insert binds the moved relayed items' payment transactions, and one read of the
//! batch transaction's rows says who owns each. The guards are the per-item path's, row for
//! row, in the same database transaction:
//! - only an item still `batched` is decided, and only then is its claim bound;
//! - a claim is inserted unless its intent already holds a row of the hash, or the hash is held
//!   by anything but batch items (`sql_compliance::claim_in`'s rule);
//! - an item whose claim is owned by another intent is failed, as the per-item path fails it.
//!
//! Decisions whose claims are not all batch items of one transaction (never built by the
//! gateway's batches) go through [`decide_one_by_one`], the per-item path.

use std::collections::{HashMap, HashSet};

use rialto_core::id::PaymentIntentId;
use sqlx::Row;

use super::relay_queue::{ItemDecision, RelayItemStatus};
use super::rows::{insert_rows, rows_per_statement, tuples, Cell};
use super::Tx;
use super::{Db, PaymentSource, PaymentTransaction, StoreError};

/// Decides `decisions` (the items of the batch mined as `tx_hash`) in `tx`; answers, per
/// decision, the status it got or `None` when the item was no longer `batched`.
pub(super) async fn decide_items(
    tx: &mut Tx,
    tx_hash: &str,
    decisions: &[ItemDecision],
    now_ms: i64,
) -> Result<Vec<Option<RelayItemStatus>>, StoreError> {
    let claims: Vec<&PaymentTransaction> =
        decisions.iter().filter_map(|d| d.claim.as_ref()).collect();
    let one_batch = claims.first().is_none_or(|first| {
        claims.iter().all(|c| {
            c.source == PaymentSource::BatchAuthorization
                && c.chain_id == first.chain_id
                && c.tx_hash == first.tx_hash
        })
    });
    if !one_batch {
        return decide_one_by_one(tx, tx_hash, decisions, now_ms).await;
    }
    let moved = move_batched(tx, tx_hash, decisions, now_ms).await?;
    let bound: Vec<&PaymentTransaction> = decisions
        .iter()
        .filter(|d| moved.contains(&d.payment_intent_id))
        .filter_map(|d| d.claim.as_ref())
        .collect();
    let owners = bind_claims(tx, &bound).await?;
    let mut decided = Vec::with_capacity(decisions.len());
    for decision in decisions {
        let intent = decision.payment_intent_id;
        if !moved.contains(&intent) {
            decided.push(None);
            continue;
        }
        let mut status = decision.status;
        if decision.claim.is_some() && owners.get(&intent) != Some(&intent) {
            status = fail_unowned(tx, tx_hash, intent, decision.status, now_ms).await?;
        }
        decided.push(Some(status));
    }
    Ok(decided)
}

/// The per-item path: each item's compare-and-set, then its claim.
pub(super) async fn decide_one_by_one(
    tx: &mut Tx,
    tx_hash: &str,
    decisions: &[ItemDecision],
    now_ms: i64,
) -> Result<Vec<Option<RelayItemStatus>>, StoreError> {
    let mut decided = Vec::with_capacity(decisions.len());
    for decision in decisions {
        let intent = decision.payment_intent_id;
        // Only an item still `batched` is decided (and only then is its claim bound): in
        // one transaction, so the claim and the item's status commit together.
        let moved = set_status(
            tx,
            tx_hash,
            intent,
            (decision.status, decision.reason.clone()),
            RelayItemStatus::Batched,
            now_ms,
        )
        .await?;
        if !moved {
            decided.push(None);
            continue;
        }
        let mut status = decision.status;
        if let Some(claim) = &decision.claim {
            if super::sql_compliance::claim_in(tx, claim).await? != intent {
                status = fail_unowned(tx, tx_hash, intent, decision.status, now_ms).await?;
            }
        }
        decided.push(Some(status));
    }
    Ok(decided)
}

/// One item's status compare-and-set from `from`; `true` when it moved.
pub(super) async fn set_status(
    conn: &mut sqlx::AnyConnection,
    tx_hash: &str,
    intent: PaymentIntentId,
    (status, reason): (RelayItemStatus, Option<String>),
    from: RelayItemStatus,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let moved = sqlx::query(
        "UPDATE relay_queue SET status = $1, tx_hash = $2, reason = $3, updated_at = $4 \
         WHERE payment_intent_id = $5 AND status = $6",
    )
    .bind(status.as_str())
    .bind(tx_hash.to_owned())
    .bind(reason)
    .bind(now_ms)
    .bind(intent.to_string())
    .bind(from.as_str())
    .execute(conn)
    .await
    .db()?
    .rows_affected();
    Ok(moved == 1)
}

/// A relayed item whose batch transaction is bound to another payment: cannot happen for a
/// batch the gateway built (its hashes are its own legs', refused to reporters); if it does,
/// the payer must hear of it.
async fn fail_unowned(
    tx: &mut Tx,
    tx_hash: &str,
    intent: PaymentIntentId,
    decided: RelayItemStatus,
    now_ms: i64,
) -> Result<RelayItemStatus, StoreError> {
    tracing::error!(%intent, tx = tx_hash, "a batch transaction is bound to another payment");
    let why = super::relay_queue::BOUND_ELSEWHERE.to_owned();
    let failed = RelayItemStatus::Failed;
    set_status(tx, tx_hash, intent, (failed, Some(why)), decided, now_ms).await?;
    Ok(failed)
}

/// Every decision's compare-and-set from `batched`, a few hundred values a statement; answers the
/// intents whose item moved.
async fn move_batched(
    tx: &mut Tx,
    tx_hash: &str,
    decisions: &[ItemDecision],
    now_ms: i64,
) -> Result<HashSet<PaymentIntentId>, StoreError> {
    let mut moved = HashSet::new();
    for chunk in decisions.chunks(rows_per_statement(6)) {
        let sql = format!(
            "UPDATE relay_queue SET status = v.column2, reason = v.column3, tx_hash = v.column4, \
             updated_at = v.column5 FROM (VALUES {}) AS v WHERE \
             relay_queue.payment_intent_id = v.column1 AND relay_queue.status = v.column6 \
             RETURNING relay_queue.payment_intent_id",
            tuples(chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql).persistent(false);
        for d in chunk {
            query = query
                .bind(d.payment_intent_id.to_string())
                .bind(d.status.as_str())
                .bind(d.reason.clone())
                .bind(tx_hash.to_owned())
                .bind(now_ms)
                .bind(RelayItemStatus::Batched.as_str());
        }
        for row in query.fetch_all(&mut **tx).await.db()? {
            let id: String = row.try_get(0).db()?;
            moved.insert(id.parse().map_err(|_| corrupt())?);
        }
    }
    Ok(moved)
}

/// Inserts the claims (batch items of one transaction) as `claim_in` would, then answers who
/// owns each claimant's hash: the claimant if it holds a row of it, else the earliest holder.
async fn bind_claims(
    tx: &mut Tx,
    claims: &[&PaymentTransaction],
) -> Result<HashMap<PaymentIntentId, PaymentIntentId>, StoreError> {
    let Some(first) = claims.first() else {
        return Ok(HashMap::new());
    };
    let batch = PaymentSource::BatchAuthorization.as_str();
    let rows: Vec<Vec<Cell>> = claims
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.chain_id.clone()),
                Cell::from(c.tx_hash.clone()),
                Cell::from(c.payment_intent_id.to_string()),
                Cell::from(c.payer.clone()),
                Cell::from(c.amount.clone()),
                Cell::from(c.asset.clone()),
                Cell::from(c.block_number),
                Cell::from(c.block_hash.clone()),
                Cell::from(c.log_index),
                Cell::from(c.created_at_ms),
                Cell::from(c.status.as_str()),
                Cell::from(c.source.as_str()),
                Cell::from(batch),
            ]
        })
        .collect();
    // Each row only if its intent holds no row of the hash and the hash holds batch items
    // alone (`claim_in`); the rows of one statement do not see each other, and need not:
    // batch items of other intents never stop one.
    insert_rows(
        tx,
        "INSERT INTO payment_transactions (chain_id, tx_hash, payment_intent_id, payer, amount, \
         asset, block_number, block_hash, log_index, created_at, status, source, updated_at) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, \
         v.column8, v.column9, v.column10, v.column11, v.column12, v.column10 FROM (",
        13,
        ") AS v WHERE NOT EXISTS (SELECT 1 FROM payment_transactions p WHERE p.chain_id = \
         v.column1 AND p.tx_hash = v.column2 AND (p.payment_intent_id = v.column3 OR p.source \
         <> v.column13 OR v.column12 <> v.column13)) ON CONFLICT DO NOTHING",
        rows,
    )
    .await?;
    let held = sqlx::query(
        "SELECT payment_intent_id FROM payment_transactions WHERE chain_id = $1 AND tx_hash = \
         $2 ORDER BY created_at",
    )
    .bind(first.chain_id.clone())
    .bind(first.tx_hash.clone())
    .fetch_all(&mut **tx)
    .await
    .db()?;
    let mut holders = Vec::with_capacity(held.len());
    for row in held {
        let id: String = row.try_get(0).db()?;
        holders.push(id.parse::<PaymentIntentId>().map_err(|_| corrupt())?);
    }
    let holding: HashSet<&PaymentIntentId> = holders.iter().collect();
    Ok(claims
        .iter()
        .filter_map(|c| {
            let me = c.payment_intent_id;
            let owner = if holding.contains(&me) {
                Some(me)
            } else {
                holders.first().copied()
            };
            owner.map(|o| (me, o))
        })
        .collect())
}

fn corrupt() -> StoreError {
    StoreError::Corrupt("relay queue payment_intent_id".into())
}
