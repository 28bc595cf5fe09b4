//! Issuer edges and legs: an issuing bank (the mode's [`IssuerDesk`]) mints the merchant's
//! USD deposit token (`JPMD-DEV` on the devnet) against Rialto's USD float at the bank.
//!
//! - **Market.** Where the intent settles in the desk's token on one of its chains, the
//!   snapshot gets an `IssuerMint` edge from USDC at Rialto's address on that chain to the
//!   token there, priced with the bank's fee schedule and timed by its cut-off window (its
//!   `quote` for the intent amount). The float is read first (`balance`): when it cannot cover
//!   the mint and its fee, no edge is added and the refusal is kept, so the quote is refused
//!   with `issuer_float_insufficient`; a partial mint is never offered.
//! - **Leg.** The leg is stored before the request is sent, and its id is the request's
//!   reference: the bank executes a reference at most once, so a retry (or a second instance)
//!   never mints twice. The request passes the Proof of Reserve secure-mint check
//!   ([`PorMintGuard`]) before it leaves. It mints to the treasury's allow-listed wallet (the
//!   chain's hot wallet, onboarded at start-up); the route's settlement transfer then pays the
//!   merchant.
//! - **Outcome.** Asked by reference: `pending` waits, `rejected` fails the leg (the plan falls
//!   back), `completed` is confirmed only once the chain shows the mint (a `Transfer` from the
//!   zero address to the treasury's wallet, in the bank's transaction, at the chain's
//!   confirmations) of exactly the amount, with exactly the fee the leg was spelled with; a
//!   completed request the chain or the fee does not match is `unknown`, for reconciliation.

use rialto_connectors::issuer::{IssuerError, MintRequest, RequestKind, RequestStatus};
use rialto_core::id::LegId;
use rialto_core::intent::PaymentIntent;
use rialto_core::ChainId;
use rialto_router::{Edge, EdgeKind, Graph, IssuerFees, LegFailure, Location, NodeIx, VenueId};
use rust_decimal::Decimal;

use super::onchain;
use crate::issuer::IssuerDesk;
use crate::reserves::mint::PorMintGuard;
use crate::services::Engine;

/// Seconds a mint takes once the bank executes it (its transaction, the chain's blocks).
pub const MINT_SECS: u32 = 15;
/// The stablecoin the payer's funds are held in when the float pays for a mint.
pub const FLOAT_FUNDING: &str = "USDC";
/// The ledger asset of USD at an issuing bank.
pub const USD: &str = "usd";

/// The mint of a deposit token to the treasury's wallet, as a stored leg spells it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MintLeg {
    /// The desk's name (the route venue).
    pub issuer: String,
    /// CAIP-2.
    pub chain: String,
    /// The token's symbol.
    pub asset: String,
    /// The treasury's allow-listed wallet the bank mints to.
    pub wallet: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The bank's fee for `amount`, from its schedule; USD debited is `amount + fee`.
    #[serde(with = "rust_decimal::serde::str")]
    pub fee: Decimal,
}

/// The desk that mints `intent`'s settlement asset where it settles, if any.
pub fn desk_for<'a>(state: &'a Engine, intent: &PaymentIntent) -> Option<&'a IssuerDesk> {
    let desk = state.issuers.get(&intent.livemode)?;
    let chain = intent.settlement.asset.id.chain().to_string();
    desk.mints(&intent.settlement.asset.symbol, &chain)
        .then_some(desk)
}

/// Adds the mint edge into `target` (the token at Rialto's address on the settlement chain)
/// for `owed` tokens. `Ok(Some(why))`: the float cannot cover it (no edge added).
pub async fn add_mint_edge(
    state: &Engine,
    intent: &PaymentIntent,
    graph: &mut Graph,
    target: NodeIx,
    owed: Decimal,
) -> Result<Option<String>, String> {
    let Some(desk) = desk_for(state, intent) else {
        return Ok(None);
    };
    let chain = intent.settlement.asset.id.chain().clone();
    let code =
        rialto_connectors::exchange::AssetCode::new(FLOAT_FUNDING).ok_or("funding asset code")?;
    let source = graph
        .asset_by_code(&code)
        .and_then(|usdc| graph.find_node(usdc, &Location::Chain(chain.clone())))
        .ok_or_else(|| format!("no {FLOAT_FUNDING} at Rialto's address on {chain}"))?;
    let amount = rialto_router::edge::round_up(owed, 2);
    let quote = desk
        .issuer
        .quote(RequestKind::Mint, amount)
        .await
        .map_err(|e| format!("{}: quote: {e}", desk.name))?;
    let balance = desk
        .issuer
        .balance()
        .await
        .map_err(|e| format!("{}: balance: {e}", desk.name))?;
    if balance.available < quote.usd_amount {
        return Ok(Some(format!(
            "the issuer's USD float ({} available) cannot cover a mint of {} {} and its fee {}",
            balance.available, quote.amount, desk.asset, quote.fee
        )));
    }
    // Without a published schedule the quoted fee holds for the quoted amount only: the one
    // a route into the intent mints.
    let fees = match quote.fee_schedule {
        Some(s) => IssuerFees {
            fixed: s.fixed,
            rate: s.rate,
            minimum: quote.minimum,
        },
        None => IssuerFees {
            fixed: quote.fee,
            rate: Decimal::ZERO,
            minimum: quote.minimum,
        },
    };
    let now_ms = u64::try_from(state.clock.now_ms()).unwrap_or(0);
    let wait = quote.executes_at_ms.saturating_sub(now_ms) / 1000;
    let seconds = MINT_SECS.saturating_add(u32::try_from(wait).unwrap_or(u32::MAX));
    graph
        .add_edge(Edge {
            from: source,
            to: target,
            kind: EdgeKind::IssuerMint(fees),
            venue: VenueId(desk.name.clone()),
            seconds,
        })
        .map_err(|e| e.to_string())?;
    Ok(None)
}

/// The mint leg for an `IssuerMint` edge carrying `input` USD into `to` (a chain).
pub fn mint_leg(
    state: &Engine,
    livemode: bool,
    fees: &IssuerFees,
    to: &rialto_router::NodeRef,
    input: Decimal,
    out_dp: u32,
) -> Result<MintLeg, String> {
    let desk = state
        .issuers
        .get(&livemode)
        .ok_or("no issuing bank in this mode")?;
    let Location::Chain(chain) = &to.location else {
        return Err(format!("{} is not a chain", to.location));
    };
    let chain = chain.to_string();
    let wallet = desk
        .treasury
        .get(&chain)
        .ok_or_else(|| format!("{} mints nothing on {chain}", desk.name))?
        .clone();
    let priced = EdgeKind::IssuerMint(*fees)
        .forward(input, out_dp)
        .map_err(|e| format!("the mint cannot carry {input}: {e:?}"))?;
    Ok(MintLeg {
        issuer: desk.name.clone(),
        chain,
        asset: to.asset.to_string(),
        wallet,
        amount: priced.output,
        fee: fees.fee(priced.output),
    })
}

/// What sending a mint gave: `Ok(reference)` (sent, or already held by the bank), a refusal
/// (`Err(Some(reason), why)`: the plan falls back) or a retry (`Err(None, why)`: nothing new
/// reached the bank, or it holds the reference and a retry answers it).
pub async fn send_mint(
    state: &Engine,
    livemode: bool,
    leg: &LegId,
    mint: &MintLeg,
) -> Result<String, (Option<LegFailure>, String)> {
    let desk = state
        .issuers
        .get(&livemode)
        .ok_or((None, "no issuing bank in this mode".to_owned()))?;
    let chain: ChainId = mint
        .chain
        .parse()
        .map_err(|_| (Some(LegFailure::Rejected), format!("chain {}", mint.chain)))?;
    let request = MintRequest {
        reference: leg.to_string(),
        chain,
        wallet: mint.wallet.clone(),
        amount: mint.amount,
    };
    let guard = PorMintGuard::new(state.clone(), livemode, &mint.asset);
    match desk.issuer.mint(&request, guard.as_ref()).await {
        Ok(r) if r.status == RequestStatus::Rejected => {
            let why = r.rejection.map_or_else(
                || "the issuer rejected the mint".to_owned(),
                |x| format!("{}: {}", x.code.as_str(), x.message),
            );
            Err((Some(LegFailure::Rejected), why))
        }
        Ok(r) => Ok(r.reference),
        Err(e) if e.is_retryable() => Err((None, e.to_string())),
        Err(e @ IssuerError::MintGuardRefused { .. }) => {
            Err((Some(LegFailure::Rejected), format!("{}: {e}", e.code())))
        }
        Err(e) => Err((Some(LegFailure::Rejected), format!("{}: {e}", e.code()))),
    }
}

/// Whether the bank holds the leg's request: `None` when it cannot be told now.
pub async fn was_sent(state: &Engine, livemode: bool, leg: &LegId) -> Option<bool> {
    let desk = state.issuers.get(&livemode)?;
    match desk.issuer.request(&leg.to_string()).await {
        Ok(_) => Some(true),
        Err(IssuerError::NotFound { .. }) => Some(false),
        Err(_) => None,
    }
}

/// Where a sent mint stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MintProgress {
    Pending,
    /// Minted on chain: the amount, the bank's transaction and its block.
    Confirmed(Decimal, String, Option<i64>),
    Failed(String),
    Unknown(String),
}

/// Asks the bank about the leg's request and, once completed, the chain about its mint.
pub async fn progress(state: &Engine, livemode: bool, leg: &LegId, mint: &MintLeg) -> MintProgress {
    let Some(desk) = state.issuers.get(&livemode) else {
        return MintProgress::Pending;
    };
    let request = match desk.issuer.request(&leg.to_string()).await {
        Ok(r) => r,
        Err(IssuerError::NotFound { .. }) => {
            return MintProgress::Unknown("the issuer has no request under the leg".into())
        }
        Err(_) => return MintProgress::Pending,
    };
    match request.status {
        RequestStatus::Pending => return MintProgress::Pending,
        RequestStatus::Rejected => {
            let why = request.rejection.map_or_else(
                || "rejected".to_owned(),
                |x| format!("{}: {}", x.code.as_str(), x.message),
            );
            return MintProgress::Failed(why);
        }
        RequestStatus::Completed => {}
    }
    if request.amount != Some(mint.amount) || request.fee != mint.fee {
        return MintProgress::Unknown(format!(
            "the issuer minted {:?} for a fee of {}, the leg asked {} for {}",
            request.amount, request.fee, mint.amount, mint.fee
        ));
    }
    let Some(tx) = request.tx_hash else {
        return MintProgress::Pending;
    };
    on_chain(state, livemode, mint, &tx).await
}

/// The mint in `tx`, read from the chain: a transfer from the zero address to the wallet.
async fn on_chain(state: &Engine, livemode: bool, mint: &MintLeg, tx: &str) -> MintProgress {
    let Some(chain) = state.chains.get(livemode, &mint.chain) else {
        return MintProgress::Pending;
    };
    let Ok((token, decimals)) = onchain::token_on(state, &mint.chain, &mint.asset) else {
        return MintProgress::Pending;
    };
    let Ok(wallet) = rialto_core::address::Address::parse(
        &mint.wallet,
        rialto_core::chain::ChainNamespace::Eip155,
    ) else {
        return MintProgress::Unknown(format!("treasury wallet {}", mint.wallet));
    };
    match chain
        .node
        .observe_transfer(tx.trim(), &token, &wallet)
        .await
    {
        Ok(t) if t.confirmations >= chain.confirmations => {
            let from_zero = t.senders.iter().all(|s| is_zero(&s.from.to_string()));
            match onchain::from_units(t.amount_units, decimals) {
                Ok(amount) if amount == mint.amount && from_zero => {
                    MintProgress::Confirmed(amount, t.tx_hash, i64::try_from(t.block_number).ok())
                }
                Ok(amount) => MintProgress::Unknown(format!(
                    "the issuer's transaction {tx} moved {amount} to the treasury (minted: {from_zero}), not a mint of {}",
                    mint.amount
                )),
                Err(_) => MintProgress::Unknown(format!("unreadable amount in {tx}")),
            }
        }
        Ok(_) => MintProgress::Pending,
        Err(rialto_connectors::chain::ChainError::TxFailed(_)) => {
            MintProgress::Failed(format!("the issuer's mint {tx} reverted"))
        }
        Err(_) => MintProgress::Pending,
    }
}

/// The zero address: where a mint's `Transfer` comes from.
pub const ZERO_ADDRESS: &str = "0x0000000000000000000000000000000000000000";

fn is_zero(address: &str) -> bool {
    address.eq_ignore_ascii_case(ZERO_ADDRESS)
}
