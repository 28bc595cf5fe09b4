//! Returning a misdirected deposit (`super::misdirected` has the protocol): the network cost
//! priced in what arrived, and the legs that send it back.
//!
//! - The native coin pays its own way: one leg from the deposit address sends back what
//!   arrived less the cost, its fee capped so that gas never takes more than the cost.
//! - A token needs gas first: the hot wallet sends the deposit address what one token
//!   transfer may burn (leg `misdirected_gas`, as a deposit sweep's gas leg), then the deposit
//!   address sends the token back (leg `misdirected_return`). The cost deducted is what the gas
//!   leg sends plus its own fee, priced in the token through the mode's price feeds
//!   (`<NATIVE>/USD` and `<TOKEN>/USD`), rounded up to the token's base unit.
//!
//! - A token a conversion already swept to the hot wallet (`super::misdirected_convert`, leg
//!   `misdirected_sweep` confirmed) goes back from the hot wallet: no gas leg; the cost
//!   deducted is the return's own fee, priced the same way. The gas and sweep legs' fees are
//!   booked with the return.
//!
//! Every leg is recorded (signed) by the rail before it is broadcast, under the row's id, so a
//! crash resumes the same legs. When the return confirms the row becomes `returned` with
//! `misdirected_returned` (`rialto:misdirected` → payers, the cost to `rialto:network_fees`)
//! and, for a token, the legs' own `network_fee` postings, in one transaction.

use rialto_connectors::chain::FeeQuote;
use rialto_core::address::Address;
use rialto_core::asset::AssetKind;
use rust_decimal::Decimal;

use super::misdirected::{posting, whole, Hold, MISDIRECTED_GAS, MISDIRECTED_RETURN};
use super::rail::{FeeLimits, FlowError, LegAction, LegRequest, SigningKey, StoreJournal};
use super::Chain;
use crate::ledger::Account;
use crate::services::Engine;
use crate::store::chain::{ChainTransfer, LegStatus};
use crate::store::misdirected::{MisdirectedDeposit, MisdirectedStatus, MisdirectedUpdate};

/// The fee a leg pays at most: its units at the quoted fee cap, plus the fixed (L1 data) fee.
fn quoted_fee(quote: &FeeQuote) -> u128 {
    u128::from(quote.units)
        .saturating_mul(quote.max_fee_per_unit)
        .saturating_add(quote.fixed_fee)
}

/// The deposit address's key and address on `chain`, if this gateway holds its keys.
pub(super) async fn deposit_key(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
) -> Result<Option<(SigningKey, Address)>, FlowError> {
    let Some(keys) = state.chains.deposit_keys(row.livemode, chain.family()) else {
        return Ok(None);
    };
    let Some(deposit) = state
        .store
        .get_deposit_address(&row.payment_intent_id)
        .await?
    else {
        return Ok(None);
    };
    let key = keys
        .signing_key(deposit.derivation_index)
        .map_err(FlowError::Keys)?;
    let address = chain.node.address_of(&key)?;
    Ok(Some((key, address)))
}

/// Whether a conversion swept the row's funds to the hot wallet (its sweep leg confirmed).
async fn swept(state: &Engine, row: &MisdirectedDeposit) -> Result<bool, FlowError> {
    Ok(state
        .store
        .get_chain_transfer(super::misdirected_convert::MISDIRECTED_SWEEP, &row.id)
        .await?
        .is_some_and(|l| l.status == LegStatus::Confirmed))
}

/// Where a return leaves from: the hot wallet once swept, else the deposit address; and
/// whether it was swept.
async fn source_key(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
) -> Result<Option<(SigningKey, Address, bool)>, FlowError> {
    if swept(state, row).await? {
        let Some(hot) = chain.hot_wallet.as_ref() else {
            return Ok(None);
        };
        return Ok(Some((hot.clone(), chain.node.address_of(hot)?, true)));
    }
    Ok(deposit_key(state, chain, row)
        .await?
        .map(|(key, address)| (key, address, false)))
}

fn token_of(row: &MisdirectedDeposit, chain: &Chain) -> Option<Address> {
    row.token
        .as_deref()
        .and_then(|t| Address::parse(t, chain.family()).ok())
}

/// The return's network cost in base units of what arrived, or why it cannot be priced.
pub(super) async fn network_cost(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    destination: &Address,
) -> Result<Result<u128, Hold>, FlowError> {
    let Some((_, deposit, swept)) = source_key(state, chain, row).await? else {
        return Ok(Err(Hold::NoDepositKey));
    };
    let Some(token) = token_of(row, chain) else {
        // The native coin: the estimate of sending (part of) it back from the deposit address.
        let action = LegAction::Transfer {
            asset: None,
            to: *destination,
            amount: row.amount_units / 2,
        };
        let quote = chain.node.fee_quote(&deposit, &action).await?;
        return Ok(Ok(quoted_fee(&quote)));
    };
    let Some(hot) = chain.hot_wallet.as_ref() else {
        return Ok(Err(Hold::NoGasWallet));
    };
    let ret = LegAction::Transfer {
        asset: Some(token),
        to: *destination,
        amount: row.amount_units,
    };
    if swept {
        // From the hot wallet itself: the return's own fee (it pays what it uses, so the
        // sender is charged the estimate, not the head-room it is sent with).
        let wei = quoted_fee(&chain.node.fee_quote(&deposit, &ret).await?);
        return Ok(in_token(state, chain, row, wei).await.ok_or(Hold::NoPrice));
    }
    let funding =
        super::settle::gas_to_fund(&super::settle::sweep_quote(chain, &deposit, &ret).await?.0);
    let gas = LegAction::Transfer {
        asset: None,
        to: deposit,
        amount: funding,
    };
    let hot_address = chain.node.address_of(hot)?;
    let gas_fee = quoted_fee(&chain.node.fee_quote(&hot_address, &gas).await?);
    let wei = funding.saturating_add(gas_fee);
    Ok(match in_token(state, chain, row, wei).await {
        Some(units) => Ok(units),
        None => Err(Hold::NoPrice),
    })
}

/// `wei` of the chain's native coin in base units of the row's token, rounded up, through the
/// mode's USD feeds (read on the row's chain, then the mode's others).
async fn in_token(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    wei: u128,
) -> Option<u128> {
    let feed = state.chains.price_feed(row.livemode)?;
    let token = state.registry.asset(&row.asset.as_deref()?.parse().ok()?)?;
    let native = state
        .registry
        .assets()
        .iter()
        .find(|a| a.kind == AssetKind::Native && a.id.chain().to_string() == chain.caip2);
    let (native_code, native_decimals) = native.map_or(("ETH".to_owned(), 18), |a| {
        (a.code.as_str().to_ascii_uppercase(), a.decimals)
    });
    let mut chains = vec![chain.caip2.clone()];
    chains.extend(
        state
            .chains
            .iter()
            .filter(|c| c.livemode == row.livemode && c.caip2 != chain.caip2)
            .map(|c| c.caip2.clone()),
    );
    let price = |pair: String| {
        let chains = chains.clone();
        async move {
            for c in &chains {
                match feed.price(c, &pair).await {
                    Ok(p) if p.price > Decimal::ZERO => return Some(p.price),
                    Ok(_) => {}
                    Err(err) => {
                        tracing::debug!(chain = %c, %pair, error = %err, "no price for a misdirected return")
                    }
                }
            }
            None
        }
    };
    let native_usd = price(format!("{native_code}/USD")).await?;
    // Feeds are named by upper-case symbol (`USDT/USD`); registry codes are lower case.
    let token_usd = price(format!("{}/USD", token.code.as_str().to_ascii_uppercase())).await?;
    let native_amount =
        Decimal::try_from_i128_with_scale(i128::try_from(wei).ok()?, native_decimals).ok()?;
    let in_token = native_amount
        .checked_mul(native_usd)?
        .checked_div(token_usd)?;
    let scaled = in_token
        .checked_mul(Decimal::from(10u64.checked_pow(token.decimals)?))?
        .ceil();
    u128::try_from(scaled).ok()
}

/// Sends (or resumes) a returning row's legs; books and finishes it when the return
/// confirmed. `true` when the row moved.
pub(super) async fn advance(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let (Some(destination), Some(cost), Some(returned)) = (
        row.return_to
            .as_deref()
            .and_then(|t| Address::parse(t, chain.family()).ok()),
        row.network_cost_units,
        row.returned_units,
    ) else {
        return to_operator(state, row, Hold::Unbookable, now_ms).await;
    };
    let Some((key, deposit, swept)) = source_key(state, chain, row).await? else {
        return to_operator(state, row, Hold::NoDepositKey, now_ms).await;
    };
    let journal = StoreJournal(store);
    let rail = chain.rail(&journal);
    let token = token_of(row, chain);
    let action = LegAction::Transfer {
        asset: token,
        to: destination,
        amount: returned,
    };
    let leg = match store
        .get_chain_transfer(MISDIRECTED_RETURN, &row.id)
        .await?
    {
        Some(leg) => leg,
        None => {
            let cap = match token {
                None => {
                    // Gas may take the cost and no more: the sender gets exactly `returned`.
                    let quote = chain.node.fee_quote(&deposit, &action).await?;
                    cost.saturating_sub(quote.fixed_fee) / u128::from(quote.units.max(1))
                }
                // The hot wallet pays its own gas.
                Some(_) if swept => u128::MAX,
                Some(_) => {
                    let Some(cap) = gas_ready(state, chain, row, &action, deposit, now_ms).await?
                    else {
                        return Ok(false);
                    };
                    cap
                }
            };
            let request = LegRequest {
                purpose: MISDIRECTED_RETURN,
                reference: row.id.clone(),
                payment_intent_id: Some(row.payment_intent_id),
                from: key,
                action: action.clone(),
                fees: FeeLimits {
                    max_fee_per_unit: (cap != u128::MAX).then_some(cap),
                    // The head-room `gas_ready` funded and capped for (none for the coin).
                    extra_units: super::settle::token_headroom(chain, &action),
                    ..FeeLimits::default()
                },
            };
            rail.send(&request, now_ms).await?
        }
    };
    let leg = store
        .get_chain_transfer(MISDIRECTED_RETURN, &row.id)
        .await?
        .unwrap_or(leg);
    match leg.status {
        LegStatus::Confirmed => finish(state, row, &leg, now_ms).await,
        LegStatus::Failed => to_operator(state, row, Hold::ReturnFailed, now_ms).await,
        _ => Ok(false),
    }
}

/// A token return's gas leg: sent if not yet, and once confirmed the fee cap the return may
/// pay per unit out of what the deposit address holds; `None` until then.
pub(super) async fn gas_ready(
    state: &Engine,
    chain: &Chain,
    row: &MisdirectedDeposit,
    action: &LegAction,
    deposit: Address,
    now_ms: i64,
) -> Result<Option<u128>, FlowError> {
    let store = state.store.as_ref();
    let journal = StoreJournal(store);
    let rail = chain.rail(&journal);
    let Some(hot) = chain.hot_wallet.as_ref() else {
        return Ok(None);
    };
    let gas = match store.get_chain_transfer(MISDIRECTED_GAS, &row.id).await? {
        Some(leg) => leg,
        None => {
            let (quote, _) = super::settle::sweep_quote(chain, &deposit, action).await?;
            let request = LegRequest {
                purpose: MISDIRECTED_GAS,
                reference: row.id.clone(),
                payment_intent_id: Some(row.payment_intent_id),
                from: hot.clone(),
                action: LegAction::Transfer {
                    asset: None,
                    to: deposit,
                    amount: super::settle::gas_to_fund(&quote),
                },
                fees: FeeLimits::default(),
            };
            rail.send(&request, now_ms).await?
        }
    };
    let confirmed = gas.status == LegStatus::Confirmed
        || store
            .get_chain_transfer(MISDIRECTED_GAS, &row.id)
            .await?
            .is_some_and(|l| l.status == LegStatus::Confirmed);
    if !confirmed {
        return Ok(None);
    }
    let held = rail.balance(None, &deposit).await?;
    let (quote, _) = super::settle::sweep_quote(chain, &deposit, action).await?;
    Ok(Some(super::settle::sweep_fee_cap(held, &quote)))
}

/// The return confirmed: `returned` with its postings, in one transaction.
async fn finish(
    state: &Engine,
    row: &MisdirectedDeposit,
    leg: &ChainTransfer,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let store = state.store.as_ref();
    let (Some(cost), Some(returned)) = (row.network_cost_units, row.returned_units) else {
        return Ok(false);
    };
    let (Some(amount), Some(back), Some(fee)) = (
        whole(state, row, row.amount_units),
        whole(state, row, returned),
        whole(state, row, cost),
    ) else {
        return Err(FlowError::Ledger(format!(
            "misdirected {} unbookable",
            row.id
        )));
    };
    let mut entries = vec![(Account::Misdirected, -amount), (Account::Payers, back)];
    if !fee.is_zero() {
        entries.push((Account::NetworkFees, fee));
    }
    let mut postings: Vec<_> = posting(row, "misdirected_returned", entries, now_ms)
        .into_iter()
        .collect();
    if row.token.is_some() {
        // The legs' gas, paid by the gas wallet (the native return paid its own out of the
        // cost above).
        // A conversion's sweep that fell back to this return: its legs are booked here.
        let gas = store.get_chain_transfer(MISDIRECTED_GAS, &row.id).await?;
        let sweep = store
            .get_chain_transfer(super::misdirected_convert::MISDIRECTED_SWEEP, &row.id)
            .await?;
        let legs: Vec<&ChainTransfer> = gas
            .iter()
            .chain(sweep.iter())
            .chain(std::iter::once(leg))
            .collect();
        let owner = (
            row.merchant_id
                .parse()
                .map_err(|_| FlowError::Ledger(format!("merchant of {}", row.id)))?,
            row.livemode,
        );
        postings.extend(super::fee_postings(&state.registry, owner, &legs, now_ms));
    }
    Ok(store
        .move_misdirected(
            &row.id,
            MisdirectedStatus::Returning,
            MisdirectedStatus::Returned,
            &MisdirectedUpdate::default(),
            &postings,
            now_ms,
        )
        .await?)
}

async fn to_operator(
    state: &Engine,
    row: &MisdirectedDeposit,
    why: Hold,
    now_ms: i64,
) -> Result<bool, FlowError> {
    let update = MisdirectedUpdate {
        reason: Some(why.as_str().to_owned()),
        ..MisdirectedUpdate::default()
    };
    Ok(state
        .store
        .move_misdirected(
            &row.id,
            MisdirectedStatus::Returning,
            MisdirectedStatus::NeedsOperator,
            &update,
            &[],
            now_ms,
        )
        .await?)
}
