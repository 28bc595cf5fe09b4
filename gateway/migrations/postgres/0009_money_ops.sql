-- Money operations: refunds, payouts, the merchant's settlement schedule and payment policy.

-- Refunded so far (pending refunds count), in the settlement asset's whole units; and how the
-- funds that arrived differed from the amount (JSON: type, resolution, expected, received,
-- refund), set by the merchant's payment policy.
ALTER TABLE payment_intents ADD COLUMN amount_refunded TEXT NOT NULL DEFAULT '0';
ALTER TABLE payment_intents ADD COLUMN payment_detail TEXT;

-- Per merchant and mode: settlement schedule and payment policy (JSON, validated by the API).
-- `balance_version` is bumped by every reservation of the merchant's balance (refunds and
-- payouts) inside the reserving transaction: the row lock serializes reservations, so two
-- cannot both spend the same balance.
CREATE TABLE merchant_settings (
    merchant_id      TEXT NOT NULL REFERENCES merchants(id),
    livemode         BIGINT NOT NULL,
    settings         TEXT NOT NULL,
    balance_version  BIGINT NOT NULL DEFAULT 0,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (merchant_id, livemode)
);

-- A refund is recorded (with its balance reservation) before its transfer is signed; the
-- transfer is the chain leg ('refund', id), so it is sent at most once.
CREATE TABLE refunds (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    livemode           BIGINT NOT NULL,
    payment_intent_id  TEXT NOT NULL REFERENCES payment_intents(id),
    -- Whole units of `asset` (CAIP-19), on `chain_id`.
    amount             TEXT NOT NULL,
    asset              TEXT NOT NULL,
    chain_id           TEXT NOT NULL,
    destination        TEXT NOT NULL,
    -- requested_by_customer | duplicate | fraudulent | overpaid | underpaid | late
    reason             TEXT NOT NULL,
    -- pending | succeeded | failed
    status             TEXT NOT NULL,
    failure_code       TEXT,
    tx_hash            TEXT,
    -- api key id, or `policy`
    created_by         TEXT NOT NULL,
    metadata           TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX refunds_intent ON refunds(payment_intent_id);
CREATE INDEX refunds_status ON refunds(status);
CREATE INDEX refunds_merchant ON refunds(merchant_id, livemode, id);

-- A payout moves a merchant's held balance of one asset to its settlement address in one
-- transfer. Above the merchant's approval limit it waits for a second key (maker-checker).
CREATE TABLE payouts (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL,
    livemode       BIGINT NOT NULL,
    amount         TEXT NOT NULL,
    asset          TEXT NOT NULL,
    chain_id       TEXT NOT NULL,
    destination    TEXT NOT NULL,
    -- pending_approval | pending | in_transit | paid | failed | blocked | canceled
    status         TEXT NOT NULL,
    -- `schedule`, or the api key / operator that asked for it
    created_by     TEXT NOT NULL,
    approved_by    TEXT,
    approved_at    BIGINT,
    failure_code   TEXT,
    tx_hash        TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX payouts_status ON payouts(status);
CREATE INDEX payouts_merchant ON payouts(merchant_id, livemode, id);
