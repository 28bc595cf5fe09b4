//! The bridge role: moving a stablecoin from Rialto's address on one chain to its address on
//! another.
//!
//! A bridge transfer is a small step machine whose state *is* its recorded rail legs: every
//! method is idempotent per route leg and safe to call again after a crash, and nothing is
//! sent twice. The caller's journal (its store) is passed in, so the bridge records its legs
//! before sending them without knowing the store. `rialto-evm` implements it with a devnet
//! stand-in (`DevnetBurnMint`, sandbox only) and `CcipBridge` (Chainlink CCIP's router); [`relay::DevnetRelay`] is the
//! chain-agnostic devnet stand-in that carries USDC between chain families (Solana ↔ EVM);
//! [`set::BridgeSet`] serves every lane of several bridges as one.
//!
//! # Layout
//! - this file: [`Bridge`], [`BridgeLane`], [`BridgeTransfer`], [`BridgeStatus`],
//!   [`BridgeError`].
//! - [`relay`]: [`relay::DevnetRelay`], the devnet relayer stand-in over any two `ChainNode`s.
//! - [`set`]: [`set::BridgeSet`], several bridges behind the one role.

pub mod relay;
pub mod set;

use std::fmt;

use async_trait::async_trait;
use rust_decimal::Decimal;

use crate::chain::ChainError;
use crate::rail::{JournalError, RailError, RailJournal};

/// Rail purposes a bridge records its legs under (the reference is the route leg's id, plus a
/// suffix where a side needs several transactions).
pub const BRIDGE_BURN: &str = "route_burn";
pub const BRIDGE_MINT: &str = "route_mint";

/// One bridge transfer, as a route leg asks for it. Chains are CAIP-2; amounts whole units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTransfer {
    pub from_chain: String,
    pub to_chain: String,
    /// The asset's symbol (`USDC`).
    pub asset: String,
    pub amount: Decimal,
    /// Kept by the bridge: `amount − fee` arrives.
    pub fee: Decimal,
    /// The lane's venue when the route chose one (`ccip`, `devnet-burn-mint`): a set of
    /// bridges serving the same chains and asset sends the transfer to that one.
    pub venue: Option<String>,
}

/// A way the bridge moves money: from one chain to another, one asset, at a fee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeLane {
    pub from_chain: String,
    pub to_chain: String,
    pub asset: String,
    pub fee: Decimal,
    /// The venue that carries it, as the router's market and the API name it (a devnet
    /// stand-in says so in its name: `devnet-relay`).
    pub venue: String,
    /// How the lane charges: a fee in the asset, or (CCIP) a fee in the source chain's native
    /// coin while the amount arrives whole.
    pub kind: LaneKind,
}

/// How a [`BridgeLane`] charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    /// `fee` of the asset is kept from the amount (the devnet stand-ins).
    FeeInAsset,
    /// Chainlink CCIP: the amount arrives whole and the sender pays the router's `getFee` quote
    /// in the source chain's native coin (here the last quote seen, in base units), booked as
    /// a network fee.
    Ccip { native_fee_units: u128 },
}

/// A native-coin fee a bridge paid for a transfer beyond gas (CCIP's router fee), to be booked
/// as a network fee: the chain (CAIP-2), base units, and the transaction that paid it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeNetworkFee {
    pub chain: String,
    pub units: u128,
    pub tx_hash: String,
}

/// Where a bridge transfer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeStatus {
    /// Nothing recorded for the leg.
    NotStarted,
    /// The source side is in flight (or its next transaction is due: call [`Bridge::burn`]).
    Burning,
    /// Burned and final on the source chain; the mint is due ([`Bridge::mint`]).
    Burned,
    Minting,
    /// Minted: `received` is exact, from the chain's transfer event of the mint `tx_hash`
    /// (mined in `block`).
    Minted {
        received: Decimal,
        tx_hash: String,
        block: Option<i64>,
    },
    /// Nothing left the source address.
    Failed {
        why: String,
    },
    /// The funds left the source address and the transfer cannot complete or be told:
    /// reconcile it.
    Unknown {
        why: String,
    },
}

/// Why a bridge call failed; nothing was sent by the failing call.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The bridge does not carry this transfer (mode, asset, chains, amounts).
    #[error("{0}")]
    Refused(String),
    /// A call for a leg nothing was recorded for.
    #[error("nothing recorded for {0}; submit it first")]
    NotStarted(String),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Rail(#[from] RailError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// A bridge (see the module docs). `leg` names the route leg; every method is idempotent per
/// leg.
#[async_trait]
pub trait Bridge: Send + Sync + fmt::Debug {
    /// Where this bridge carries money, for the router's market.
    fn lanes(&self) -> Vec<BridgeLane>;

    /// Sends the source side's next due transaction, if any (the first call starts the
    /// transfer).
    async fn burn(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError>;

    /// Sends the destination side once the burn is final; nothing before that or after it.
    async fn mint(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError>;

    /// Where the transfer is, from the recorded legs and the chains (drives both chains'
    /// legs).
    async fn status(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<BridgeStatus, BridgeError>;

    /// What the transfer paid in native coin beyond its transactions' gas, read from the chain
    /// once sent (CCIP's router fee). Nothing for bridges that keep their fee in the asset.
    async fn network_fees(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
    ) -> Result<Vec<BridgeNetworkFee>, BridgeError> {
        let _ = (journal, leg, transfer);
        Ok(Vec::new())
    }

    /// The bridge's own id of the transfer once sent (CCIP's message id, `0x…`), for the leg's
    /// records and reconciliation. `None` for bridges without one, or before it is known.
    async fn message_id(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
    ) -> Result<Option<String>, BridgeError> {
        let _ = (journal, leg, transfer);
        Ok(None)
    }
}
