-- Several named keys per merchant and mode, rolled with a grace period and revoked at once.
--
-- `custody` names the key a key descends from: a key made or rolled through the API by key K
-- has K's custody, so whoever holds K could hold it too. Maker-checker counts custodies, not
-- keys: a "second key" is one of another custody (issued by `rialto keys create`, which gives
-- a key a custody of its own). Keys from before this migration are each their own custody.
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN custody TEXT;
-- A rolled key keeps working until this instant (Unix ms); NULL: no end.
ALTER TABLE api_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE api_keys ADD COLUMN rolled_into TEXT;
CREATE INDEX api_keys_merchant_mode ON api_keys(merchant_id, livemode, id);

ALTER TABLE operator_keys ADD COLUMN expires_at BIGINT;
ALTER TABLE operator_keys ADD COLUMN rolled_into TEXT;
