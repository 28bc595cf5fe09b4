//! [`CheckoutStore`] over sqlx `Any`.

use async_trait::async_trait;
use rialto_core::id::{CheckoutSessionId, MerchantId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::checkout::{
    CheckoutLocale, CheckoutSession, CheckoutSessionState, CheckoutStore, LineItem,
};
use super::group_commit::NewIntent;
use super::sql::{bind_create, map_key_conflict, AnyQuery, Backend, SqlStore};
use super::sql::{PG_CREATE_INTENT, SQLITE_CREATE_INTENT};
use super::{Db, Event, StoreError};
use rialto_core::intent::PaymentIntent;

const COLUMNS: &str = "id, token, merchant_id, livemode, payment_intent_id, success_url, \
    cancel_url, locale, line_items, status, created_at, canceled_at";

const INSERT_SESSION: &str = "INSERT INTO checkout_sessions (id, token, merchant_id, livemode, \
    payment_intent_id, success_url, cancel_url, locale, line_items, status, created_at, \
    canceled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("checkout session {what}"))
}

fn from_row(row: &AnyRow) -> Result<CheckoutSession, StoreError> {
    let text = |name: &str| row.try_get::<String, _>(name).db();
    let line_items: Vec<LineItem> =
        serde_json::from_str(&text("line_items")?).map_err(|_| corrupt("line items"))?;
    Ok(CheckoutSession {
        id: text("id")?.parse().map_err(|_| corrupt("id"))?,
        token: text("token")?,
        merchant_id: text("merchant_id")?
            .parse()
            .map_err(|_| corrupt("merchant"))?,
        livemode: row.try_get::<i64, _>("livemode").db()? != 0,
        payment_intent_id: text("payment_intent_id")?
            .parse()
            .map_err(|_| corrupt("intent"))?,
        success_url: text("success_url")?,
        cancel_url: text("cancel_url")?,
        locale: CheckoutLocale::parse(&text("locale")?).ok_or_else(|| corrupt("locale"))?,
        line_items,
        state: CheckoutSessionState::parse(&text("status")?).ok_or_else(|| corrupt("status"))?,
        created_at_ms: row.try_get("created_at").db()?,
        canceled_at_ms: row.try_get("canceled_at").db()?,
    })
}

fn insert_session(s: &CheckoutSession) -> Result<AnyQuery<'static>, StoreError> {
    let line_items = serde_json::to_string(&s.line_items).map_err(|_| corrupt("line items"))?;
    Ok(sqlx::query(INSERT_SESSION)
        .bind(s.id.to_string())
        .bind(s.token.clone())
        .bind(s.merchant_id.to_string())
        .bind(i64::from(s.livemode))
        .bind(s.payment_intent_id.to_string())
        .bind(s.success_url.clone())
        .bind(s.cancel_url.clone())
        .bind(s.locale.as_str())
        .bind(line_items)
        .bind(s.state.as_str())
        .bind(s.created_at_ms)
        .bind(s.canceled_at_ms))
}

#[async_trait]
impl CheckoutStore for SqlStore {
    async fn create_checkout_session(&self, s: &CheckoutSession) -> Result<(), StoreError> {
        insert_session(s)?.execute(&self.writer).await.db()?;
        Ok(())
    }

    async fn create_checkout_session_with_intent(
        &self,
        intent: &PaymentIntent,
        event: &Event,
        session: &CheckoutSession,
    ) -> Result<(), StoreError> {
        // The intent's own create statement (event and outbox included, no idempotency row:
        // the /v1 layer records the response), then the session, committed together. Not
        // through the group committer: its batches hold intent creates only.
        let sql: &str = match self.backend {
            Backend::Postgres => &PG_CREATE_INTENT,
            Backend::Sqlite => &SQLITE_CREATE_INTENT,
        };
        let create = bind_create(
            sqlx::query(sql),
            &NewIntent {
                intent: intent.clone(),
                event: event.clone(),
                record: None,
            },
        );
        let mut tx = self.writer.begin().await.db()?;
        map_key_conflict(create.execute(&mut *tx).await)?;
        insert_session(session)?.execute(&mut *tx).await.db()?;
        tx.commit().await.db()?;
        Ok(())
    }

    async fn get_checkout_session(
        &self,
        merchant: &MerchantId,
        livemode: bool,
        id: &CheckoutSessionId,
    ) -> Result<Option<CheckoutSession>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM checkout_sessions WHERE id = $1 AND merchant_id = $2 AND \
             livemode = $3"
        ))
        .bind(id.to_string())
        .bind(merchant.to_string())
        .bind(i64::from(livemode))
        .fetch_optional(&self.writer)
        .await
        .db()?;
        row.as_ref().map(from_row).transpose()
    }

    async fn checkout_session_by_token(
        &self,
        token: &str,
    ) -> Result<Option<CheckoutSession>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM checkout_sessions WHERE token = $1"
        ))
        .bind(token.to_owned())
        .fetch_optional(&self.pool)
        .await
        .db()?;
        row.as_ref().map(from_row).transpose()
    }

    async fn cancel_checkout_session(
        &self,
        id: &CheckoutSessionId,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE checkout_sessions SET status = 'canceled', canceled_at = $1 WHERE id = $2 \
             AND status = 'open'",
        )
        .bind(now_ms)
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .db()?;
        Ok(done.rows_affected() == 1)
    }
}
