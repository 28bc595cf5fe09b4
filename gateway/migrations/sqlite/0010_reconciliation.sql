-- Reconciliation runs and the exceptions they found. A run compares the gateway's records
-- (chain_transfers, payment_transactions, the ledger) with the chains' Transfer logs over a
-- block range per chain; see docs/reports.md.
CREATE TABLE reconciliation_runs (
    -- rec_…
    id                   TEXT PRIMARY KEY,
    -- Ledger transactions and records created in [period_start, period_end] (Unix ms), if set.
    period_start         BIGINT,
    period_end           BIGINT,
    -- JSON: [{"chain": "eip155:…", "livemode": false, "from_block": 0, "to_block": 123}]
    block_ranges         TEXT NOT NULL,
    expected_count       BIGINT NOT NULL,
    observed_count       BIGINT NOT NULL,
    matched_count        BIGINT NOT NULL,
    ledger_count         BIGINT NOT NULL,
    exception_count      BIGINT NOT NULL,
    -- succeeded | failed
    status               TEXT NOT NULL,
    failure              TEXT,
    created_by           TEXT NOT NULL,
    created_at           BIGINT NOT NULL
);
CREATE INDEX reconciliation_runs_created ON reconciliation_runs(created_at);

CREATE TABLE reconciliation_exceptions (
    run_id           TEXT NOT NULL REFERENCES reconciliation_runs(id),
    seq              BIGINT NOT NULL,
    -- missing | amount_mismatch | duplicate | unexpected_inflow | unexpected_outflow |
    -- wrong_asset | wrong_chain | ledger_unbalanced | missing_posting
    kind             TEXT NOT NULL,
    -- The merchant the money belongs to, when known (NULL: the gateway's own wallets).
    merchant_id      TEXT,
    livemode         BIGINT NOT NULL,
    chain_id         TEXT,
    tx_hash          TEXT,
    log_index        BIGINT,
    -- Decimal strings in whole units of `asset` (CAIP-19); base units when the asset is unknown.
    expected_amount  TEXT,
    observed_amount  TEXT,
    asset            TEXT,
    -- The leg's purpose, `payment`, or the ledger kind.
    purpose          TEXT,
    reference        TEXT,
    detail           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX reconciliation_exceptions_merchant ON reconciliation_exceptions(merchant_id, livemode, created_at);
