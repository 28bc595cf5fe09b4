-- Replacements of the gateway's own transactions: each leg's ladder of transactions at the
-- leg's nonce (speed-ups at higher fees, then a cancel), signed when the leg is recorded and
-- sent one by one while the leg stays unmined. Every hash that can land for a leg is here, so
-- whichever lands is recognised as the leg's; the landed one then becomes the leg's tx_hash.
CREATE TABLE chain_transfer_replacements (
    leg_id      TEXT NOT NULL REFERENCES chain_transfers(leg_id),
    seq         BIGINT NOT NULL,
    chain_id    TEXT NOT NULL,
    -- speed_up | cancel
    kind        TEXT NOT NULL,
    raw_tx      TEXT NOT NULL,
    tx_hash     TEXT NOT NULL,
    -- When it was first broadcast; NULL while held back.
    sent_at     BIGINT,
    PRIMARY KEY (leg_id, seq),
    UNIQUE (chain_id, tx_hash)
);
