//! Quotes the router gave payers (see `gateway/src/routing`).

use async_trait::async_trait;
use rialto_core::id::{MerchantId, PaymentIntentId};
use rialto_router::FundingPlan;
use serde::{Deserialize, Serialize};

pub use crate::routing::execute::{Funding, LegSpec};

use super::{CasOutcome, IdempotencyRecord, StoreError};

/// One stored quote: the API object as JSON, with what accepting it checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRecord {
    /// `qt_…`.
    pub id: String,
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub status: QuoteStatus,
    /// The quote object as the API answered it.
    pub body: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
    /// The route it was priced on, with the graph the route's indices refer to (JSON
    /// [`crate::routing::StoredRoute`]): what the lock and the execution need after a restart.
    pub route: Option<String>,
}

/// Where a quote stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuoteStatus {
    /// Can be accepted until it expires.
    Open,
    /// Accepted: its execution runs.
    Accepted,
    /// Past its expiry, never accepted.
    Expired,
}

impl QuoteStatus {
    const ALL: [QuoteStatus; 3] = [
        QuoteStatus::Open,
        QuoteStatus::Accepted,
        QuoteStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuoteStatus::Open => "open",
            QuoteStatus::Accepted => "accepted",
            QuoteStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for QuoteStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a compare-and-set accept found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptOutcome {
    Accepted,
    /// This quote, or another quote of the same intent, is already accepted.
    AlreadyAccepted,
    /// Past its expiry (now marked `expired`).
    Expired,
    NotFound,
}

#[async_trait]
pub trait QuoteStore: Send + Sync + 'static {
    async fn create_quotes(&self, quotes: &[QuoteRecord]) -> Result<(), StoreError>;

    async fn get_quote(&self, id: &str) -> Result<Option<QuoteRecord>, StoreError>;

    /// Moves the quote from `open` to `accepted` if it has not expired at `now` (Unix seconds)
    /// and no other quote of its intent is accepted: a compare-and-set, so two concurrent
    /// accepts cannot both win.
    async fn accept_quote(&self, id: &str, now: i64) -> Result<AcceptOutcome, StoreError>;

    /// Accepts the quote (the compare-and-set of [`QuoteStore::accept_quote`]) and stores its
    /// execution, with the request's idempotency record, in one transaction: a quote is never
    /// accepted without its execution.
    async fn accept_and_start(
        &self,
        quote_id: &str,
        now: i64,
        execution: &RouteExecution,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<AcceptOutcome, StoreError>;

    async fn get_execution(&self, id: &str) -> Result<Option<RouteExecution>, StoreError>;

    /// The executions of an intent, newest first.
    async fn executions_of(
        &self,
        intent: &PaymentIntentId,
    ) -> Result<Vec<RouteExecution>, StoreError>;

    /// Executions in `statuses` due at `now_ms` and not claimed by another instance.
    async fn due_executions(
        &self,
        statuses: &[ExecutionStatus],
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<RouteExecution>, StoreError>;

    /// Executions in `statuses` whatever their schedule or claim, newest first (by id),
    /// after `starting_after` when given, at most `limit` (the operators' list).
    async fn executions_in(
        &self,
        statuses: &[ExecutionStatus],
        starting_after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RouteExecution>, StoreError>;

    /// One step: the execution (compare-and-set on `expected_version`; the stored version
    /// becomes `execution.version`), legs inserted or updated, the request's idempotency
    /// record and the step's ledger postings, all in one transaction.
    async fn save_execution_step(
        &self,
        execution: &RouteExecution,
        expected_version: i64,
        legs: &[RouteLegRecord],
        idempotency: Option<&IdempotencyRecord>,
        postings: &[crate::ledger::Posting],
    ) -> Result<CasOutcome, StoreError>;

    /// Takes the execution for `until_ms` unless another instance holds it.
    async fn claim_execution(
        &self,
        id: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Gives an accepted quote up (it becomes `expired`), so its intent can accept another:
    /// for an execution that ended before any money moved.
    async fn release_quote(&self, id: &str) -> Result<(), StoreError>;

    /// Lets other instances take the execution again, if this instance's claim (until
    /// `until_ms`) is still the one held.
    async fn release_execution(&self, id: &str, until_ms: i64) -> Result<(), StoreError>;

    /// The legs of an execution, in order.
    async fn route_legs(&self, execution: &str) -> Result<Vec<RouteLegRecord>, StoreError>;

    /// Confirmed legs with an on-chain transaction, by id after `after`, each with its
    /// execution's merchant and mode (for reconciliation).
    async fn confirmed_route_legs_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OwnedRouteLeg>, StoreError>;

    /// Executions whose funding transfer is bound (`funding_ref` set), by id after `after`.
    async fn funded_executions_page(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FundedExecution>, StoreError>;
}

/// A route leg with its execution's merchant and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRouteLeg {
    pub leg: RouteLegRecord,
    pub merchant_id: String,
    pub livemode: bool,
}

/// An execution's funding, once a transfer is bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundedExecution {
    pub id: String,
    pub merchant_id: String,
    pub livemode: bool,
    pub funding: Funding,
    pub created_at_ms: i64,
}

/// Where a route execution stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    /// Accepted; the payer's exchange account is being screened and linked.
    Starting,
    /// A wallet payer has yet to fund it.
    AwaitingFunds,
    /// Legs are being sent.
    Running,
    /// A leg's outcome is unknown: the plan waits for reconciliation.
    AwaitingReconciliation,
    /// Held for a compliance review.
    Held,
    /// Blocked by compliance: the funds stay where they are.
    Frozen,
    Succeeded,
    Failed,
    /// It gave up and the payer's funds could not be sent back: held for an operator.
    ReturnFailed,
}

impl ExecutionStatus {
    const ALL: [ExecutionStatus; 9] = [
        ExecutionStatus::Starting,
        ExecutionStatus::AwaitingFunds,
        ExecutionStatus::Running,
        ExecutionStatus::AwaitingReconciliation,
        ExecutionStatus::Held,
        ExecutionStatus::Frozen,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::ReturnFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Starting => "starting",
            ExecutionStatus::AwaitingFunds => "awaiting_funds",
            ExecutionStatus::Running => "running",
            ExecutionStatus::AwaitingReconciliation => "awaiting_reconciliation",
            ExecutionStatus::Held => "held",
            ExecutionStatus::Frozen => "frozen",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::ReturnFailed => "return_failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one route leg stands (DESIGN.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteLegStatus {
    /// Stored, not sent yet.
    Created,
    /// Being sent: a crash here means asking the venue or chain before sending again.
    Sending,
    Submitted,
    Confirmed,
    Failed,
    /// Sent, and no answer for too long: reconciliation decides, never a resend.
    Unknown,
}

impl RouteLegStatus {
    const ALL: [RouteLegStatus; 6] = [
        RouteLegStatus::Created,
        RouteLegStatus::Sending,
        RouteLegStatus::Submitted,
        RouteLegStatus::Confirmed,
        RouteLegStatus::Failed,
        RouteLegStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RouteLegStatus::Created => "created",
            RouteLegStatus::Sending => "sending",
            RouteLegStatus::Submitted => "submitted",
            RouteLegStatus::Confirmed => "confirmed",
            RouteLegStatus::Failed => "failed",
            RouteLegStatus::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for RouteLegStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a route leg does: the router's leg kinds, the settlement transfer, and the transfers
/// that give a payer's money back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteLegKind {
    Trade,
    Withdrawal,
    DexSwap,
    /// Chainlink CCIP (`ccip`).
    Ccip,
    Bridge,
    Transfer,
    /// The final transfer to the merchant's settlement address.
    Settlement,
    /// The payer's money back after the route gave up.
    Return,
    /// An over-payment's surplus back to the payer, once the merchant is paid.
    SurplusReturn,
    /// An issuing bank's mint of the deposit token (`issuer_mint`).
    IssuerMint,
    /// An issuing bank's redemption (`issuer_redeem`; priced, not driven yet).
    IssuerRedeem,
}

impl RouteLegKind {
    const ALL: [RouteLegKind; 11] = [
        RouteLegKind::Trade,
        RouteLegKind::Withdrawal,
        RouteLegKind::DexSwap,
        RouteLegKind::Ccip,
        RouteLegKind::Bridge,
        RouteLegKind::Transfer,
        RouteLegKind::Settlement,
        RouteLegKind::Return,
        RouteLegKind::SurplusReturn,
        RouteLegKind::IssuerMint,
        RouteLegKind::IssuerRedeem,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RouteLegKind::Trade => "trade",
            RouteLegKind::Withdrawal => "withdrawal",
            RouteLegKind::DexSwap => "dex_swap",
            RouteLegKind::Ccip => "ccip",
            RouteLegKind::Bridge => "bridge",
            RouteLegKind::Transfer => "transfer",
            RouteLegKind::Settlement => "settlement",
            RouteLegKind::Return => "return",
            RouteLegKind::SurplusReturn => "surplus_return",
            RouteLegKind::IssuerMint => "issuer_mint",
            RouteLegKind::IssuerRedeem => "issuer_redeem",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The leg kind of one of the router's legs.
    pub fn of_router(kind: rialto_router::LegKind) -> Self {
        match kind {
            rialto_router::LegKind::Trade => RouteLegKind::Trade,
            rialto_router::LegKind::Withdrawal => RouteLegKind::Withdrawal,
            rialto_router::LegKind::DexSwap => RouteLegKind::DexSwap,
            rialto_router::LegKind::Ccip => RouteLegKind::Ccip,
            rialto_router::LegKind::Bridge => RouteLegKind::Bridge,
            rialto_router::LegKind::Transfer => RouteLegKind::Transfer,
            rialto_router::LegKind::IssuerMint => RouteLegKind::IssuerMint,
            rialto_router::LegKind::IssuerRedeem => RouteLegKind::IssuerRedeem,
        }
    }

    /// A transfer that gives the payer's money back.
    pub fn is_return(self) -> bool {
        matches!(self, RouteLegKind::Return | RouteLegKind::SurplusReturn)
    }
}

impl std::fmt::Display for RouteLegKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The execution of one accepted quote (see `gateway/src/routing/execute.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteExecution {
    /// `rx_…`.
    pub id: String,
    pub quote_id: String,
    pub payment_intent_id: PaymentIntentId,
    pub merchant_id: MerchantId,
    pub livemode: bool,
    pub status: ExecutionStatus,
    /// Where the payer's money comes from (stored as JSON).
    pub funding: Funding,
    pub funding_ref: Option<String>,
    /// The router's plan, once started (stored as JSON).
    pub plan: Option<FundingPlan>,
    /// JSON [`crate::routing::StoredRoute`]: the quote's priced route and the market graph its
    /// indices refer to, kept as the snapshot it was priced on (the plan's node and edge
    /// indices point into it).
    pub graph: String,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub returned: Option<String>,
    pub version: i64,
    pub next_at_ms: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One leg, stored before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLegRecord {
    /// `leg_…`: the idempotency key the venue or chain sees.
    pub id: String,
    pub execution_id: String,
    pub seq: i64,
    pub kind: RouteLegKind,
    pub venue: String,
    pub from_node: String,
    pub to_node: String,
    pub input: String,
    pub topup: String,
    pub min_output: String,
    /// What the leg sends (stored as JSON).
    pub spec: LegSpec,
    pub status: RouteLegStatus,
    pub received: Option<String>,
    pub failure: Option<String>,
    pub external_ref: Option<String>,
    pub not_before_ms: i64,
    pub created_at_ms: i64,
    pub submitted_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// The transaction that delivered a confirmed leg's output on chain, and its block.
    pub tx_hash: Option<String>,
    pub block_number: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::RouteLegKind;

    #[test]
    fn leg_kinds_round_trip_their_stored_names() {
        for kind in RouteLegKind::ALL {
            assert_eq!(RouteLegKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert_eq!(RouteLegKind::parse("teleport"), None);
    }

    #[test]
    fn quote_statuses_round_trip_their_stored_names() {
        use super::QuoteStatus;
        for status in QuoteStatus::ALL {
            assert_eq!(QuoteStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(QuoteStatus::parse("closed"), None);
    }
}
