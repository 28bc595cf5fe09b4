-- Events (what happened to a merchant's objects, append-only) and their webhook outbox.
CREATE TABLE events (
    id            TEXT PRIMARY KEY,
    merchant_id   TEXT NOT NULL REFERENCES merchants(id),
    livemode      BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    type          TEXT NOT NULL,
    -- The object as the API showed it when the event happened (JSON text).
    object_json   TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX events_listing ON events(merchant_id, livemode, id);

-- Events not yet fanned out to webhook endpoints: a narrow queue, written with the event and
-- deleted once its deliveries exist, so the wide events rows are never updated. Only events of
-- a merchant that has an enabled endpoint in that mode are queued, decided in the same
-- statement as the event: an endpoint committed later did not exist when the event happened.
CREATE TABLE event_outbox (
    event_id     TEXT PRIMARY KEY REFERENCES events(id),
    merchant_id  TEXT NOT NULL,
    livemode     BIGINT NOT NULL,
    type         TEXT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL REFERENCES merchants(id),
    livemode        BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    url             TEXT NOT NULL,
    description     TEXT,
    -- JSON array of event types, or ["*"].
    enabled_events  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    -- The signing secret, encrypted with the gateway's master key (never stored in clear).
    secret_sealed   TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints(merchant_id, livemode, id);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events(id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints(id),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    -- A worker holds a delivery until this time; after it, another worker may take it over.
    locked_until     BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);

CREATE TABLE webhook_attempts (
    id            TEXT PRIMARY KEY,
    delivery_id   TEXT NOT NULL REFERENCES webhook_deliveries(id),
    attempted_at  BIGINT NOT NULL,
    status_code   BIGINT,
    error         TEXT,
    duration_ms   BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, id);
