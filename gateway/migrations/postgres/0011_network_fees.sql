-- What each of the gateway's own transactions paid for gas once mined, in wei (decimal
-- string): the ledger's `network_fee` postings come from it.
ALTER TABLE chain_transfers ADD COLUMN fee_wei TEXT;

-- What an exchange did for the payer (the conversion trade's fills and fee, the withdrawal
-- fee), as JSON: the ledger's `conversion` and `fee` postings come from it.
ALTER TABLE exchange_accounts ADD COLUMN conversion TEXT;

-- Until when one gateway instance holds a refund or payout whose transfer is not recorded yet
-- (screening the destination, then recording the leg): another instance neither sends nor
-- refuses it meanwhile.
ALTER TABLE refunds ADD COLUMN claimed_until BIGINT;
ALTER TABLE payouts ADD COLUMN claimed_until BIGINT;
