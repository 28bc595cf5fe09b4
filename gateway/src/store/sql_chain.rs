//! [`ChainStore`] over sqlx `Any` (SQLite and PostgreSQL).

use std::collections::HashMap;

use super::Db;
use super::Tx;
use async_trait::async_trait;
use rialto_core::id::PaymentIntentId;
use rialto_core::intent::{PaymentIntent, PaymentStatus};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::chain::{
    ChainStore, ChainTransfer, DepositAddress, LegStatus, Mined, Replacement, ReplacementKind,
    SignFn, TransferDraft,
};
use super::sql::{cas_intent, insert_event, SqlStore, INTENT_SELECT};
use super::{
    CasOutcome, IntentChange, PaymentSource, PaymentTransaction, PaymentTxStatus, StoreError,
};

const LEG_COLUMNS: &str = "leg_id, purpose, reference, payment_intent_id, chain_id, \
    from_address, to_address, token, amount_units, nonce, raw_tx, tx_hash, status, block_number, \
    block_hash, failure, created_at, updated_at";
/// What leg reads select: the inserted columns plus those set once mined.
const LEG_SELECT: &str = "leg_id, purpose, reference, payment_intent_id, chain_id, \
    from_address, to_address, token, amount_units, nonce, raw_tx, tx_hash, status, block_number, \
    block_hash, failure, created_at, updated_at, fee_wei";
const PAYMENT_TX_COLUMNS: &str = "chain_id, tx_hash, payment_intent_id, payer, amount, asset, \
    block_number, block_hash, log_index, created_at, status, source";
const DEPOSIT_COLUMNS: &str = "payment_intent_id, chain_id, derivation_index, address, created_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("chain {what}"))
}

pub(super) fn leg_from_row(row: &AnyRow) -> Result<ChainTransfer, StoreError> {
    let intent: Option<String> = row.try_get("payment_intent_id").db()?;
    let status: String = row.try_get("status").db()?;
    let nonce: i64 = row.try_get("nonce").db()?;
    Ok(ChainTransfer {
        draft: TransferDraft {
            leg_id: row.try_get("leg_id").db()?,
            purpose: row.try_get("purpose").db()?,
            reference: row.try_get("reference").db()?,
            payment_intent_id: intent
                .map(|id| id.parse().map_err(|_| corrupt("leg intent")))
                .transpose()?,
            chain_id: row.try_get("chain_id").db()?,
            from: row.try_get("from_address").db()?,
            to: row.try_get("to_address").db()?,
            token: row.try_get("token").db()?,
            amount_units: row.try_get("amount_units").db()?,
            created_at_ms: row.try_get("created_at").db()?,
        },
        nonce: u64::try_from(nonce).map_err(|_| corrupt("leg nonce"))?,
        raw_tx: row.try_get("raw_tx").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        status: LegStatus::parse(&status).ok_or_else(|| corrupt("leg status"))?,
        block_number: row.try_get("block_number").db()?,
        block_hash: row.try_get("block_hash").db()?,
        failure: row.try_get("failure").db()?,
        updated_at_ms: row.try_get("updated_at").db()?,
        fee_units: row
            .try_get::<Option<String>, _>("fee_wei")
            .db()?
            .map(|f| f.parse().map_err(|_| corrupt("leg fee")))
            .transpose()?,
    })
}

pub(super) fn payment_tx_from_row(row: &AnyRow) -> Result<PaymentTransaction, StoreError> {
    let intent: String = row.try_get("payment_intent_id").db()?;
    Ok(PaymentTransaction {
        chain_id: row.try_get("chain_id").db()?,
        tx_hash: row.try_get("tx_hash").db()?,
        payment_intent_id: intent.parse().map_err(|_| corrupt("transaction intent"))?,
        payer: row.try_get("payer").db()?,
        amount: row.try_get("amount").db()?,
        asset: row.try_get("asset").db()?,
        block_number: row.try_get("block_number").db()?,
        block_hash: row.try_get("block_hash").db()?,
        log_index: row.try_get("log_index").db()?,
        status: PaymentTxStatus::parse(&row.try_get::<String, _>("status").db()?)
            .ok_or_else(|| corrupt("payment transaction status"))?,
        source: PaymentSource::parse(&row.try_get::<String, _>("source").db()?)
            .ok_or_else(|| corrupt("payment transaction source"))?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

pub(super) fn deposit_from_row(row: &AnyRow) -> Result<DepositAddress, StoreError> {
    let intent: String = row.try_get("payment_intent_id").db()?;
    let index: i64 = row.try_get("derivation_index").db()?;
    Ok(DepositAddress {
        payment_intent_id: intent.parse().map_err(|_| corrupt("deposit intent"))?,
        chain_id: row.try_get("chain_id").db()?,
        derivation_index: u32::try_from(index).map_err(|_| corrupt("derivation index"))?,
        address: row.try_get("address").db()?,
        created_at_ms: row.try_get("created_at").db()?,
    })
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

impl SqlStore {
    async fn try_record_chain_transfer(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<Result<ChainTransfer, sqlx::Error>, StoreError> {
        if let Some(existing) = self
            .get_chain_transfer(&draft.purpose, &draft.reference)
            .await?
        {
            return Ok(Ok(existing));
        }
        let chain_nonce = i64::try_from(chain_nonce).map_err(|_| corrupt("chain nonce"))?;
        let mut tx = self.writer.begin().await.db()?;
        sqlx::query(
            "INSERT INTO wallet_nonces (chain_id, address, next_nonce) VALUES ($1, $2, $3) ON \
             CONFLICT (chain_id, address) DO NOTHING",
        )
        .bind(draft.chain_id.clone())
        .bind(draft.from.clone())
        .bind(chain_nonce)
        .execute(&mut *tx)
        .await
        .db()?;
        // The larger of ours and the node's: ours runs ahead while signed legs wait to be
        // sent; the node's runs ahead if someone else sent from this wallet.
        let nonce: i64 = sqlx::query(
            "UPDATE wallet_nonces SET next_nonce = (CASE WHEN next_nonce < $3 THEN $3 ELSE \
             next_nonce END) + 1 WHERE chain_id = $1 AND address = $2 RETURNING next_nonce - 1 \
             AS nonce",
        )
        .bind(draft.chain_id.clone())
        .bind(draft.from.clone())
        .bind(chain_nonce)
        .fetch_one(&mut *tx)
        .await
        .db()?
        .try_get("nonce")
        .db()?;
        let nonce_u64 = u64::try_from(nonce).map_err(|_| corrupt("wallet nonce"))?;
        let signed = sign(nonce_u64).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO chain_transfers ({LEG_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
             $9, $10, $11, $12, $13, NULL, NULL, NULL, $14, $14)"
        ))
        .bind(draft.leg_id.clone())
        .bind(draft.purpose.clone())
        .bind(draft.reference.clone())
        .bind(draft.payment_intent_id.map(|id| id.to_string()))
        .bind(draft.chain_id.clone())
        .bind(draft.from.clone())
        .bind(draft.to.clone())
        .bind(draft.token.clone())
        .bind(draft.amount_units.clone())
        .bind(nonce)
        .bind(signed.raw_tx.clone())
        .bind(signed.tx_hash.clone())
        .bind(LegStatus::Pending.as_str())
        .bind(draft.created_at_ms)
        .execute(&mut *tx)
        .await;
        if let Err(err) = inserted {
            tx.rollback().await.db()?;
            return Ok(Err(err));
        }
        tx.commit().await.db()?;
        Ok(Ok(ChainTransfer {
            draft: draft.clone(),
            nonce: nonce_u64,
            raw_tx: signed.raw_tx,
            tx_hash: signed.tx_hash,
            status: LegStatus::Pending,
            block_number: None,
            block_hash: None,
            failure: None,
            updated_at_ms: draft.created_at_ms,
            fee_units: None,
        }))
    }
}

#[async_trait]
impl ChainStore for SqlStore {
    async fn record_chain_transfer(
        &self,
        draft: &TransferDraft,
        chain_nonce: u64,
        sign: SignFn<'_>,
    ) -> Result<ChainTransfer, StoreError> {
        // A concurrent instance recording the same leg loses on the unique (purpose,
        // reference) and reads the winner's row; its nonce increment rolled back with it.
        for _ in 0..3 {
            match self
                .try_record_chain_transfer(draft, chain_nonce, sign)
                .await?
            {
                Ok(leg) => return Ok(leg),
                Err(err) if is_unique_violation(&err) => continue,
                Err(err) => return Err(StoreError::Database(Box::new(err))),
            }
        }
        self.get_chain_transfer(&draft.purpose, &draft.reference)
            .await?
            .ok_or_else(|| corrupt("row raced away"))
    }

    async fn get_chain_transfer(
        &self,
        purpose: &str,
        reference: &str,
    ) -> Result<Option<ChainTransfer>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {LEG_SELECT} FROM chain_transfers WHERE purpose = $1 AND reference = $2"
        ))
        .bind(purpose.to_owned())
        .bind(reference.to_owned())
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(leg_from_row).transpose()
    }

    async fn get_chain_transfers(
        &self,
        purposes: &[&str],
        reference: &str,
    ) -> Result<Vec<ChainTransfer>, StoreError> {
        if purposes.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..purposes.len())
            .map(|i| format!("${}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {LEG_SELECT} FROM chain_transfers WHERE reference = $1 AND purpose IN ({list})"
        );
        let mut query = sqlx::query(&sql).bind(reference.to_owned());
        for purpose in purposes {
            query = query.bind((*purpose).to_owned());
        }
        let rows = query.fetch_all(&self.writer).await.db()?;
        let mut legs = rows
            .iter()
            .map(leg_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        legs.sort_by_key(|leg| purposes.iter().position(|p| *p == leg.draft.purpose));
        Ok(legs)
    }

    async fn chain_transfer_by_hash(
        &self,
        chain_id: &str,
        tx_hash: &str,
    ) -> Result<Option<ChainTransfer>, StoreError> {
        // Any transaction that can land for a leg names it: a replacement of it too.
        let row = sqlx::query(&format!(
            "SELECT {LEG_SELECT} FROM chain_transfers WHERE chain_id = $1 AND (tx_hash = $2 OR \
             leg_id IN (SELECT leg_id FROM chain_transfer_replacements WHERE chain_id = $1 AND \
             tx_hash = $2))"
        ))
        .bind(chain_id.to_owned())
        .bind(tx_hash.to_ascii_lowercase())
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(leg_from_row).transpose()
    }

    async fn open_chain_transfers(
        &self,
        chain_id: &str,
        limit: u32,
    ) -> Result<Vec<ChainTransfer>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {LEG_SELECT} FROM chain_transfers WHERE chain_id = $1 AND status IN \
             ('pending', 'submitted') ORDER BY created_at, nonce LIMIT $2"
        ))
        .bind(chain_id.to_owned())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(leg_from_row).collect()
    }

    async fn set_chain_transfer_status(
        &self,
        leg_id: &str,
        status: LegStatus,
        mined: Option<Mined>,
        failure: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (block_number, block_hash, fee, landed) = match mined {
            Some(m) => (
                Some(m.block_number),
                Some(m.block_hash),
                m.fee_units.map(|f| f.to_string()),
                m.replacement,
            ),
            None => (None, None, None, None),
        };
        // A replacement that landed becomes the leg's transaction; its hash must be one of the
        // leg's own replacements (the sub-selects find nothing otherwise, and COALESCE keeps
        // the recorded one).
        sqlx::query(
            "UPDATE chain_transfers SET status = $1, block_number = COALESCE($2, block_number), \
             block_hash = COALESCE($3, block_hash), failure = COALESCE($4, failure), updated_at \
             = $5, fee_wei = COALESCE($7, fee_wei), raw_tx = COALESCE((SELECT r.raw_tx FROM \
             chain_transfer_replacements r WHERE r.leg_id = $6 AND r.tx_hash = $8), raw_tx), \
             tx_hash = COALESCE((SELECT r.tx_hash FROM chain_transfer_replacements r WHERE \
             r.leg_id = $6 AND r.tx_hash = $8), tx_hash) WHERE leg_id = $6 AND status IN \
             ('pending', 'submitted')",
        )
        .bind(status.as_str())
        .bind(block_number)
        .bind(block_hash)
        .bind(failure.map(str::to_owned))
        .bind(now_ms)
        .bind(leg_id.to_owned())
        .bind(fee)
        .bind(landed)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn add_chain_transfer_replacements(
        &self,
        leg_id: &str,
        replacements: &[Replacement],
    ) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        // One ladder per leg: a second instance's ladder (other fees, other hashes) is not
        // mixed into the first.
        let has: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM chain_transfer_replacements WHERE leg_id = $1 LIMIT 1",
        )
        .bind(leg_id.to_owned())
        .fetch_optional(&mut *tx)
        .await
        .db()?;
        if has.is_some() {
            return Ok(());
        }
        for r in replacements {
            let inserted = sqlx::query(
                "INSERT INTO chain_transfer_replacements (leg_id, seq, chain_id, kind, raw_tx, \
                 tx_hash, sent_at) SELECT leg_id, $2, chain_id, $3, $4, $5, NULL FROM \
                 chain_transfers WHERE leg_id = $1",
            )
            .bind(leg_id.to_owned())
            .bind(i64::from(r.seq))
            .bind(r.kind.as_str())
            .bind(r.raw_tx.clone())
            .bind(r.tx_hash.to_ascii_lowercase())
            .execute(&mut *tx)
            .await;
            match inserted {
                Ok(_) => {}
                // Another instance stored its ladder meanwhile: keep that one.
                Err(err) if is_unique_violation(&err) => return Ok(()),
                Err(err) => return Err(StoreError::Database(Box::new(err))),
            }
        }
        tx.commit().await.db()?;
        Ok(())
    }

    async fn chain_transfer_replacements(
        &self,
        leg_id: &str,
    ) -> Result<Vec<Replacement>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, kind, raw_tx, tx_hash, sent_at FROM chain_transfer_replacements WHERE \
             leg_id = $1 ORDER BY seq",
        )
        .bind(leg_id.to_owned())
        .fetch_all(&self.writer)
        .await
        .db()?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq").db()?;
                let kind: String = row.try_get("kind").db()?;
                Ok(Replacement {
                    seq: u32::try_from(seq).map_err(|_| corrupt("replacement seq"))?,
                    kind: ReplacementKind::parse(&kind)
                        .ok_or_else(|| corrupt("replacement kind"))?,
                    raw_tx: row.try_get("raw_tx").db()?,
                    tx_hash: row.try_get("tx_hash").db()?,
                    sent_at_ms: row.try_get("sent_at").db()?,
                })
            })
            .collect()
    }

    async fn set_chain_transfer_replacement_sent(
        &self,
        leg_id: &str,
        seq: u32,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE chain_transfer_replacements SET sent_at = $3 WHERE leg_id = $1 AND seq = $2 \
             AND sent_at IS NULL",
        )
        .bind(leg_id.to_owned())
        .bind(i64::from(seq))
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn payment_transactions_in(
        &self,
        chain_id: &str,
        status: PaymentTxStatus,
        limit: u32,
    ) -> Result<Vec<PaymentTransaction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_TX_COLUMNS} FROM payment_transactions WHERE chain_id = $1 AND \
             status = $2 ORDER BY created_at LIMIT $3"
        ))
        .bind(chain_id.to_owned())
        .bind(status.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(payment_tx_from_row).collect()
    }

    async fn payment_transactions_of(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Vec<PaymentTransaction>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {PAYMENT_TX_COLUMNS} FROM payment_transactions WHERE payment_intent_id = $1 \
             ORDER BY created_at"
        ))
        .bind(intent.to_string())
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(payment_tx_from_row).collect()
    }

    async fn payment_transactions_of_intents(
        &self,
        intents: &[PaymentIntentId],
    ) -> Result<HashMap<PaymentIntentId, Vec<PaymentTransaction>>, StoreError> {
        let mut of: HashMap<PaymentIntentId, Vec<PaymentTransaction>> =
            intents.iter().map(|id| (*id, Vec::new())).collect();
        let select = format!("SELECT {PAYMENT_TX_COLUMNS} FROM payment_transactions");
        let keys: Vec<String> = intents.iter().map(ToString::to_string).collect();
        let shape = (select.as_str(), "payment_intent_id", " ORDER BY created_at");
        for row in super::rows::fetch_in(&self.pool, shape, &keys).await? {
            let ptx = payment_tx_from_row(&row)?;
            of.entry(ptx.payment_intent_id).or_default().push(ptx);
        }
        Ok(of)
    }

    async fn set_payment_transaction(
        &self,
        ptx: &PaymentTransaction,
        expected: PaymentTxStatus,
        intent: Option<&IntentChange>,
        now_ms: i64,
    ) -> Result<CasOutcome, StoreError> {
        let mut tx = self.writer.begin().await.db()?;
        if let Some(change) = intent {
            if !cas_intent(&mut tx, change.expected, &change.next).await? {
                tx.rollback().await.db()?;
                return Ok(CasOutcome::Conflict);
            }
            for event in &change.events {
                insert_event(&mut tx, event).await?;
            }
        }
        if !update_payment_transaction(&mut tx, ptx, expected, now_ms).await? {
            tx.rollback().await.db()?;
            return Ok(CasOutcome::Conflict);
        }
        tx.commit().await.db()?;
        Ok(CasOutcome::Updated)
    }

    async fn deposit_address(
        &self,
        intent: &PaymentIntentId,
        chain_id: &str,
        derive: &(dyn Fn(u32) -> Result<rialto_core::Address, rialto_connectors::chain::ChainError>
              + Send
              + Sync),
        now_ms: i64,
    ) -> Result<DepositAddress, StoreError> {
        for _ in 0..5 {
            if let Some(existing) = self.get_deposit_address(intent).await? {
                return Ok(existing);
            }
            let next: i64 = sqlx::query(
                "SELECT COALESCE(MAX(derivation_index), -1) + 1 AS next FROM deposit_addresses",
            )
            .fetch_one(&self.writer)
            .await
            .db()?
            .try_get("next")
            .db()?;
            let index = u32::try_from(next).map_err(|_| corrupt("derivation index exhausted"))?;
            let address = derive(index)
                .map_err(|e| StoreError::Corrupt(format!("deposit key {index}: {e}")))?
                .to_string();
            let inserted = sqlx::query(&format!(
                "INSERT INTO deposit_addresses ({DEPOSIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(intent.to_string())
            .bind(chain_id.to_owned())
            .bind(next)
            .bind(address)
            .bind(now_ms)
            .execute(&self.writer)
            .await;
            match inserted {
                Ok(_) => continue,                                 // read it back above
                Err(err) if is_unique_violation(&err) => continue, // raced: next index
                Err(err) => return Err(StoreError::Database(Box::new(err))),
            }
        }
        self.get_deposit_address(intent)
            .await?
            .ok_or_else(|| corrupt("row raced away"))
    }

    async fn watched_deposit_addresses(
        &self,
        chain_id: &str,
        late_since_ms: i64,
    ) -> Result<Vec<DepositAddress>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.payment_intent_id, d.chain_id, d.derivation_index, d.address, d.created_at \
             FROM deposit_addresses d JOIN payment_intents p ON p.id = d.payment_intent_id WHERE \
             d.chain_id = $1 AND (p.status = $2 OR (p.status = $3 AND p.expires_at >= $4))",
        )
        .bind(chain_id.to_owned())
        .bind(PaymentStatus::AwaitingFunds.as_str())
        .bind(PaymentStatus::Expired.as_str())
        .bind(late_since_ms)
        .fetch_all(&self.pool)
        .await
        .db()?;
        rows.iter().map(deposit_from_row).collect()
    }

    async fn get_deposit_address(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Option<DepositAddress>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DEPOSIT_COLUMNS} FROM deposit_addresses WHERE payment_intent_id = $1"
        ))
        .bind(intent.to_string())
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(deposit_from_row).transpose()
    }

    async fn chain_cursor(&self, chain_id: &str) -> Result<Option<(u64, String)>, StoreError> {
        let row =
            sqlx::query("SELECT block_number, block_hash FROM chain_cursors WHERE chain_id = $1")
                .bind(chain_id.to_owned())
                .fetch_optional(&self.writer)
                .await
                .db()?;
        row.map(|row| {
            let number: i64 = row.try_get("block_number").db()?;
            let hash: String = row.try_get("block_hash").db()?;
            Ok((u64::try_from(number).map_err(|_| corrupt("cursor"))?, hash))
        })
        .transpose()
    }

    async fn set_chain_cursor(
        &self,
        chain_id: &str,
        block_number: u64,
        block_hash: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let number = i64::try_from(block_number).map_err(|_| corrupt("cursor"))?;
        sqlx::query(
            "INSERT INTO chain_cursors (chain_id, block_number, block_hash, updated_at) VALUES \
             ($1, $2, $3, $4) ON CONFLICT (chain_id) DO UPDATE SET block_number = $2, block_hash \
             = $3, updated_at = $4",
        )
        .bind(chain_id.to_owned())
        .bind(number)
        .bind(block_hash.to_owned())
        .bind(now_ms)
        .execute(&self.writer)
        .await
        .db()?;
        Ok(())
    }

    async fn chain_funded_intents(
        &self,
        chain_id: &str,
        livemode: bool,
        status: PaymentStatus,
        limit: u32,
    ) -> Result<Vec<PaymentIntent>, StoreError> {
        let rows = sqlx::query(&funded_intents_sql())
            .bind(status.as_str())
            .bind(i64::from(livemode))
            .bind(chain_id.to_owned())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .db()?;
        self.intents_from_rows(&rows)
    }

    async fn reference_intents(
        &self,
        chain_id: &str,
        livemode: bool,
        after: Option<&PaymentIntent>,
        limit: u32,
    ) -> Result<Vec<PaymentIntent>, StoreError> {
        // The settlement asset's id starts with its chain's CAIP-2 id (`solana:…/token:…`).
        // Keyset pages on (created_at, id): no intent is skipped or seen twice in a pass.
        let (after_ms, after_id) = after.map_or((i64::MIN, String::new()), |i| {
            (i.created_at_ms, i.id.to_string())
        });
        let rows = sqlx::query(&format!(
            "SELECT {INTENT_SELECT} FROM payment_intents WHERE status = 'awaiting_funds' AND \
             livemode = $1 AND payment_reference IS NOT NULL AND settlement_asset LIKE $2 AND \
             NOT EXISTS (SELECT 1 FROM payment_transactions t WHERE t.payment_intent_id = \
             payment_intents.id AND t.status <> 'reverted') AND (created_at > $3 OR \
             (created_at = $3 AND id > $4)) ORDER BY created_at, id LIMIT $5"
        ))
        .bind(i64::from(livemode))
        .bind(format!("{chain_id}/%"))
        .bind(after_ms)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .db()?;
        self.intents_from_rows(&rows)
    }
}

/// The intents in a status with a confirmed payment transaction on a chain. The probe per
/// intent is one seek in `payment_transactions_intent` (intent, chain, status; migration
/// 0047), not a walk of the chain's confirmed transactions (`store::plans` checks the plan).
pub(super) fn funded_intents_sql() -> String {
    format!(
        "SELECT {INTENT_SELECT} FROM payment_intents WHERE status = $1 AND livemode = $2 AND \
         EXISTS (SELECT 1 FROM payment_transactions t WHERE t.payment_intent_id = \
         payment_intents.id AND t.chain_id = $3 AND t.status = 'confirmed') ORDER BY \
         updated_at LIMIT $4"
    )
}

/// Writes `ptx` (status, block, amount, payer) compare-and-set from `expected` inside `tx`;
/// `false` when it is not in `expected` any more.
pub(super) async fn update_payment_transaction(
    tx: &mut Tx,
    ptx: &PaymentTransaction,
    expected: PaymentTxStatus,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE payment_transactions SET status = $1, block_number = $2, block_hash = $3, \
         log_index = $4, amount = $5, updated_at = $6, payer = $10 WHERE chain_id = $7 AND \
         tx_hash = $8 AND status = $9 AND payment_intent_id = $11",
    )
    .bind(ptx.status.as_str())
    .bind(ptx.block_number)
    .bind(ptx.block_hash.clone())
    .bind(ptx.log_index)
    .bind(ptx.amount.clone())
    .bind(now_ms)
    .bind(ptx.chain_id.clone())
    .bind(ptx.tx_hash.clone())
    .bind(expected.as_str())
    .bind(ptx.payer.clone())
    .bind(ptx.payment_intent_id.to_string())
    .execute(&mut **tx)
    .await
    .db()?
    .rows_affected();
    Ok(updated == 1)
}
