-- Every transaction that funds a wallet-sourced route execution (issue 20, point 3): the first
-- one (also `route_executions.funding_ref`) and each top-up of a short funding
-- (engine/src/routing/policy.rs). One transaction funds one execution only: the store inserts
-- an execution's refs with the step that binds them and refuses the step when one is bound
-- to another execution.
CREATE TABLE route_funding_transfers (
    funding_ref          TEXT PRIMARY KEY,
    execution_id         TEXT NOT NULL REFERENCES route_executions(id)
);
