-- The on-chain transaction that delivered a confirmed route leg's output (a venue's
-- withdrawal, a swap, a bridge's mint, a transfer): shown on the execution's receipt and
-- expected by reconciliation runs.
ALTER TABLE route_legs ADD COLUMN tx_hash TEXT;
