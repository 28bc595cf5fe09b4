-- x402 payments settled through the facilitator (POST /v1/x402/settle): one row per EIP-3009
-- authorization, claimed before it is relayed. The primary key is the replay guard: the same
-- payment header is settled once, even while its first relay is not mined yet.
CREATE TABLE x402_payments (
    network           TEXT   NOT NULL, -- CAIP-2, e.g. eip155:8453
    asset             TEXT   NOT NULL, -- token contract, lower case
    payer             TEXT   NOT NULL, -- authorization.from, lower case
    nonce             TEXT   NOT NULL, -- authorization.nonce, lower case 0x + 64 hex
    merchant_id       TEXT   NOT NULL REFERENCES merchants(id),
    livemode          BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    payment_intent_id TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (network, asset, payer, nonce)
);
CREATE INDEX x402_payments_intent ON x402_payments(payment_intent_id);
