//! The ceiling for `POST /v1/payment_intents` benchmarks: a minimal axum handler that does one
//! equivalent durable INSERT into the same `payment_intents` table, with none of Rialto's work
//! (auth, idempotency, validation, JSON object building). Uses sqlx's native pools, not the
//! `Any` driver the gateway uses, so the comparison also prices that choice.
//!
//! `DATABASE_URL=sqlite://bench.db MERCHANT_ID=mer_… LISTEN=127.0.0.1:8090 cargo run --release
//! -p rialto-gateway --example insert_ceiling` (the database must already be migrated).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone)]
struct Ceiling {
    pool: Pool,
    merchant: Arc<String>,
    counter: Arc<AtomicU64>,
}

const INSERT: &str = "INSERT INTO payment_intents (id, merchant_id, livemode, amount, currency, \
    settlement_asset, settlement_address, status, description, metadata, client_secret, \
    created_at, expires_at, canceled_at, cancellation_reason, version, updated_at) VALUES ($1, \
    $2, 0, '25.00', 'usd', 'eip155:8453/erc20:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913', \
    '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', 'awaiting_funds', NULL, '{}', $3, $4, $5, \
    NULL, NULL, 1, $4)";

async fn insert(State(c): State<Ceiling>, body: axum::body::Bytes) -> (StatusCode, String) {
    let n = c.counter.fetch_add(1, Ordering::Relaxed);
    let id = format!("pi_ceiling{:016}{}", n, std::process::id());
    let now = 1_800_000_000_000i64;
    let result = match &c.pool {
        Pool::Sqlite(p) => sqlx::query(INSERT)
            .bind(&id)
            .bind(c.merchant.as_str())
            .bind(&id)
            .bind(now)
            .bind(now + 3_600_000)
            .execute(p)
            .await
            .map(|_| ()),
        Pool::Postgres(p) => sqlx::query(INSERT)
            .bind(&id)
            .bind(c.merchant.as_str())
            .bind(&id)
            .bind(now)
            .bind(now + 3_600_000)
            .execute(p)
            .await
            .map(|_| ()),
    };
    match result {
        Ok(()) => (
            StatusCode::OK,
            format!("{{\"id\":\"{id}\",\"bytes\":{}}}", body.len()),
        ),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")?;
    let merchant = std::env::var("MERCHANT_ID")?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8090".into());
    let pool_size: u32 = std::env::var("POOL")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(16);
    let pool = if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(&url)?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(10));
        Pool::Sqlite(
            SqlitePoolOptions::new()
                .max_connections(pool_size)
                .connect_with(options)
                .await?,
        )
    } else {
        Pool::Postgres(
            PgPoolOptions::new()
                .max_connections(pool_size)
                .connect(&url)
                .await?,
        )
    };
    let state = Ceiling {
        pool,
        merchant: Arc::new(merchant),
        counter: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/payment_intents", post(insert))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
