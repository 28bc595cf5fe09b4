-- A reconciliation exception names the block (on Solana: the slot) of the transaction it is
-- about, so that an operator finds it on chain from the report alone: on Solana a signature
-- with no slot means asking an archive node, the slot means one getBlock.
ALTER TABLE reconciliation_exceptions ADD COLUMN block_number BIGINT;
