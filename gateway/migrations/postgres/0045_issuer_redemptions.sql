-- Redemptions of deposit tokens at the issuing bank (issue 17; docs/deposit-tokens.md,
-- "Redemption"). One row per redemption, stored before anything moves; its id is the bank's
-- request reference. `body` is the row as JSON (rialto_engine::store::issuer_redemption);
-- status moves are compare-and-set on `status`, with their ledger postings in the same
-- transaction.
CREATE TABLE issuer_redemptions (
    id          TEXT PRIMARY KEY,
    livemode    BIGINT NOT NULL,
    chain_id    TEXT NOT NULL,
    -- pending | completed | failed | unknown
    status      TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX issuer_redemptions_mode ON issuer_redemptions(livemode, id);
CREATE INDEX issuer_redemptions_chain ON issuer_redemptions(chain_id, id);
