//! Redemption of deposit tokens held by Rialto's treasury at the issuing bank (token → USD):
//! it refills Rialto's USD float there, which every mint consumes.
//!
//! 1. Checks: the mode's [`IssuerDesk`] issues `asset` on `chain` (else
//!    `issuer_redemption_asset_unknown`), the treasury's allow-listed wallet there holds at
//!    least `amount` on chain (else `issuer_redemption_exceeds_balance`), the bank quotes the
//!    fee (else `issuer_unavailable`). Nothing has moved.
//! 2. The redemption is stored (`pending`) before the request leaves; its id (`leg_…`) is the
//!    bank's reference, so the bank executes it at most once.
//! 3. The bank burns `amount` from the treasury's wallet with its burner role (JPMD-shaped:
//!    `burn(from, amount)`, a `Transfer` to the zero address) and credits the float with
//!    `amount − fee`. A retryable failure is asked again under the same reference.
//! 4. Confirmed only when the bank says `completed` for exactly `amount` and the quoted fee,
//!    and the chain shows the burn in the bank's transaction (from the treasury's wallet to
//!    zero, exactly `amount`, at the chain's confirmations). Then booked, in the same store
//!    transaction: `issuer_redemption` (`rialto:treasury` − the token, `route_venue:<bank>` +;
//!    `route_venue:<bank>` − `amount` USD, `issuer_float:<bank>` +) and `issuer_fee`
//!    (`issuer_float:<bank>` − fee, `fees:issuer:<bank>` +), both referenced by the id. A
//!    rejection is `failed`; anything else is `unknown` and never re-sent.

use rialto_connectors::issuer::{IssuerError, RedemptionRequest, RequestKind, RequestStatus};
use rialto_core::address::Address;
use rialto_core::id::{LegId, MerchantId};
use rust_decimal::Decimal;

use crate::error::{EngineError, ErrorCode};
use crate::issuer::IssuerDesk;
use crate::ledger::{Account, Entry, Posting};
use crate::routing::issuer::{USD, ZERO_ADDRESS};
use crate::routing::onchain;
use crate::services::Engine;
use crate::store::issuer_redemption::{IssuerRedemption, RedemptionStatus};

/// The purpose reconciliation knows a redemption's burn by, and its ledger kind.
pub const ISSUER_REDEMPTION: &str = "issuer_redemption";

/// The merchant id treasury postings carry (they belong to no merchant): all zeros.
pub fn treasury_owner() -> MerchantId {
    "mer_00000000000000000000000000"
        .parse()
        .unwrap_or_else(|_| MerchantId::generate())
}

fn unavailable(desk: &IssuerDesk, e: &IssuerError) -> EngineError {
    EngineError::new(
        ErrorCode::IssuerUnavailable,
        format!("The issuing bank {} cannot be reached: {e}.", desk.name),
    )
}

/// Checks and records a redemption of `amount` `asset` on `chain` (step 1 and 2), then sends
/// and confirms it (steps 3 and 4). Returns the stored row as it stands.
pub async fn redeem(
    state: &Engine,
    livemode: bool,
    asset: &str,
    chain: &str,
    amount: Decimal,
    created_by: &str,
) -> Result<IssuerRedemption, EngineError> {
    let unknown = || {
        EngineError::new(
            ErrorCode::IssuerRedemptionAssetUnknown,
            format!("No issuing bank in this mode issues {asset} on {chain}."),
        )
        .param("asset")
    };
    let desk = state.issuers.get(&livemode).ok_or_else(unknown)?;
    let Some(node) = state.chains.get(livemode, chain) else {
        return Err(unknown());
    };
    let caip2 = node.caip2.clone();
    if !desk.mints(asset, &caip2) {
        return Err(unknown());
    }
    let wallet = desk.treasury.get(&caip2).cloned().ok_or_else(unknown)?;
    let token = onchain::token(state, node, asset).map_err(|_| unknown())?;
    let units = token.units(amount).map_err(|e| {
        EngineError::new(ErrorCode::ParameterInvalid, format!("Invalid amount: {e}."))
            .param("amount")
    })?;
    let holder = Address::parse(&wallet, rialto_core::ChainNamespace::Eip155)
        .map_err(|e| EngineError::internal(&e))?;
    let held = node
        .node
        .token_balance_units(&token.address, &holder)
        .await
        .map_err(|e| EngineError::new(ErrorCode::ChainUnavailable, e.to_string()))?;
    if units > held {
        let held = onchain::from_units(held, token.decimals).unwrap_or_default();
        return Err(EngineError::new(
            ErrorCode::IssuerRedemptionExceedsBalance,
            format!("The treasury holds {held} {asset} on {caip2}, not {amount}."),
        )
        .param("amount"));
    }
    let quote = desk
        .issuer
        .quote(RequestKind::Redemption, amount)
        .await
        .map_err(|e| unavailable(desk, &e))?;
    let now_ms = state.clock.now_ms();
    let asset_id = state
        .registry
        .chain(&caip2)
        .and_then(|c| state.registry.asset_on(&asset.to_ascii_lowercase(), c).ok())
        .map_or_else(|| format!("{caip2}/token:{asset}"), |a| a.id.to_string());
    let row = IssuerRedemption {
        id: LegId::generate().to_string(),
        livemode,
        issuer: desk.name.clone(),
        asset: desk.asset.clone(),
        asset_id,
        chain: caip2,
        token: token.address.to_string(),
        decimals: token.decimals,
        wallet,
        amount,
        status: RedemptionStatus::Pending,
        fee: Some(quote.fee),
        usd_credited: None,
        tx_hash: None,
        block_number: None,
        reason: None,
        created_by: created_by.to_owned(),
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    };
    state.store.create_issuer_redemption(&row).await?;
    Ok(execute(state, desk, row).await)
}

/// Sends the stored `pending` redemption under its id and settles its outcome.
async fn execute(state: &Engine, desk: &IssuerDesk, row: IssuerRedemption) -> IssuerRedemption {
    let Ok(chain) = row.chain.parse() else {
        return finish(state, row, RedemptionStatus::Unknown, "unreadable chain").await;
    };
    let request = RedemptionRequest {
        reference: row.id.clone(),
        chain,
        tx_hash: None,
        wallet: Some(row.wallet.clone()),
        amount: row.amount,
    };
    let mut answer = desk.issuer.redeem(&request).await;
    // A retryable failure may or may not have reached the bank: ask again under the same
    // reference, which it executes at most once.
    if matches!(&answer, Err(e) if e.is_retryable()) {
        answer = desk.issuer.redeem(&request).await;
    }
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            let why = format!("{}: {e}", e.code());
            return finish(state, row, RedemptionStatus::Unknown, &why).await;
        }
    };
    match answer.status {
        RequestStatus::Rejected => {
            let why = answer.rejection.map_or_else(
                || "the issuer rejected the redemption".to_owned(),
                |x| format!("{}: {}", x.code.as_str(), x.message),
            );
            finish(state, row, RedemptionStatus::Failed, &why).await
        }
        RequestStatus::Pending => row,
        RequestStatus::Completed => confirm(state, row, &answer).await,
    }
}

/// The bank completed it: checks the amount, the fee and the burn on chain, then books it.
async fn confirm(
    state: &Engine,
    mut row: IssuerRedemption,
    answer: &rialto_connectors::issuer::IssuerRequest,
) -> IssuerRedemption {
    let credited = answer.usd_amount;
    if answer.amount != Some(row.amount)
        || Some(answer.fee) != row.fee
        || credited != Some(row.amount - answer.fee)
    {
        let why = format!(
            "the issuer redeemed {:?} for a fee of {} crediting {credited:?}; asked {} for {:?}",
            answer.amount, answer.fee, row.amount, row.fee
        );
        return finish(state, row, RedemptionStatus::Unknown, &why).await;
    }
    let Some(tx) = answer.tx_hash.clone() else {
        return finish(state, row, RedemptionStatus::Unknown, "no burn transaction").await;
    };
    row.tx_hash = Some(tx.clone());
    row.usd_credited = credited;
    match burned(state, &row, &tx).await {
        Ok(block) => {
            row.block_number = block;
            let postings = postings(&row, answer.fee, state.clock.now_ms());
            row.status = RedemptionStatus::Completed;
            row.updated_at_ms = state.clock.now_ms();
            store(state, row, postings).await
        }
        Err(why) => finish(state, row, RedemptionStatus::Unknown, &why).await,
    }
}

/// The burn in `tx`: exactly the amount from the treasury's wallet to the zero address.
async fn burned(state: &Engine, row: &IssuerRedemption, tx: &str) -> Result<Option<i64>, String> {
    let chain = state
        .chains
        .get(row.livemode, &row.chain)
        .ok_or("the chain is not served")?;
    let parse = |a: &str| Address::parse(a, rialto_core::ChainNamespace::Eip155);
    let token = parse(&row.token).map_err(|e| e.to_string())?;
    let zero = parse(ZERO_ADDRESS).map_err(|e| e.to_string())?;
    let seen = chain
        .node
        .observe_transfer(tx, &token, &zero)
        .await
        .map_err(|e| format!("the burn {tx}: {e}"))?;
    let amount = onchain::from_units(seen.amount_units, row.decimals).map_err(|e| e.to_string())?;
    let from_treasury = seen
        .senders
        .iter()
        .all(|s| s.from.to_string().eq_ignore_ascii_case(&row.wallet));
    if amount != row.amount || !from_treasury {
        return Err(format!(
            "{tx} burned {amount} (from the treasury: {from_treasury}), not {}",
            row.amount
        ));
    }
    Ok(i64::try_from(seen.block_number).ok())
}

/// `issuer_redemption` and `issuer_fee`, referenced by the redemption's id.
fn postings(row: &IssuerRedemption, fee: Decimal, now_ms: i64) -> Vec<Posting> {
    let bank = Account::RouteVenue(row.issuer.clone());
    let float = Account::IssuerFloat(row.issuer.clone());
    let entry = |account: &Account, asset: &str, amount: Decimal| Entry {
        account: account.clone(),
        asset: asset.to_owned(),
        amount,
    };
    let owner = treasury_owner();
    let mut out = Vec::new();
    let redeemed = vec![
        entry(&Account::Treasury, &row.asset_id, -row.amount),
        entry(&bank, &row.asset_id, row.amount),
        entry(&bank, USD, -row.amount),
        entry(&float, USD, row.amount),
    ];
    let posted = Posting::for_merchant(
        owner,
        row.livemode,
        ISSUER_REDEMPTION,
        &row.id,
        redeemed,
        now_ms,
    );
    out.extend(posted.ok());
    if fee > Decimal::ZERO {
        let fees = vec![
            entry(&float, USD, -fee),
            entry(&Account::IssuerFees(row.issuer.clone()), USD, fee),
        ];
        let posted =
            Posting::for_merchant(owner, row.livemode, "issuer_fee", &row.id, fees, now_ms);
        out.extend(posted.ok());
    }
    out
}

async fn finish(
    state: &Engine,
    mut row: IssuerRedemption,
    status: RedemptionStatus,
    why: &str,
) -> IssuerRedemption {
    tracing::warn!(redemption = %row.id, status = status.as_str(), why, "issuer redemption not completed");
    row.status = status;
    row.reason = Some(why.to_owned());
    row.updated_at_ms = state.clock.now_ms();
    store(state, row, Vec::new()).await
}

async fn store(state: &Engine, row: IssuerRedemption, postings: Vec<Posting>) -> IssuerRedemption {
    match state
        .store
        .update_issuer_redemption(&row, RedemptionStatus::Pending, &postings)
        .await
    {
        Ok(true) => row,
        Ok(false) | Err(_) => {
            tracing::error!(redemption = %row.id, "the redemption's outcome could not be stored");
            state
                .store
                .get_issuer_redemption(&row.id)
                .await
                .ok()
                .flatten()
                .unwrap_or(row)
        }
    }
}
