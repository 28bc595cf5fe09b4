-- Batched EIP-3009 relays (issue 21, point 7; docs/evm.md, "Batched relays").
--
-- relay_queue: an accepted, screened authorization is stored here before anything is sent, at
-- most one live row per intent (the key) and one row per signed authorization (the unique
-- index). A worker binds queued rows to a batch id before the batch transaction is recorded,
-- so a crash re-sends the same batch, never a second one; a skipped or failed row may be
-- replaced by a new authorization for its intent.
CREATE TABLE relay_queue (
    payment_intent_id  TEXT PRIMARY KEY REFERENCES payment_intents(id),
    chain_id           TEXT NOT NULL,
    livemode           BIGINT NOT NULL,
    -- token contract, payer (authorization.from) and nonce, lower case.
    token              TEXT NOT NULL,
    payer              TEXT NOT NULL,
    nonce              TEXT NOT NULL,
    amount_units       TEXT NOT NULL,
    -- the checked transferWithAuthorization calldata, 0x hex
    calldata           TEXT NOT NULL,
    -- queued | batched | relayed | skipped | failed
    status             TEXT NOT NULL,
    batch_id           TEXT,
    batch_index        BIGINT,
    tx_hash            TEXT,
    reason             TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX relay_queue_authorization ON relay_queue(chain_id, token, payer, nonce);
CREATE INDEX relay_queue_status ON relay_queue(chain_id, status, created_at);
CREATE INDEX relay_queue_batch ON relay_queue(batch_id);

-- One batch transaction pays several intents: a payment transaction is keyed by chain, hash
-- AND intent. Every other kind of payment still binds its transaction to one intent only
-- (the partial unique index); batch rows live only beside batch rows. SQLite cannot change a
-- primary key in place: the table is rebuilt.
CREATE TABLE payment_transactions_0032 (
    chain_id           TEXT NOT NULL,
    tx_hash            TEXT NOT NULL,
    payment_intent_id  TEXT NOT NULL REFERENCES payment_intents(id),
    payer              TEXT NOT NULL,
    amount             TEXT NOT NULL,
    asset              TEXT NOT NULL,
    block_number       BIGINT NOT NULL,
    block_hash         TEXT NOT NULL,
    log_index          BIGINT NOT NULL,
    created_at         BIGINT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'confirmed',
    source             TEXT NOT NULL DEFAULT 'transaction',
    updated_at         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (chain_id, tx_hash, payment_intent_id)
);
INSERT INTO payment_transactions_0032 (chain_id, tx_hash, payment_intent_id, payer, amount,
    asset, block_number, block_hash, log_index, created_at, status, source, updated_at)
SELECT chain_id, tx_hash, payment_intent_id, payer, amount, asset, block_number, block_hash,
    log_index, created_at, status, source, updated_at FROM payment_transactions;
DROP TABLE payment_transactions;
ALTER TABLE payment_transactions_0032 RENAME TO payment_transactions;
CREATE INDEX payment_transactions_intent ON payment_transactions(payment_intent_id);
CREATE INDEX payment_transactions_status ON payment_transactions(chain_id, status);
CREATE UNIQUE INDEX payment_transactions_one_owner ON payment_transactions(chain_id, tx_hash)
    WHERE source <> 'batch_authorization';
