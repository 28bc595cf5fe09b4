-- Rialto schema, SQLite flavour. Amounts are decimal strings in whole units (exact);
-- times are Unix milliseconds; flags are 0/1 integers so both backends share row mapping.
CREATE TABLE merchants (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    settlement_asset    TEXT,
    settlement_address  TEXT,
    created_at          BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    kind          TEXT NOT NULL CHECK (kind IN ('secret', 'publishable')),
    livemode      BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash      TEXT NOT NULL UNIQUE,
    key_hint      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys(merchant_id);

CREATE TABLE payment_intents (
    id                   TEXT PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants(id),
    livemode             BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    amount               TEXT NOT NULL,
    currency             TEXT NOT NULL,
    settlement_asset     TEXT NOT NULL,
    settlement_address   TEXT NOT NULL,
    status               TEXT NOT NULL,
    description          TEXT,
    metadata             TEXT NOT NULL,
    client_secret        TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    canceled_at          BIGINT,
    cancellation_reason  TEXT,
    version              BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX payment_intents_listing ON payment_intents(merchant_id, livemode, id);
CREATE INDEX payment_intents_expiry ON payment_intents(status, expires_at);

CREATE TABLE idempotency_keys (
    scope            TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    response_status  BIGINT NOT NULL,
    -- The response bytes; NULL when they are exactly the object of `response_event_id`
    -- (a create's response is its event's object), so they are stored once.
    response_body    TEXT,
    response_event_id TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (scope, idempotency_key),
    CHECK (response_body IS NOT NULL OR response_event_id IS NOT NULL)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys(created_at);
