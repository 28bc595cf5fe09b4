-- Refunds for every payment: a refund the merchant's balance cannot cover waits in
-- `requires_funding` (a status of `refunds`, TEXT, so no change there) until the merchant funds
-- it from its settlement address, or draws on its prepaid refund reserve (a ledger account).
-- Each funding is a verified on-chain transfer from the merchant to Rialto's treasury; the
-- primary key makes one transaction fund one refund or one top-up, once. Reconciliation
-- expects these transfers as incoming.
CREATE TABLE merchant_fundings (
    chain_id      TEXT NOT NULL,
    tx_hash       TEXT NOT NULL,
    merchant_id   TEXT NOT NULL,
    livemode      BIGINT NOT NULL,
    -- refund | refund_reserve
    purpose       TEXT NOT NULL,
    -- re_… for a refund; the reserve's ledger account for a top-up
    reference     TEXT NOT NULL,
    asset         TEXT NOT NULL,
    -- whole units of `asset`
    amount        TEXT NOT NULL,
    from_address  TEXT NOT NULL,
    to_address    TEXT NOT NULL,
    block_number  BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (chain_id, tx_hash)
);
CREATE INDEX merchant_fundings_merchant ON merchant_fundings(merchant_id, livemode);
