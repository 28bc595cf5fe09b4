-- Resuming a linked exchange account (a retried request, a second tab, a second gateway)
-- takes a lease first, like route executions: the one holder until claimed_until (ms) asks
-- the venue what was already sent and sends the rest; a dead holder's lease expires and the
-- next resume takes over. 0 = not held.
ALTER TABLE exchange_accounts ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
