-- The on-chain transaction (and its block) that delivered a confirmed route leg's output (a venue's
-- withdrawal, a swap, a bridge's mint, a transfer): shown on the execution's receipt and
-- expected by reconciliation runs.
ALTER TABLE route_legs ADD COLUMN tx_hash TEXT;
ALTER TABLE route_legs ADD COLUMN block_number BIGINT;
