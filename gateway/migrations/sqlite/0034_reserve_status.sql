-- Proof of Reserve: the guard's last verdict per (mode, chain, asset), written compare-and-set
-- by the reserves worker of whichever instance reads first, so every instance halts and lifts
-- an asset together. Amounts are exact decimal text in the token's own unit.
CREATE TABLE reserve_status (
    livemode          BIGINT NOT NULL,
    chain_id          TEXT NOT NULL,
    asset             TEXT NOT NULL,
    status            TEXT NOT NULL,
    reserves          TEXT NOT NULL,
    supply            TEXT NOT NULL,
    report_updated_at BIGINT NOT NULL,
    checked_at        BIGINT NOT NULL,
    changed_at        BIGINT NOT NULL,
    PRIMARY KEY (livemode, chain_id, asset)
);
