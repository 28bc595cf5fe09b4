-- Maker-checker on the settings that decide where money may go without a second key: raising
-- or removing `payout_approval_above`, or changing `payout_addresses`, waits here as a pending
-- change until a key of another custody or an operator approves it (or, when the gateway is
-- configured with a delay, until `effective_at` passes).
CREATE TABLE settings_changes (
    id                 TEXT PRIMARY KEY,
    merchant_id        TEXT NOT NULL REFERENCES merchants(id),
    livemode           BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'canceled')),
    -- JSON: {"payout_approval_above": "…" | null, "payout_addresses": {…}}
    change_json        TEXT NOT NULL,
    -- `key:key_…`: the key that asked; its custody decides who may approve.
    requested_by       TEXT NOT NULL,
    requested_custody  TEXT NOT NULL,
    -- `key:key_…` or `operator:name`, or `delay` when the delay applied it.
    approved_by        TEXT,
    -- Unix ms after which the change applies by itself; NULL: only an approval applies it.
    effective_at       BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX settings_changes_merchant ON settings_changes(merchant_id, livemode, id);
CREATE INDEX settings_changes_due ON settings_changes(status, effective_at);
