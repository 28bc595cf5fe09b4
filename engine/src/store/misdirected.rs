//! Misdirected deposits: funds that reached a deposit address but pay nothing of its intent
//! (another token, the native coin, the intent's token on another chain at the same address,
//! not the intent's own token on its own chain: that one, arriving after the sweep, stays
//! reconciliation's unexpected inflow). Issue 20, point 4; `crate::chain::misdirected`
//! runs them, docs/evm.md has the protocol.
//!
//! A row is recorded once per on-chain movement (chain, transaction, log index; `-1` for a
//! native transfer) and never credits its intent. Every status move is a compare-and-set on
//! the row's status, with its ledger postings in the same transaction, so two gateways never
//! return one deposit twice and a crash between deciding and booking leaves neither half.

use async_trait::async_trait;
use rialto_core::id::PaymentIntentId;

use super::StoreError;
use crate::ledger::Posting;

/// What arrived, against what the deposit address was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MisdirectedKind {
    /// A token the chain knows, not the intent's settlement token.
    OtherToken,
    /// The chain's native coin.
    Native,
    /// The intent's token (or any known token) on another configured chain of the family, at
    /// the same address.
    WrongChain,
}

impl MisdirectedKind {
    pub const ALL: [MisdirectedKind; 3] = [
        MisdirectedKind::OtherToken,
        MisdirectedKind::Native,
        MisdirectedKind::WrongChain,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MisdirectedKind::OtherToken => "other_token",
            MisdirectedKind::Native => "native",
            MisdirectedKind::WrongChain => "wrong_chain",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Where a misdirected deposit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MisdirectedStatus {
    /// Seen on chain; waits for its confirmations, then for the sender's screening.
    Detected,
    /// Booked and decided for conversion: swept from the deposit address to the chain's hot
    /// wallet (gas and sweep legs recorded before they are sent), then handed to a route
    /// execution into its intent's settlement.
    Converting,
    /// Handed to the route execution `route_execution_id` (which pays the merchant, or returns
    /// what it holds to the sender when it cannot).
    Converted,
    /// Booked and decided: its return legs are recorded (or about to be) and on their way.
    Returning,
    /// Back with the sender, less the network cost recorded on the row.
    Returned,
    /// Cannot be resolved automatically (`reason` says why): an operator returns it or
    /// writes it off.
    NeedsOperator,
    /// An operator wrote it off (`reason`); the funds stay where they are.
    WrittenOff,
}

impl MisdirectedStatus {
    pub const ALL: [MisdirectedStatus; 7] = [
        MisdirectedStatus::Detected,
        MisdirectedStatus::Converting,
        MisdirectedStatus::Converted,
        MisdirectedStatus::Returning,
        MisdirectedStatus::Returned,
        MisdirectedStatus::NeedsOperator,
        MisdirectedStatus::WrittenOff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MisdirectedStatus::Detected => "detected",
            MisdirectedStatus::Converting => "converting",
            MisdirectedStatus::Converted => "converted",
            MisdirectedStatus::Returning => "returning",
            MisdirectedStatus::Returned => "returned",
            MisdirectedStatus::NeedsOperator => "needs_operator",
            MisdirectedStatus::WrittenOff => "written_off",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// One misdirected deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisdirectedDeposit {
    /// `md_` and a time-ordered body.
    pub id: String,
    /// CAIP-2 of the chain the funds arrived on (for `wrong_chain`, not the intent's).
    pub chain_id: String,
    pub livemode: bool,
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: String,
    /// The deposit address, as the chain writes it.
    pub address: String,
    pub kind: MisdirectedKind,
    /// Token contract; `None` for the native coin.
    pub token: Option<String>,
    /// CAIP-19 of what arrived, when the registry knows it.
    pub asset: Option<String>,
    /// Base units of what arrived.
    pub amount_units: u128,
    pub sender: String,
    pub tx_hash: String,
    /// The transfer log's index; `-1` for a native transfer (one per transaction).
    pub log_index: i64,
    pub block_number: i64,
    pub status: MisdirectedStatus,
    /// Why an operator is needed, or why it was written off.
    pub reason: Option<String>,
    /// Where the return goes (the sender unless an operator named another address).
    pub return_to: Option<String>,
    /// What the return's network cost took, in base units of what arrived: the sender gets
    /// `amount_units - network_cost_units`.
    pub network_cost_units: Option<u128>,
    pub returned_units: Option<u128>,
    /// Who resolved it by hand (`operator:<name>`).
    pub resolved_by: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The route execution (`rx_…`) a converted deposit funds.
    pub route_execution_id: Option<String>,
}

/// A status move of a misdirected deposit: the fields it sets beside the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MisdirectedUpdate {
    pub reason: Option<String>,
    pub return_to: Option<String>,
    pub network_cost_units: Option<u128>,
    pub returned_units: Option<u128>,
    pub resolved_by: Option<String>,
    pub route_execution_id: Option<String>,
}

#[async_trait]
pub trait MisdirectedStore: Send + Sync + 'static {
    /// Records `row` unless its movement (chain, transaction, log index) is recorded already;
    /// `true` when it was new. Idempotent: a rescan after a reorg check finds the same row.
    async fn record_misdirected(&self, row: &MisdirectedDeposit) -> Result<bool, StoreError>;

    async fn get_misdirected(&self, id: &str) -> Result<Option<MisdirectedDeposit>, StoreError>;

    /// Rows of `chain_id` in `status`, oldest first.
    async fn misdirected_in(
        &self,
        chain_id: &str,
        status: MisdirectedStatus,
        limit: u32,
    ) -> Result<Vec<MisdirectedDeposit>, StoreError>;

    /// Every row of a mode (all statuses when `status` is `None`), newest first, after the row
    /// `starting_after` in that order.
    async fn list_misdirected(
        &self,
        livemode: bool,
        status: Option<MisdirectedStatus>,
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<MisdirectedDeposit>, StoreError>;

    /// Every row on `chain_id` (reconciliation explains their inflows).
    async fn misdirected_on(&self, chain_id: &str) -> Result<Vec<MisdirectedDeposit>, StoreError>;

    /// Moves row `id` from `expected` to `next` with `update`'s fields (a `None` keeps the
    /// stored value) and inserts `postings`, in one transaction: `false` (nothing written)
    /// when the row was not in `expected` any more.
    async fn move_misdirected(
        &self,
        id: &str,
        expected: MisdirectedStatus,
        next: MisdirectedStatus,
        update: &MisdirectedUpdate,
        postings: &[Posting],
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Deposit addresses on chains whose CAIP-2 id starts with `namespace_prefix`
    /// (`eip155:`) whose intent is of `livemode`, whatever its status: the same EVM address
    /// exists on every EVM chain, so funds on any of them are someone's misdirected deposit.
    async fn deposit_addresses_in_family(
        &self,
        namespace_prefix: &str,
        livemode: bool,
    ) -> Result<Vec<super::chain::DepositAddress>, StoreError>;
}
