//! The ledger postings of route executions (`crate::ledger`), each posted in the same
//! transaction as the step that observed it.
//!
//! Money Rialto holds while a route runs sits in [`ROUTING`], per asset (CAIP-19; one asset per
//! token and chain, so a bridge moves value between two assets):
//!
//! | kind | when | entries |
//! |---|---|---|
//! | `route_funding` | the payer's funds reach Rialto's address: a wallet transfer, a venue withdrawal | `payers` −, `rialto:routing` + |
//! | `misdirected_routed` | a misdirected deposit swept to the hot wallet funds an execution (`crate::chain::misdirected_convert`, reference: the row; instead of `route_funding`) | `rialto:misdirected` −, `rialto:routing` + |
//! | `route_conversion` | a swap or bridge leg confirmed | `rialto:routing` − input, `<venue>` + input; `<venue>` − output, `rialto:routing` + output |
//! | `conversion` | a trade on the payer's exchange account | `payers` − quote, `venue:<v>` +; `venue:<v>` − base, `payers` + (venue-held assets `venue:<v>/<code>`) |
//! | `route_return` | funds sent back to the payer | `rialto:routing` −, `payers` + |
//! | `issuer_mint` | an issuer's mint leg confirmed (reference: the leg, which is the bank's request reference) | `rialto:routing` − the USDC input, `rialto:treasury` + (Rialto keeps it, to refill its float); `issuer_float:<bank>` − the minted amount in `usd`, `route_venue:<bank>` +; `route_venue:<bank>` − the token, `rialto:routing` + |
//! | `issuer_fee` | the same leg | `issuer_float:<bank>` − the bank's fee in `usd`, `fees:issuer:<bank>` + |
//! | `payment` | the merchant is paid (`crate::chain::settle`, source `route`) | `rialto:routing` −, merchant balance + |
//!
//! What is left in `rialto:routing` per asset after an execution is a top-up Rialto spent
//! (negative), a rounding surplus (positive, a few base units), or a wallet payer's
//! over-payment held for an operator (the payer no longer screened clear, or the route gave up
//! away from where the payment arrived: `returned` on the execution says which).

use rialto_router::{Location, NodeRef};
use rust_decimal::Decimal;

use crate::ledger::{Account, Entry, Posting, PAYERS};
use crate::services::Engine;
use crate::store::quote::RouteExecution;

/// Funds Rialto holds while routes run.
pub const ROUTING: Account = Account::Routing;

/// The ledger asset of a route node: the token's CAIP-19 id on a chain, or `venue:<v>/<code>`
/// on an exchange account (the payer's, outside Rialto's custody).
pub fn asset_id(state: &Engine, node: &NodeRef) -> String {
    let code = node.asset.as_str().to_ascii_lowercase();
    match &node.location {
        Location::Venue(v) => format!("venue:{v}/{code}"),
        Location::Chain(c) => state
            .registry
            .chain(&c.to_string())
            .and_then(|chain| state.registry.asset_on(&code, chain).ok())
            .map_or_else(|| format!("{c}/token:{code}"), |a| a.id.to_string()),
    }
}

fn entry(account: &Account, asset: &str, amount: Decimal) -> Entry {
    Entry {
        account: account.clone(),
        asset: asset.to_owned(),
        amount,
    }
}

fn post(
    exec: &RouteExecution,
    kind: &str,
    reference: &str,
    entries: Vec<Entry>,
    now_ms: i64,
) -> Vec<Posting> {
    match Posting::for_merchant(
        exec.merchant_id,
        exec.livemode,
        kind,
        reference,
        entries,
        now_ms,
    ) {
        Ok(p) => vec![p],
        Err(err) => {
            tracing::error!(execution = %exec.id, error = %err, "route posting does not balance");
            Vec::new()
        }
    }
}

/// The payer's funds reached Rialto (`reference`: the execution or the withdrawal leg).
pub fn funding(
    exec: &RouteExecution,
    asset: &str,
    amount: Decimal,
    reference: &str,
    now_ms: i64,
) -> Vec<Posting> {
    post(
        exec,
        "route_funding",
        reference,
        vec![
            entry(&PAYERS, asset, -amount),
            entry(&ROUTING, asset, amount),
        ],
        now_ms,
    )
}

/// `holder` gives `input` of one asset to `counterparty` and gets `output` of another back.
#[allow(clippy::too_many_arguments)]
fn exchanged(
    exec: &RouteExecution,
    kind: &str,
    (holder, counterparty): (&Account, &Account),
    (asset_in, input): (&str, Decimal),
    (asset_out, output): (&str, Decimal),
    leg: &str,
    now_ms: i64,
) -> Vec<Posting> {
    post(
        exec,
        kind,
        leg,
        vec![
            entry(holder, asset_in, -input),
            entry(counterparty, asset_in, input),
            entry(counterparty, asset_out, -output),
            entry(holder, asset_out, output),
        ],
        now_ms,
    )
}

/// A swap or bridge leg: `input` of one asset out to `venue`, `output` of another back.
pub fn conversion(
    exec: &RouteExecution,
    venue: &str,
    input: (&str, Decimal),
    output: (&str, Decimal),
    leg: &str,
    now_ms: i64,
) -> Vec<Posting> {
    let counterparty = Account::RouteVenue(venue.to_owned());
    exchanged(
        exec,
        "route_conversion",
        (&ROUTING, &counterparty),
        input,
        output,
        leg,
        now_ms,
    )
}

/// A trade on the payer's own exchange account: outside Rialto's custody, shown so every fee
/// of the route is explained.
pub fn venue_trade(
    exec: &RouteExecution,
    venue: &str,
    input: (&str, Decimal),
    output: (&str, Decimal),
    leg: &str,
    now_ms: i64,
) -> Vec<Posting> {
    let account = Account::Venue(venue.to_owned());
    exchanged(
        exec,
        "conversion",
        (&PAYERS, &account),
        input,
        output,
        leg,
        now_ms,
    )
}

/// Funds sent back to the payer.
pub fn returned(
    exec: &RouteExecution,
    asset: &str,
    amount: Decimal,
    leg: &str,
    now_ms: i64,
) -> Vec<Posting> {
    post(
        exec,
        "route_return",
        leg,
        vec![
            entry(&ROUTING, asset, -amount),
            entry(&PAYERS, asset, amount),
        ],
        now_ms,
    )
}

/// An issuer's mint: the payer's `input` USDC becomes Rialto's treasury's, and Rialto's USD
/// float at `bank` pays for `minted` tokens (and, in a second posting, the bank's `fee`).
pub fn issuer_mint(
    exec: &RouteExecution,
    bank: &str,
    (usdc, input): (&str, Decimal),
    (token, minted): (&str, Decimal),
    fee: Decimal,
    leg: &str,
    now_ms: i64,
) -> Vec<Posting> {
    let usd = super::issuer::USD;
    let float = Account::IssuerFloat(bank.to_owned());
    let issuer = Account::RouteVenue(bank.to_owned());
    let mut postings = post(
        exec,
        "issuer_mint",
        leg,
        vec![
            entry(&ROUTING, usdc, -input),
            entry(&Account::Treasury, usdc, input),
            entry(&float, usd, -minted),
            entry(&issuer, usd, minted),
            entry(&issuer, token, -minted),
            entry(&ROUTING, token, minted),
        ],
        now_ms,
    );
    if fee > Decimal::ZERO {
        postings.extend(post(
            exec,
            "issuer_fee",
            leg,
            vec![
                entry(&float, usd, -fee),
                entry(&Account::IssuerFees(bank.to_owned()), usd, fee),
            ],
            now_ms,
        ));
    }
    postings
}
