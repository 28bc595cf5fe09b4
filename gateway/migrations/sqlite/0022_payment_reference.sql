-- Solana Pay: each intent settling on Solana carries a fresh reference key in its payment
-- request, and the watcher finds its payment on chain by that key alone. The UNIQUE index is
-- the guard that one key can never name two intents (NULLs, intents without a key, do not
-- collide).
ALTER TABLE payment_intents ADD COLUMN payment_reference TEXT;
CREATE UNIQUE INDEX payment_intents_reference ON payment_intents(payment_reference);

-- Intents are created through the view of migration 0003 (one atomic statement with their
-- event and idempotency record); it now carries the reference too.
DROP TRIGGER intent_creations_insert;
DROP VIEW intent_creations;

CREATE VIEW intent_creations AS
SELECT
    p.id, p.merchant_id, p.livemode, p.amount, p.currency, p.settlement_asset,
    p.settlement_address, p.status, p.description, p.metadata, p.client_secret, p.created_at,
    p.expires_at, p.canceled_at, p.cancellation_reason, p.version, p.updated_at,
    p.payment_reference,
    k.scope, k.idempotency_key, k.request_hash, k.response_status, k.response_body,
    k.created_at AS key_created_at, k.response_event_id,
    e.id AS event_id, e.type AS event_type, e.object_json AS event_object
FROM payment_intents p, idempotency_keys k, events e
WHERE 0;

CREATE TRIGGER intent_creations_insert INSTEAD OF INSERT ON intent_creations
BEGIN
    INSERT INTO payment_intents (id, merchant_id, livemode, amount, currency, settlement_asset,
        settlement_address, status, description, metadata, client_secret, created_at,
        expires_at, canceled_at, cancellation_reason, version, updated_at, payment_reference)
    VALUES (NEW.id, NEW.merchant_id, NEW.livemode, NEW.amount, NEW.currency,
        NEW.settlement_asset, NEW.settlement_address, NEW.status, NEW.description, NEW.metadata,
        NEW.client_secret, NEW.created_at, NEW.expires_at, NEW.canceled_at,
        NEW.cancellation_reason, NEW.version, NEW.updated_at, NEW.payment_reference);
    INSERT INTO events (id, merchant_id, livemode, type, object_json, created_at)
    VALUES (NEW.event_id, NEW.merchant_id, NEW.livemode, NEW.event_type, NEW.event_object,
        NEW.created_at);
    INSERT INTO event_outbox (event_id, merchant_id, livemode, type)
    SELECT NEW.event_id, NEW.merchant_id, NEW.livemode, NEW.event_type
    WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE merchant_id = NEW.merchant_id
        AND livemode = NEW.livemode AND status = 'enabled');
    INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, response_status,
        response_body, created_at, response_event_id)
    SELECT NEW.scope, NEW.idempotency_key, NEW.request_hash, NEW.response_status,
        NEW.response_body, NEW.key_created_at, NEW.response_event_id
    WHERE NEW.idempotency_key IS NOT NULL;
END;
