-- What each of the gateway's own transactions paid for gas once mined, in wei (decimal
-- string): the ledger's `network_fee` postings come from it.
ALTER TABLE chain_transfers ADD COLUMN fee_wei TEXT;
