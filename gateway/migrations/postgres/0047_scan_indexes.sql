-- Indexes for scans that grew with history (issue 21, point 7: found in the settlement load
-- benchmark's query plans).

-- The chain worker's "funded intents on this chain" probe (`chain_funded_intents`) checks,
-- per intent, for a confirmed payment transaction on the chain. With the intent-only index,
-- SQLite's planner probed by (chain_id, status) instead and walked every confirmed
-- transaction of the chain for each intent: quadratic in the chain's history. With the chain
-- and status in the intent's index, the probe is one index seek.
DROP INDEX payment_transactions_intent;
CREATE INDEX payment_transactions_intent ON payment_transactions(payment_intent_id, chain_id, status);

-- Erasing finished exchange accounts' credentials starts from the accounts not erased yet,
-- not from every finished payment intent (the statement holds the writer).
CREATE INDEX exchange_accounts_to_erase ON exchange_accounts(payment_intent_id)
    WHERE erased_at IS NULL AND keep_credentials = 0;

-- A merchant's intents listed by status (`GET /v1/payment_intents?status=…`): a seek instead
-- of walking all the merchant's intents newest first until the page is full.
CREATE INDEX payment_intents_by_status ON payment_intents(merchant_id, livemode, status, id);
