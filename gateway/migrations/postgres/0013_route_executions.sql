-- Executing accepted quotes (SmartFunding router). A quote keeps the route it was priced on
-- and the market graph that route's indices refer to, so a lock survives a restart.
ALTER TABLE quotes ADD COLUMN route TEXT;

-- One execution per accepted quote: the router's plan (JSON, with its graph) is stored after
-- every step, compare-and-set on version, so a restarted or second gateway carries on from
-- exactly where the last step left it.
CREATE TABLE route_executions (
    id                   TEXT PRIMARY KEY,
    quote_id             TEXT NOT NULL UNIQUE REFERENCES quotes(id),
    payment_intent_id    TEXT NOT NULL REFERENCES payment_intents(id),
    merchant_id          TEXT NOT NULL,
    livemode             BIGINT NOT NULL,
    -- awaiting_funds | running | awaiting_reconciliation | held | succeeded | failed
    status               TEXT NOT NULL,
    -- JSON: where the payer's money comes from (exchange account or wallet)
    funding              TEXT NOT NULL,
    -- The wallet funding transaction (chain:tx hash), bound to one execution only.
    funding_ref          TEXT UNIQUE,
    plan                 TEXT,
    graph                TEXT NOT NULL,
    failure_code         TEXT,
    failure_message      TEXT,
    -- JSON: where the payer's funds went back from, on a give-up
    returned             TEXT,
    version              BIGINT NOT NULL,
    next_at_ms           BIGINT NOT NULL,
    claimed_until        BIGINT NOT NULL DEFAULT 0,
    created_at_ms        BIGINT NOT NULL,
    updated_at_ms        BIGINT NOT NULL
);
CREATE INDEX route_executions_due ON route_executions(status, next_at_ms);
CREATE INDEX route_executions_intent ON route_executions(payment_intent_id);

-- Every leg, recorded before it is sent: its id is the idempotency key the venue or chain
-- sees (client order id, withdrawal reference, rail leg reference).
CREATE TABLE route_legs (
    id                   TEXT PRIMARY KEY,
    execution_id         TEXT NOT NULL REFERENCES route_executions(id),
    seq                  BIGINT NOT NULL,
    -- trade | withdrawal | dex_swap | cctp_bridge | bridge | transfer | settlement | return
    kind                 TEXT NOT NULL,
    venue                TEXT NOT NULL,
    from_node            TEXT NOT NULL,
    to_node              TEXT NOT NULL,
    input                TEXT NOT NULL,
    topup                TEXT NOT NULL,
    min_output           TEXT NOT NULL,
    -- JSON: what the driver sends
    spec                 TEXT NOT NULL,
    -- created | submitted | confirmed | failed | unknown
    status               TEXT NOT NULL,
    received             TEXT,
    failure              TEXT,
    external_ref         TEXT,
    not_before_ms        BIGINT NOT NULL,
    created_at_ms        BIGINT NOT NULL,
    submitted_at_ms      BIGINT,
    finished_at_ms       BIGINT,
    UNIQUE (execution_id, seq)
);
