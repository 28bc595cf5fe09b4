-- What a payer tells about themselves before paying (POST /v1/payment_intents/{id}/payer_details):
-- name, country, identifiers and IVMS101 travel-rule data, passed to screening when the funds
-- arrive. Stored sealed under the master key (bound to this row), shown only to operators.
CREATE TABLE payer_details (
    payment_intent_id TEXT   NOT NULL PRIMARY KEY,
    merchant_id       TEXT   NOT NULL REFERENCES merchants(id),
    livemode          BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    sealed            TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
