-- On-chain transactions reported as payments: a transaction pays at most one intent.
CREATE TABLE payment_transactions (
    chain_id           TEXT NOT NULL,
    -- 0x-prefixed, lower-case.
    tx_hash            TEXT NOT NULL,
    payment_intent_id  TEXT NOT NULL REFERENCES payment_intents(id),
    payer              TEXT NOT NULL,
    amount             TEXT NOT NULL,
    asset              TEXT NOT NULL,
    block_number       BIGINT NOT NULL,
    block_hash         TEXT NOT NULL,
    log_index          BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (chain_id, tx_hash)
);
CREATE INDEX payment_transactions_intent ON payment_transactions(payment_intent_id);
