-- Misdirected deposits (issue 20, point 4; docs/evm.md, "Misdirected deposits").
--
-- Funds that reached a deposit address but pay nothing of its intent: another token, the
-- native coin, or the intent's token on another chain at the same address. One row per
-- on-chain movement (chain, transaction, log index; -1 for a native transfer); it never
-- credits the intent. Status moves are compare-and-set on
-- the status, with their ledger postings in the same transaction.
CREATE TABLE misdirected_deposits (
    id                   TEXT PRIMARY KEY,
    chain_id             TEXT NOT NULL,
    livemode             BIGINT NOT NULL,
    payment_intent_id    TEXT NOT NULL REFERENCES payment_intents(id),
    merchant_id          TEXT NOT NULL,
    address              TEXT NOT NULL,
    -- other_token | native | wrong_chain
    kind                 TEXT NOT NULL,
    -- token contract; NULL for the native coin
    token                TEXT,
    asset                TEXT,
    amount_units         TEXT NOT NULL,
    sender               TEXT NOT NULL,
    tx_hash              TEXT NOT NULL,
    log_index            BIGINT NOT NULL,
    block_number         BIGINT NOT NULL,
    -- detected | returning | returned | needs_operator | written_off
    status               TEXT NOT NULL,
    reason               TEXT,
    return_to            TEXT,
    network_cost_units   TEXT,
    returned_units       TEXT,
    resolved_by          TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE UNIQUE INDEX misdirected_deposits_movement
    ON misdirected_deposits(chain_id, tx_hash, log_index);
CREATE INDEX misdirected_deposits_status ON misdirected_deposits(chain_id, status, created_at);
CREATE INDEX misdirected_deposits_mode ON misdirected_deposits(livemode, status, id);
