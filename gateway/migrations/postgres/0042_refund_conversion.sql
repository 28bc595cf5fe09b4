-- Refunds in another asset: the refund's locked conversion quote and its legs' progress (JSON,
-- `rialto_engine::refund_convert::RefundConversion`); NULL for a refund in the asset received.
ALTER TABLE refunds ADD COLUMN conversion TEXT;
-- The payer's deposit address at the venue, as the venue answered when the account was
-- linked (an address, not a secret): where a refund of an exchange payment goes by default.
ALTER TABLE exchange_accounts ADD COLUMN deposit_address TEXT;
