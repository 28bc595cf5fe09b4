-- The SHA-256 of the canonical /settle request (its JSON with sorted keys) that claimed an x402
-- authorization. The x402 clients send no Idempotency-Key, so a /settle retried with the very
-- same request is recognised by this hash and answered with the first settlement; a different
-- request reusing the nonce is still refused. NULL for rows claimed before this column existed:
-- those are never replayed.
ALTER TABLE x402_payments ADD COLUMN request_sha256 TEXT;
