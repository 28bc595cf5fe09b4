-- Compliance: operator keys, screening decisions and review cases, the hash-chained audit log,
-- custom block/allow lists, per-merchant policies and the payment history the rules look at.

-- ISO 3166-1 alpha-2 of the merchant's jurisdiction (travel-rule threshold, blocked countries).
ALTER TABLE merchants ADD COLUMN country TEXT;

CREATE TABLE operator_keys (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- SHA-256 of the whole key; the key itself is never stored.
    key_hash    TEXT NOT NULL UNIQUE,
    key_hint    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

-- One row per screening decision (`cc_…`). Review and block decisions are cases: `open` until
-- an operator approves or rejects them; blocks are `frozen`; clear decisions are `closed`.
CREATE TABLE compliance_cases (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT REFERENCES merchants(id),
    livemode           BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    payment_intent_id  TEXT REFERENCES payment_intents(id),
    point              TEXT NOT NULL,
    outcome            TEXT NOT NULL CHECK (outcome IN ('clear', 'review', 'block')),
    status             TEXT NOT NULL CHECK (status IN ('closed', 'open', 'approved', 'rejected', 'frozen')),
    -- The decision with every finding and list version (internal: never shown to merchants).
    decision_json      TEXT NOT NULL,
    -- What was screened, so an approval can screen it again against the current lists.
    subject_json       TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    resolved_at        BIGINT,
    resolved_by        TEXT,
    resolution_note    TEXT
);
CREATE INDEX compliance_cases_status ON compliance_cases(status, id);
CREATE INDEX compliance_cases_intent ON compliance_cases(payment_intent_id);

-- Append-only, each record chained to the previous by hash (rialto_compliance::audit).
CREATE TABLE compliance_audit_log (
    seq        BIGINT PRIMARY KEY,
    id         TEXT NOT NULL,
    at_ms      BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);

-- Operator (`owner = 'operator'`) and merchant (`owner = mer_…`) block- and allow-lists.
CREATE TABLE compliance_list_entries (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('block', 'allow')),
    -- The normalised address (EVM lower-case hex), as the screener compares it.
    address     TEXT NOT NULL,
    note        TEXT,
    created_at  BIGINT NOT NULL,
    UNIQUE (owner, kind, address)
);
CREATE INDEX compliance_list_entries_address ON compliance_list_entries(address);

CREATE TABLE compliance_policies (
    merchant_id  TEXT PRIMARY KEY REFERENCES merchants(id),
    policy_json  TEXT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Payments that passed or await screening, valued in fiat, for velocity and volume rules.
CREATE TABLE compliance_payments (
    payment_intent_id  TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL,
    payer              TEXT NOT NULL,
    amount             TEXT NOT NULL,
    currency           TEXT NOT NULL,
    at_ms              BIGINT NOT NULL
);
CREATE INDEX compliance_payments_payer ON compliance_payments(merchant_id, payer, at_ms);
