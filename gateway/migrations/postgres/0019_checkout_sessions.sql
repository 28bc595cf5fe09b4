-- Hosted checkout sessions: a page a shopper opens with `token` (random, unique, never the
-- id) to pay one payment intent. Complete / expired are read from the intent; the session
-- stores only open | canceled.
CREATE TABLE checkout_sessions (
    id                 TEXT PRIMARY KEY,
    token              TEXT NOT NULL UNIQUE,
    merchant_id        TEXT NOT NULL,
    livemode           BIGINT NOT NULL,
    payment_intent_id  TEXT NOT NULL REFERENCES payment_intents(id),
    success_url        TEXT NOT NULL,
    cancel_url         TEXT NOT NULL,
    -- en | de
    locale             TEXT NOT NULL,
    -- JSON array of {name, quantity, unit_amount}
    line_items         TEXT NOT NULL,
    -- open | canceled
    status             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    canceled_at        BIGINT
);
CREATE INDEX checkout_sessions_intent ON checkout_sessions(payment_intent_id);
