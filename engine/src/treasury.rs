//! Transfers out of the treasury (the chain's hot wallet): refunds and payouts.
//!
//! [`send`] is the one way they leave: one gateway instance claims the object for
//! `CLAIM_MS` (another neither sends it nor refuses it meanwhile: a refusal racing a send would
//! hand back money that left), screens the destination again right before signing (lists
//! change), and records the ERC-20 transfer as the chain leg `(purpose, reference)` before it is
//! broadcast, so asking again after a crash returns the same leg.

use rialto_core::address::Address;
use rialto_core::id::{MerchantId, PaymentIntentId};

use crate::chain::rail::{FeeLimits, FlowError, LegAction, LegRequest, StoreJournal};
use crate::chain::Chain;
use crate::compliance::flow::{screen_outgoing, OutgoingAddress};
use crate::services::Engine;
use crate::store::chain::ChainTransfer;
use crate::store::money::MoneyTable;

/// How long an instance holds a refund or payout while it screens and records its transfer
/// (well above the time that takes; after a crash the next attempt waits this long).
pub const CLAIM_MS: i64 = 20_000;

/// A token transfer out of the treasury, for a refund or payout still without a leg.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Which objects the claim is taken on, and the status the object must still be in.
    pub table: MoneyTable,
    pub pending_status: &'static str,
    pub purpose: &'static str,
    /// The refund or payout id: the leg's reference.
    pub reference: String,
    pub merchant: (MerchantId, bool),
    pub payment_intent_id: Option<PaymentIntentId>,
    pub token: Address,
    pub destination: Address,
    pub units: u128,
    pub screening: OutgoingAddress,
}

/// What [`send`] did.
#[derive(Debug)]
pub enum Sent {
    /// Another instance holds the object, or this chain has no treasury: try again later.
    NotNow,
    /// The destination did not screen clear: nothing was signed.
    Refused,
    /// The leg, recorded (and broadcast, or to be re-broadcast by the rail).
    Leg(Box<ChainTransfer>),
}

pub async fn send(
    state: &Engine,
    chain: &Chain,
    out: &Outgoing,
    now_ms: i64,
) -> Result<Sent, FlowError> {
    let store = state.store.as_ref();
    let Some(hot) = chain.hot_wallet.as_ref() else {
        return Ok(Sent::NotNow);
    };
    let claimed = store
        .claim_money_object(
            out.table,
            &out.reference,
            out.pending_status,
            now_ms,
            now_ms + CLAIM_MS,
        )
        .await?;
    if !claimed {
        return Ok(Sent::NotNow);
    }
    let (merchant, livemode) = out.merchant;
    let clear = screen_outgoing(
        state,
        &merchant,
        livemode,
        &out.destination,
        out.screening,
        now_ms,
    )
    .await
    .map_err(FlowError::Screening)?;
    if !clear {
        return Ok(Sent::Refused);
    }
    let request = LegRequest {
        purpose: out.purpose,
        reference: out.reference.clone(),
        payment_intent_id: out.payment_intent_id,
        from: hot.clone(),
        action: LegAction::Transfer {
            asset: Some(out.token),
            to: out.destination,
            amount: out.units,
        },
        fees: FeeLimits::default(),
    };
    let journal = StoreJournal(store);
    let leg = chain.rail(&journal).send(&request, now_ms).await?;
    Ok(Sent::Leg(Box::new(leg)))
}
