-- Solana Pay: each intent settling on Solana carries a fresh reference key in its payment
-- request, and the watcher finds its payment on chain by that key alone. The UNIQUE index is
-- the guard that one key can never name two intents (NULLs, intents without a key, do not
-- collide).
ALTER TABLE payment_intents ADD COLUMN payment_reference TEXT;
CREATE UNIQUE INDEX payment_intents_reference ON payment_intents(payment_reference);
