-- Misdirected deposits converted through the router (issue 20, point 4; docs/evm.md,
-- "Misdirected deposits"): the route execution (`rx_…`) the swept deposit funds. New statuses
-- (text, no constraint): `converting` (swept toward the hot wallet) and `converted` (handed to
-- the route execution).
ALTER TABLE misdirected_deposits ADD COLUMN route_execution_id TEXT;
