-- The FX lock of an intent priced in another unit than its settlement asset (a EUR intent
-- settling in USDC), as JSON: rate, amounts, the Chainlink rounds it was priced from, and when
-- it was locked and expires. Written with the intent's compare-and-set, so a lock never
-- replaces another one that funds were already judged against.
ALTER TABLE payment_intents ADD COLUMN fx_lock TEXT;
