-- The EVM rail: confirmation tracking of payment transactions, the gateway's own outgoing
-- transactions (recorded and signed before they are sent), hot-wallet nonces, per-intent
-- deposit addresses and the watcher's scan cursor.

-- pending: seen on chain, not yet at the required confirmations; confirmed; reverted: dropped
-- out of the chain after a reorg. Rows from before this migration were confirmed when stored.
ALTER TABLE payment_transactions ADD COLUMN status TEXT NOT NULL DEFAULT 'confirmed';
-- transaction (reported by the payer), authorization (EIP-3009 relayed by us), deposit.
ALTER TABLE payment_transactions ADD COLUMN source TEXT NOT NULL DEFAULT 'transaction';
ALTER TABLE payment_transactions ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX payment_transactions_status ON payment_transactions(chain_id, status);

-- The next nonce each of our sending addresses uses, per chain. Allocated inside the same
-- database transaction that stores the signed transaction, so a nonce is never used twice.
CREATE TABLE wallet_nonces (
    chain_id    TEXT NOT NULL,
    address     TEXT NOT NULL,
    next_nonce  BIGINT NOT NULL,
    PRIMARY KEY (chain_id, address)
);

-- Every transaction the gateway sends. One row per (purpose, reference): asking again for the
-- same leg returns this row instead of signing a second transaction.
CREATE TABLE chain_transfers (
    leg_id        TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL,
    reference     TEXT NOT NULL,
    payment_intent_id TEXT,
    chain_id      TEXT NOT NULL,
    from_address  TEXT NOT NULL,
    to_address    TEXT NOT NULL,
    token         TEXT,
    amount_units  TEXT,
    nonce         BIGINT NOT NULL,
    raw_tx        TEXT NOT NULL,
    tx_hash       TEXT NOT NULL,
    -- pending (signed and stored, maybe not yet sent) | submitted | confirmed | failed
    status        TEXT NOT NULL,
    block_number  BIGINT,
    block_hash    TEXT,
    failure       TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (purpose, reference),
    UNIQUE (chain_id, from_address, nonce),
    UNIQUE (chain_id, tx_hash)
);
CREATE INDEX chain_transfers_open ON chain_transfers(chain_id, status);

-- One deposit address per intent, derived at m/44'/60'/0'/0/derivation_index. The index is
-- global so an address never serves two intents, whatever chain it is used on.
CREATE TABLE deposit_addresses (
    payment_intent_id  TEXT PRIMARY KEY REFERENCES payment_intents(id),
    chain_id           TEXT NOT NULL,
    derivation_index   BIGINT NOT NULL UNIQUE,
    address            TEXT NOT NULL UNIQUE,
    created_at         BIGINT NOT NULL
);

-- The last block the deposit scanner finished, with its hash (a changed hash = reorg).
CREATE TABLE chain_cursors (
    chain_id      TEXT PRIMARY KEY,
    block_number  BIGINT NOT NULL,
    block_hash    TEXT NOT NULL,
    updated_at    BIGINT NOT NULL
);
