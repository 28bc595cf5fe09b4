-- Exchange accounts payers link to a payment: credentials sealed (XChaCha20-Poly1305 under the
-- master key) and erased when the payment ends unless the payer asked to keep them; the venue
-- legs (conversion order, withdrawal) are named before they are sent, so a retry looks them
-- up instead of sending twice.
CREATE TABLE exchange_accounts (
    id                   TEXT PRIMARY KEY,
    payment_intent_id    TEXT NOT NULL REFERENCES payment_intents(id),
    merchant_id          TEXT NOT NULL,
    livemode             BIGINT NOT NULL,
    venue                TEXT NOT NULL,
    -- Empty once erased.
    sealed_credentials   TEXT NOT NULL,
    keep_credentials     BIGINT NOT NULL,
    order_leg            TEXT NOT NULL,
    withdrawal_leg       TEXT NOT NULL,
    -- pending | submitted | withdrawn (tx hash known) | failed
    status               TEXT NOT NULL,
    venue_withdrawal_id  TEXT,
    tx_hash              TEXT,
    failure              TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    erased_at            BIGINT
);
CREATE INDEX exchange_accounts_intent ON exchange_accounts(payment_intent_id);
CREATE INDEX exchange_accounts_status ON exchange_accounts(status);
-- At most one live attempt per intent: a retried or concurrent link reuses its legs.
CREATE UNIQUE INDEX exchange_accounts_one_open ON exchange_accounts(payment_intent_id)
    WHERE status <> 'failed';
