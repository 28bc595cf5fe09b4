-- The double-entry ledger: append-only; every transaction's entries sum to zero per asset.
-- Amounts are signed decimal strings in whole units of `asset` (CAIP-19), summed exactly in
-- Rust. (kind, reference) is unique, so a money event is posted at most once.
CREATE TABLE ledger_transactions (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    livemode     BIGINT NOT NULL,
    -- payment | settlement | …
    kind         TEXT NOT NULL,
    -- What it records: the payment intent, a leg, a refund, a payout.
    reference    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (kind, reference)
);
CREATE INDEX ledger_transactions_merchant ON ledger_transactions(merchant_id, livemode, created_at);

CREATE TABLE ledger_entries (
    transaction_id  TEXT NOT NULL REFERENCES ledger_transactions(id),
    seq             BIGINT NOT NULL,
    account         TEXT NOT NULL,
    asset           TEXT NOT NULL,
    amount          TEXT NOT NULL,
    PRIMARY KEY (transaction_id, seq)
);
CREATE INDEX ledger_entries_account ON ledger_entries(account, asset);
