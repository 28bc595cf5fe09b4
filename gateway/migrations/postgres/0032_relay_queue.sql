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
-- (the partial unique index); batch rows live only beside batch rows.
ALTER TABLE payment_transactions DROP CONSTRAINT payment_transactions_pkey;
ALTER TABLE payment_transactions ADD PRIMARY KEY (chain_id, tx_hash, payment_intent_id);
CREATE UNIQUE INDEX payment_transactions_one_owner ON payment_transactions(chain_id, tx_hash)
    WHERE source <> 'batch_authorization';
