//! Builds the engine's inputs from the store and the chains, runs it, and turns its findings
//! into a stored run: observed token transfers of the tokens the gateway knows over a block
//! range per configured chain (EVM: `Transfer` logs; Solana: token balance changes, slots for
//! blocks, signatures for hashes), kept when they touch a gateway-controlled address or a
//! merchant settlement address; every leg and payment transaction of those chains; and the
//! whole ledger. Texts are read per chain family ([`super::keys`]).

use std::collections::{HashMap, HashSet};

use rialto_connectors::chain::{ChainNode, TokenCall};
use rialto_core::asset::AssetRegistry;
use rialto_core::money::Money;
use rust_decimal::Decimal;
use serde_json::json;

use super::engine::{
    Exception, Expected, Interner, Observations, Observed, Outcome, Role, Rules, Watch,
};
use super::keys::{addr_text, family, parse_addr, parse_tx_hash, zero_addr, Addr, TxHash};
use crate::chain::{Chain, Chains};
use crate::store::chain::LegStatus;
use crate::store::reconcile::{ExceptionRecord, OwnedLeg, OwnedPayment, ReconciliationRun};
use crate::store::{PaymentSource, PaymentTxStatus};
use crate::store::{Store, StoreError};

pub(super) const PAGE: u32 = 1000;
/// Blocks per `eth_getLogs` call: within what public RPC providers accept.
const LOG_CHUNK: u64 = 2000;

/// Legs whose token movement is a payer's payment carried by our transaction (a relayed
/// EIP-3009 authorization, alone or in a batch): the payment transactions already expect those
/// transfers. A merchant's relayed authorization funding a refund is expected by its funding
/// record.
pub const CARRIER_PURPOSES: &[&str] = &[
    crate::chain::EIP3009_RELAY,
    crate::chain::EIP3009_BATCH,
    crate::refund_funding::FUNDING_RELAY,
];

/// Which purpose must have which ledger posting once confirmed. Prefix rules let the legs of
/// new features (`refund…`, `payout…`) be checked without changing the engine.
pub fn default_rules() -> Rules {
    let rule = |p: &str, k: &str| (p.to_owned(), k.to_owned());
    Rules {
        ledger_kinds: vec![
            rule(crate::chain::settle::SWEEP, "settlement"),
            // `refund_sent`, posted when the leg confirms: a refund's reservation may be a
            // `refund`, a `refund_from_reserve` or a `refund_funding` (crate::refund_funding).
            rule("refund*", "refund_sent"),
            rule("payout*", "payout"),
            // An issuer's mint (a `Transfer` from the zero address in the bank's transaction,
            // expected as the leg's arrival) must have its `issuer_mint` posting.
            rule("route_issuer_mint", "issuer_mint"),
            // A redemption's burn (the treasury's `Transfer` to zero, in the bank's
            // transaction) must have its `issuer_redemption` posting.
            rule(
                crate::issuer_redemption::ISSUER_REDEMPTION,
                crate::issuer_redemption::ISSUER_REDEMPTION,
            ),
            rule(
                crate::chain::misdirected::MISDIRECTED_RETURN,
                "misdirected_returned",
            ),
        ],
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("chain {chain}: {message}")]
    Chain { chain: String, message: String },
}

/// What to reconcile. Empty `chains` = every configured chain of the mode(s).
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub livemode: Option<bool>,
    pub chains: Vec<String>,
    pub from_block: Option<u64>,
    pub to_block: Option<u64>,
    pub period_start_ms: Option<i64>,
    pub period_end_ms: Option<i64>,
    pub created_by: String,
}

#[derive(Debug, Clone, Copy)]
struct Range {
    chain: u32,
    livemode: bool,
    from: u64,
    to: u64,
}

pub(super) struct Ctx<'a> {
    req: &'a RunRequest,
    ranges: Vec<Range>,
    /// (chain, token contract) → (CAIP-19, decimals).
    assets: HashMap<(u32, Addr), (String, u32)>,
}

impl Ctx<'_> {
    pub(super) fn in_period(&self, created_ms: i64) -> bool {
        self.req.period_start_ms.is_none_or(|s| created_ms >= s)
            && self.req.period_end_ms.is_none_or(|e| created_ms <= e)
    }

    pub(super) fn in_blocks(&self, chain: u32, block: Option<i64>) -> bool {
        let block = block.and_then(|b| u64::try_from(b).ok());
        self.ranges
            .iter()
            .any(|r| r.chain == chain && block.is_some_and(|b| b >= r.from && b <= r.to))
    }
}

fn chain_err(chain: &Chain, err: impl std::fmt::Display) -> ReconcileError {
    ReconcileError::Chain {
        chain: chain.caip2.clone(),
        message: err.to_string(),
    }
}

/// What a signed token call's `Transfer` log looks like, where the call says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `transfer(to, amount)`: from the signer to `to`.
    Transfer { to: Addr },
    /// `mint(to, amount)`: from the zero address to `to`.
    Mint { to: Addr },
    /// `burn(amount)`: from the signer to the zero address.
    Burn,
}

/// The token call of a signed transaction, as the chain's node decodes it (another call, e.g.
/// a swap: `None`).
pub fn call_parties(node: &dyn ChainNode, raw_tx: &str) -> Option<Call> {
    Some(match node.token_call(raw_tx)? {
        TokenCall::Transfer { to } => Call::Transfer { to },
        TokenCall::Mint { to } => Call::Mint { to },
        TokenCall::Burn => Call::Burn,
    })
}

fn selected<'a>(chains: &'a Chains, req: &'a RunRequest) -> impl Iterator<Item = &'a Chain> {
    chains.iter().filter(move |c| {
        req.livemode.is_none_or(|l| l == c.livemode)
            && (req.chains.is_empty() || req.chains.iter().any(|n| n == &c.caip2 || n == &c.alias))
    })
}

async fn watch_addresses(
    store: &dyn Store,
    obs: &mut Observations,
    chain: &Chain,
    id: u32,
) -> Result<(), ReconcileError> {
    if let Some(a) = hot_address(chain)? {
        let watch = Watch {
            role: Role::HotWallet,
            owner: None,
        };
        obs.watch(id, a, watch);
    }
    let fam = family(&chain.caip2);
    let deposits = store.deposit_addresses_on(&chain.caip2).await?;
    let settlements = store.settlement_addresses_on(&chain.caip2).await?;
    for (role, list) in [(Role::Deposit, deposits), (Role::Settlement, settlements)] {
        for owned in list.into_iter().filter(|o| o.livemode == chain.livemode) {
            if let Some(a) = parse_addr(&owned.address, fam) {
                let owner = Some(obs.interner.intern(&owned.merchant_id));
                obs.watch(id, a, Watch { role, owner });
            }
        }
    }
    // Deposit addresses that received misdirected funds here (another chain's address
    // included: the same EVM address exists on every EVM chain).
    for row in store.misdirected_on(&chain.caip2).await? {
        if let Some(a) = parse_addr(&row.address, fam) {
            let owner = Some(obs.interner.intern(&row.merchant_id));
            obs.watch(
                id,
                a,
                Watch {
                    role: Role::Deposit,
                    owner,
                },
            );
        }
    }
    // Whatever else the gateway signs for (a sandbox bridge's minter): its burns and
    // transfers are the gateway's own.
    for sender in store.leg_senders_on(&chain.caip2).await? {
        if let Some(a) = parse_addr(&sender, fam) {
            let watch = Watch {
                role: Role::HotWallet,
                owner: None,
            };
            obs.watch(id, a, watch);
        }
    }
    Ok(())
}

/// The chain's hot wallet address, if it has one.
pub(super) fn hot_address(chain: &Chain) -> Result<Option<Addr>, ReconcileError> {
    let Some(hot) = &chain.hot_wallet else {
        return Ok(None);
    };
    let address = chain
        .node
        .address_of(hot)
        .map_err(|e| chain_err(chain, e))?;
    Ok(Some(address))
}

async fn observe_chain(
    store: &dyn Store,
    obs: &mut Observations,
    chain: &Chain,
    req: &RunRequest,
) -> Result<Range, ReconcileError> {
    let id = obs.interner.intern(&chain.caip2);
    let fam = family(&chain.caip2);
    watch_addresses(store, obs, chain, id).await?;
    let head = chain.node.head().await.map_err(|e| chain_err(chain, e))?;
    let to = req.to_block.map_or(head, |t| t.min(head));
    let from = req.from_block.unwrap_or(0);
    let mut start = from;
    while start <= to {
        let end = start.saturating_add(LOG_CHUNK - 1).min(to);
        let logs = chain
            .node
            .transfer_logs(&chain.tokens, start, end)
            .await
            .map_err(|e| chain_err(chain, e))?;
        for log in logs {
            let Some(tx) = parse_tx_hash(&log.tx_hash, fam) else {
                continue;
            };
            let (f, t, token) = (log.from, log.to, log.token);
            if !obs.is_watched(id, &f) && !obs.is_watched(id, &t) {
                continue;
            }
            obs.push(Observed {
                chain: id,
                tx,
                log_index: u32::try_from(log.log_index).unwrap_or(u32::MAX),
                from: f,
                to: t,
                token,
                amount: log.amount_units,
                block: log.block_number,
            });
        }
        start = end.saturating_add(1);
    }
    Ok(Range {
        chain: id,
        livemode: chain.livemode,
        from,
        to,
    })
}

fn leg_expected(
    ctx: &Ctx<'_>,
    node: &dyn ChainNode,
    interner: &mut Interner,
    owned: &OwnedLeg,
) -> Option<Expected> {
    let leg = &owned.leg;
    let d = &leg.draft;
    if leg.status == LegStatus::Failed || CARRIER_PURPOSES.contains(&d.purpose.as_str()) {
        return None;
    }
    let fam = family(&d.chain_id);
    let token = parse_addr(d.token.as_deref()?, fam)?;
    let amount: u128 = d.amount_units.as_deref()?.parse().ok()?;
    let chain = interner.intern(&d.chain_id);
    let confirmed = leg.status == LegStatus::Confirmed;
    // A mint's log comes from the zero address, a burn's goes to it.
    let (from, to) = match call_parties(node, &leg.raw_tx) {
        Some(Call::Transfer { to }) => (parse_addr(&d.from, fam), Some(to)),
        Some(Call::Mint { to }) => (Some(zero_addr(fam)), Some(to)),
        Some(Call::Burn) => (parse_addr(&d.from, fam), Some(zero_addr(fam))),
        None => (parse_addr(&d.from, fam), None),
    };
    Some(Expected {
        incoming: false,
        purpose: d.purpose.clone(),
        reference: d.reference.clone(),
        owner: owned.merchant_id.as_deref().map(|m| interner.intern(m)),
        chain,
        tx: parse_tx_hash(&leg.tx_hash, fam)?,
        log_index: None,
        from,
        to,
        token,
        amount,
        block: leg.block_number.and_then(|b| u64::try_from(b).ok()),
        must_be_observed: confirmed
            && ctx.in_blocks(chain, leg.block_number)
            && ctx.in_period(d.created_at_ms),
        confirmed,
    })
}

fn payment_expected(
    ctx: &Ctx<'_>,
    registry: &AssetRegistry,
    interner: &mut Interner,
    owned: &OwnedPayment,
) -> Option<Expected> {
    let p = &owned.tx;
    if p.status == PaymentTxStatus::Reverted {
        return None;
    }
    let asset = registry.asset(&p.asset.parse().ok()?)?;
    let amount = Money::parse(&p.amount, asset.currency())
        .ok()?
        .to_base_units()
        .ok()?;
    let chain = interner.intern(&p.chain_id);
    let fam = family(&p.chain_id);
    let confirmed = p.status == PaymentTxStatus::Confirmed;
    Some(Expected {
        incoming: true,
        purpose: "payment".into(),
        reference: p.payment_intent_id.to_string(),
        owner: Some(interner.intern(&owned.merchant_id)),
        chain,
        tx: parse_tx_hash(&p.tx_hash, fam)?,
        log_index: u32::try_from(p.log_index).ok(),
        from: parse_addr(&p.payer, fam),
        to: parse_addr(&owned.recipient, fam),
        token: asset.contract,
        amount,
        block: u64::try_from(p.block_number).ok(),
        must_be_observed: confirmed
            && ctx.in_blocks(chain, Some(p.block_number))
            && ctx.in_period(p.created_at_ms),
        confirmed,
    })
}

/// A merchant's transfer to the treasury that funded a refund or topped up its refund reserve
/// (`crate::refund_funding`): an incoming transfer the records explain.
fn funding_expected(
    ctx: &Ctx<'_>,
    registry: &AssetRegistry,
    interner: &mut Interner,
    f: &crate::store::money::Funding,
) -> Option<Expected> {
    let asset = registry.asset(&f.asset.parse().ok()?)?;
    let amount = Money::parse(&f.amount.normalize().to_string(), asset.currency())
        .ok()?
        .to_base_units()
        .ok()?;
    let chain = interner.intern(&f.chain_id);
    let fam = family(&f.chain_id);
    Some(Expected {
        incoming: true,
        purpose: "merchant_funding".into(),
        reference: f.reference.clone(),
        owner: Some(interner.intern(&f.merchant_id.to_string())),
        chain,
        tx: parse_tx_hash(&f.tx_hash, fam)?,
        log_index: None,
        from: parse_addr(&f.from_address, fam),
        to: parse_addr(&f.to_address, fam),
        token: asset.contract,
        amount,
        block: u64::try_from(f.block_number).ok(),
        must_be_observed: ctx.in_blocks(chain, Some(f.block_number))
            && ctx.in_period(f.created_at_ms),
        confirmed: true,
    })
}

/// A misdirected deposit's token transfer (`crate::chain::misdirected`): an inflow the
/// records explain (it pays no intent; its return is a leg like any other).
fn misdirected_expected(
    ctx: &Ctx<'_>,
    interner: &mut Interner,
    row: &crate::store::misdirected::MisdirectedDeposit,
) -> Option<Expected> {
    let fam = family(&row.chain_id);
    let token = parse_addr(row.token.as_deref()?, fam)?;
    let chain = interner.intern(&row.chain_id);
    Some(Expected {
        incoming: true,
        purpose: "misdirected_deposit".into(),
        reference: row.id.clone(),
        owner: Some(interner.intern(&row.merchant_id)),
        chain,
        tx: parse_tx_hash(&row.tx_hash, fam)?,
        log_index: u32::try_from(row.log_index).ok(),
        from: parse_addr(&row.sender, fam),
        to: parse_addr(&row.address, fam),
        token,
        amount: row.amount_units,
        block: u64::try_from(row.block_number).ok(),
        must_be_observed: ctx.in_blocks(chain, Some(row.block_number))
            && ctx.in_period(row.created_at_ms),
        confirmed: true,
    })
}

/// A redemption's burn at the issuing bank (`crate::issuer_redemption`): the treasury's
/// outflow to the zero address, in the bank's transaction.
fn redemption_expected(
    ctx: &Ctx<'_>,
    interner: &mut Interner,
    row: &crate::store::issuer_redemption::IssuerRedemption,
) -> Option<Expected> {
    use crate::store::issuer_redemption::RedemptionStatus;
    let confirmed = row.status == RedemptionStatus::Completed;
    if !confirmed && row.status != RedemptionStatus::Unknown {
        return None;
    }
    let fam = family(&row.chain);
    let chain = interner.intern(&row.chain);
    let units = crate::routing::onchain::to_units(row.amount, row.decimals).ok()?;
    Some(Expected {
        incoming: false,
        purpose: crate::issuer_redemption::ISSUER_REDEMPTION.into(),
        reference: row.id.clone(),
        owner: None,
        chain,
        tx: parse_tx_hash(row.tx_hash.as_deref()?, fam)?,
        log_index: None,
        from: parse_addr(&row.wallet, fam),
        to: Some(zero_addr(fam)),
        token: parse_addr(&row.token, fam)?,
        amount: units,
        block: row.block_number.and_then(|b| u64::try_from(b).ok()),
        must_be_observed: confirmed
            && ctx.in_blocks(chain, row.block_number)
            && ctx.in_period(row.created_at_ms),
        confirmed,
    })
}

/// Runs a reconciliation and stores it with its exceptions; answers the stored run.
pub async fn run(
    store: &dyn Store,
    chains: &Chains,
    registry: &AssetRegistry,
    req: &RunRequest,
    id: String,
    now_ms: i64,
) -> Result<(ReconciliationRun, Vec<ExceptionRecord>), ReconcileError> {
    let mut obs = Observations::new(Interner::default());
    let mut ranges = Vec::new();
    let mut assets = HashMap::new();
    let mut selected_chains = Vec::new();
    for chain in selected(chains, req) {
        ranges.push(observe_chain(store, &mut obs, chain, req).await?);
        selected_chains.push(chain);
    }
    for a in registry.assets() {
        let chain = obs.interner.intern(&a.id.chain().to_string());
        assets.insert((chain, a.contract), (a.id.to_string(), a.decimals));
    }
    let ctx = Ctx {
        req,
        ranges,
        assets,
    };
    let mut engine = obs.seal(default_rules());
    for chain in &selected_chains {
        let caip2 = &chain.caip2;
        // A routed payment's transfer to the merchant is both a payment transaction and the
        // route's own `route_transfer` leg: it is expected once, as the payment (which knows
        // the merchant, the settlement address and asset, and the amount owed).
        let mut carried: HashSet<TxHash> = HashSet::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.payments_page(caip2, after.as_deref(), PAGE).await?;
            for owned in &page {
                if let Some(e) = payment_expected(&ctx, registry, &mut engine.interner, owned) {
                    if owned.tx.source == PaymentSource::Route {
                        carried.insert(e.tx);
                    }
                    engine.expect(&e);
                }
            }
            after = page.last().map(|p| p.tx.tx_hash.clone());
            if page.len() < PAGE as usize {
                break;
            }
        }
        for row in store.misdirected_on(caip2).await? {
            if let Some(e) = misdirected_expected(&ctx, &mut engine.interner, &row) {
                engine.expect(&e);
            }
        }
        for row in store.issuer_redemptions_on(caip2).await? {
            if let Some(e) = redemption_expected(&ctx, &mut engine.interner, &row) {
                engine.expect(&e);
            }
        }
        for funding in store.fundings_on(caip2).await? {
            if let Some(e) = funding_expected(&ctx, registry, &mut engine.interner, &funding) {
                engine.expect(&e);
            }
        }
        let mut after: Option<String> = None;
        loop {
            let page = store.legs_page(caip2, after.as_deref(), PAGE).await?;
            for owned in &page {
                if let Some(e) =
                    leg_expected(&ctx, chain.node.as_ref(), &mut engine.interner, owned)
                {
                    let is_route_payment = owned.leg.draft.purpose
                        == crate::routing::onchain::ROUTE_TRANSFER
                        && carried.contains(&e.tx);
                    if !is_route_payment {
                        engine.expect(&e);
                    }
                }
            }
            after = page.last().map(|l| l.leg.draft.leg_id.clone());
            if page.len() < PAGE as usize {
                break;
            }
        }
    }
    let chosen: Vec<&Chain> = selected(chains, req).collect();
    super::arrivals::expect_route_arrivals(store, &ctx, &chosen, registry, &mut engine).await?;
    for posting in store.all_postings().await? {
        if ctx.in_period(posting.created_at_ms) {
            engine.ledger_transaction(&posting);
        }
    }
    let interner = engine.interner.clone();
    let outcome = engine.finish();
    Ok(stored(&ctx, &interner, &outcome, id, now_ms))
}

fn whole_units(units: u128, decimals: u32) -> Option<String> {
    let units = i128::try_from(units).ok()?;
    Decimal::try_from_i128_with_scale(units, decimals)
        .ok()
        .map(|d| d.normalize().to_string())
}

fn record(
    ctx: &Ctx<'_>,
    interner: &Interner,
    x: &Exception,
    run_id: &str,
    seq: usize,
    now_ms: i64,
) -> ExceptionRecord {
    let asset = x.chain.zip(x.token).and_then(|k| ctx.assets.get(&k));
    let amount = |units: Option<u128>| {
        units.map(|u| match asset {
            Some((_, decimals)) => whole_units(u, *decimals).unwrap_or_else(|| u.to_string()),
            None => u.to_string(),
        })
    };
    let livemode = x.livemode.unwrap_or_else(|| {
        ctx.ranges
            .iter()
            .find(|r| Some(r.chain) == x.chain)
            .is_some_and(|r| r.livemode)
    });
    ExceptionRecord {
        run_id: run_id.to_owned(),
        seq: i64::try_from(seq).unwrap_or(i64::MAX),
        kind: x.kind.as_str().to_owned(),
        merchant_id: x.owner.map(|o| interner.name(o).to_owned()),
        livemode,
        chain_id: x.chain.map(|c| interner.name(c).to_owned()),
        tx_hash: x.tx.map(|t| t.to_string()),
        log_index: x.log_index.map(i64::from),
        block_number: x.block.and_then(|b| i64::try_from(b).ok()),
        expected_amount: amount(x.expected_units),
        observed_amount: amount(x.observed_units)
            .or_else(|| x.ledger_sum.map(|s| s.normalize().to_string())),
        asset: x
            .asset
            .clone()
            .or_else(|| asset.map(|(id, _)| id.clone()))
            .or_else(|| x.token.as_ref().map(addr_text)),
        purpose: x.purpose.clone(),
        reference: x.reference.clone(),
        detail: x.detail.clone(),
        created_at_ms: now_ms,
    }
}

fn stored(
    ctx: &Ctx<'_>,
    interner: &Interner,
    outcome: &Outcome,
    id: String,
    now_ms: i64,
) -> (ReconciliationRun, Vec<ExceptionRecord>) {
    let exceptions: Vec<ExceptionRecord> = outcome
        .exceptions
        .iter()
        .enumerate()
        .map(|(seq, x)| record(ctx, interner, x, &id, seq, now_ms))
        .collect();
    let ranges: Vec<serde_json::Value> = ctx
        .ranges
        .iter()
        .map(|r| json!({"chain": interner.name(r.chain), "livemode": r.livemode, "from_block": r.from, "to_block": r.to}))
        .collect();
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let run = ReconciliationRun {
        id,
        period_start_ms: ctx.req.period_start_ms,
        period_end_ms: ctx.req.period_end_ms,
        block_ranges: serde_json::Value::from(ranges).to_string(),
        expected_count: count(outcome.expected),
        observed_count: count(outcome.observed),
        matched_count: count(outcome.matched),
        ledger_count: count(outcome.ledger_transactions),
        exception_count: count(exceptions.len() as u64),
        status: "succeeded".into(),
        failure: None,
        created_by: ctx.req.created_by.clone(),
        created_at_ms: now_ms,
    };
    (run, exceptions)
}

/// Runs, stores and answers the run (a failed run is stored too, with its reason).
pub async fn run_and_store(
    store: &dyn Store,
    chains: &Chains,
    registry: &AssetRegistry,
    req: &RunRequest,
    now_ms: i64,
) -> Result<(ReconciliationRun, Vec<ExceptionRecord>), ReconcileError> {
    let id = new_run_id();
    let (run, exceptions) = match run(store, chains, registry, req, id.clone(), now_ms).await {
        Ok(done) => done,
        Err(ReconcileError::Store(e)) => return Err(ReconcileError::Store(e)),
        Err(err) => {
            let failed = ReconciliationRun {
                id,
                period_start_ms: req.period_start_ms,
                period_end_ms: req.period_end_ms,
                block_ranges: "[]".into(),
                expected_count: 0,
                observed_count: 0,
                matched_count: 0,
                ledger_count: 0,
                exception_count: 0,
                status: "failed".into(),
                failure: Some(err.to_string()),
                created_by: req.created_by.clone(),
                created_at_ms: now_ms,
            };
            store.create_reconciliation_run(&failed, &[]).await?;
            crate::telemetry::reconciliation_run(&failed, &[]);
            return Err(err);
        }
    };
    store.create_reconciliation_run(&run, &exceptions).await?;
    crate::telemetry::reconciliation_run(&run, &exceptions);
    Ok((run, exceptions))
}

pub fn new_run_id() -> String {
    format!(
        "rec_{}",
        rialto_core::id::LegId::generate()
            .to_string()
            .trim_start_matches("leg_")
    )
}
