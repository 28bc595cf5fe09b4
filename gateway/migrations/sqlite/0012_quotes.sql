-- Quotes the router gave a payer for a payment intent (POST /v1/payment_intents/{id}/quotes):
-- the API object as JSON, its expiry (Unix seconds) and its status. Accepting is a
-- compare-and-set on status = 'open', and at most one quote per intent is ever accepted.
CREATE TABLE quotes (
    id                   TEXT PRIMARY KEY,
    payment_intent_id    TEXT NOT NULL REFERENCES payment_intents(id),
    merchant_id          TEXT NOT NULL,
    livemode             INTEGER NOT NULL,
    -- open | accepted | expired
    status               TEXT NOT NULL,
    body                 TEXT NOT NULL,
    expires_at           INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    accepted_at          INTEGER
);
CREATE INDEX quotes_intent ON quotes(payment_intent_id);
CREATE UNIQUE INDEX quotes_one_accepted ON quotes(payment_intent_id) WHERE status = 'accepted';
