//! Routed wallet payments for the chaos runs (`chaos_routes.rs`, `chaos_pg.rs`): paying an
//! intent through a SmartFunding quote (USDT on devnet-ethereum, swapped, bridged and settled
//! in USDC on devnet-base), waiting for the executions to end, and counting what the chains
//! saw against the legs the gateway recorded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use alloy::primitives::{Address as WireAddress, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::Filter;
use alloy::signers::{local::PrivateKeySigner, Signer};
use rialto_evm::contracts::{to_wire, ITetherLike, IERC20};
use rialto_evm::manifest::ChainManifest;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use super::chaos::{Api, MERCHANT};

pub fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("decimal string, got {v}"))
        .parse()
        .unwrap()
}

pub fn units(amount: Decimal) -> U256 {
    U256::from(
        u128::try_from(amount * Decimal::from(1_000_000u32))
            .unwrap_or_else(|_| panic!("{amount} in base units")),
    )
}

pub fn wire(address: &rialto_core::address::Address) -> WireAddress {
    to_wire(address).unwrap()
}

/// One funding transfer a payer sent, and the execution it was reported to.
pub struct Funded {
    pub exec: String,
    pub tx: String,
    pub payer: usize,
    pub units: U256,
}

/// Pays intent `i` from payer `i % 3`: quote, accept, transfer, report. A transfer once sent
/// is always reported; if it funded an execution that can no longer run (its quote expired
/// meanwhile), the gateway sends it back and the intent is quoted again.
pub async fn pay_intent(
    api: &Api,
    other: &ChainManifest,
    wallets: &[DynProvider],
    i: usize,
    funded: &mut Vec<Funded>,
    first_transfer: &mut Option<tokio::sync::oneshot::Sender<()>>,
) -> (String, String, Decimal) {
    let payer = i % other.payers.len();
    let payer_address = other.payers[payer].address.to_string();
    let key: PrivateKeySigner = other.payers[payer]
        .private_key
        .expose_secret()
        .parse()
        .unwrap();
    let usdt = to_wire(&other.tokens["USDT"].address).unwrap();
    let amount = format!("{}.{:02}", 12 + 3 * i, 7 * i % 100);
    let (status, intent) = api
        .call(
            "/v1/payment_intents",
            Some(&json!({"amount": amount, "currency": "usd",
                    "settlement": {"asset": "usdc", "chain": "devnet-base", "address": MERCHANT}})),
            Some(&format!("intent-{i}")),
        )
        .await;
    assert_eq!(status, 200, "{intent}");
    let intent_id = intent["id"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        let mut asked = 0;
        let quotes = loop {
            let (status, quotes) = api
                .call(
                    &format!("/v1/payment_intents/{intent_id}/quotes"),
                    Some(&json!({"source": {"type": "wallet", "chain": "devnet-ethereum", "asset": "usdt"}})),
                    None,
                )
                .await;
            if status == 200 {
                break quotes;
            }
            // A gateway just restarted may not have read the chains yet.
            asked += 1;
            assert!(asked < 50, "intent {i}: no quotes: {status} {quotes}");
            eprintln!(
                "chaos_routes: intent {i}: no quotes yet: {status} {}",
                quotes["error"]
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let quote = &quotes["data"][0];
        let legs: Vec<&str> = quote["legs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["kind"].as_str().unwrap())
            .collect();
        assert_eq!(legs, ["dex_swap", "bridge"], "{quote}");
        let quote_id = quote["id"].as_str().unwrap();
        let (status, accepted) = api
            .call(
                &format!("/v1/quotes/{quote_id}/accept"),
                Some(&json!({ "payer_address": payer_address })),
                Some(&format!("accept-{quote_id}")),
            )
            .await;
        if status == 400 && accepted["error"]["code"] == "quote_expired" {
            eprintln!("chaos_routes: intent {i}: quote {quote_id} expired before it was accepted");
            continue;
        }
        assert_eq!(status, 200, "{accepted}");
        let exec = &accepted["execution"];
        assert_eq!(exec["status"], "awaiting_funds", "{accepted}");
        assert_eq!(exec["pay_to"]["asset"], "USDT", "{accepted}");
        let exec_id = exec["id"].as_str().unwrap().to_owned();
        let to: WireAddress = exec["pay_to"]["address"].as_str().unwrap().parse().unwrap();
        let paid = units(dec(&exec["pay_to"]["amount"]));
        // USDT-like: `transfer` returns nothing; success is the receipt's status. An explicit
        // limit: the hot wallet's USDT can drop to zero between the estimate and the block.
        let receipt = ITetherLike::new(usdt, &wallets[payer])
            .transfer(to, paid)
            .gas(150_000)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(receipt.status());
        let tx = format!("{:#x}", receipt.transaction_hash);
        funded.push(Funded {
            exec: exec_id.clone(),
            tx: tx.clone(),
            payer,
            units: paid,
        });
        if let Some(go) = first_transfer.take() {
            let _ = go.send(());
        }
        // From here the transfer is reported until the gateway has it.
        let text = rialto_gateway::api::executions::funding_message(&exec_id, &tx);
        let signature = key.sign_message(text.as_bytes()).await.unwrap();
        let signature = format!("0x{}", hex::encode(signature.as_bytes()));
        let reported = Instant::now();
        loop {
            let (status, answer) = api
                .call(
                    &format!("/v1/route_executions/{exec_id}/fund"),
                    Some(&json!({ "tx_hash": tx, "signature": signature })),
                    None,
                )
                .await;
            if status == 200 {
                break;
            }
            let code = answer["error"]["code"].as_str().unwrap_or_default();
            assert!(
                matches!(code, "transaction_unconfirmed" | "transaction_not_found")
                    && reported.elapsed() < Duration::from_secs(60),
                "funding {exec_id} with {tx}: {status} {answer}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The request may have died before the plan started: the worker starts it then.
        let started = Instant::now();
        let exec = loop {
            let exec = api.get(&format!("/v1/route_executions/{exec_id}")).await;
            if exec["status"] != "awaiting_funds" {
                break exec;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "never started: {exec}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        if exec["failure_code"].is_null() {
            return (intent_id, exec_id, amount.parse().unwrap());
        }
        eprintln!(
            "chaos_routes: intent {i}: {exec_id} did not start ({}), its funds go back",
            exec["failure_code"]
        );
    }
    panic!("intent {i} could not be paid");
}

pub async fn logs(node: &DynProvider, filter: Filter) -> usize {
    node.get_logs(&filter).await.unwrap().len()
}

pub fn transfer_logs(token: WireAddress, from: WireAddress, to: WireAddress, block: u64) -> Filter {
    Filter::new()
        .address(token)
        .event("Transfer(address,address,uint256)")
        .topic1(from.into_word())
        .topic2(to.into_word())
        .from_block(block)
}

pub async fn token_balance(node: &DynProvider, token: WireAddress, of: WireAddress) -> U256 {
    IERC20::new(token, node).balanceOf(of).call().await.unwrap()
}

/// Waits until execution `exec` swapped (or ended). The next quote is priced on the pool after
/// this swap: a quote's swap minimum has no slippage room, so a swap made between another
/// quote and its swap would fail it.
pub async fn wait_for_swap(api: &Api, exec: &str) {
    let started = Instant::now();
    loop {
        let e = api.get(&format!("/v1/route_executions/{exec}")).await;
        let swapped = e["legs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["kind"] == "dex_swap" && l["status"] == "confirmed");
        if swapped || matches!(e["status"].as_str().unwrap(), "succeeded" | "failed") {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{exec} never swapped: {e}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every funded execution ended; answers each one's last state and how long
/// after the call it ended. Panics with the open ones after `settle`.
pub async fn wait_ended(
    api: &Api,
    funded: &[Funded],
    settle: Duration,
) -> BTreeMap<String, (Value, Duration)> {
    let calm = Instant::now();
    let mut ended: BTreeMap<String, (Value, Duration)> = BTreeMap::new();
    while ended.len() < funded.len() {
        for f in funded {
            if ended.contains_key(&f.exec) {
                continue;
            }
            let exec = api.get(&format!("/v1/route_executions/{}", f.exec)).await;
            if matches!(
                exec["status"].as_str().unwrap(),
                "succeeded" | "failed" | "frozen" | "return_failed"
            ) {
                ended.insert(f.exec.clone(), (exec, calm.elapsed()));
            }
        }
        if ended.len() < funded.len() {
            if calm.elapsed() > settle {
                let mut open = Vec::new();
                for f in funded.iter().filter(|f| !ended.contains_key(&f.exec)) {
                    open.push(api.get(&format!("/v1/route_executions/{}", f.exec)).await);
                }
                panic!("still running {settle:?} after the last kill: {open:#?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for (id, (exec, after)) in &ended {
        let legs: Vec<String> = exec["legs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                format!(
                    "{}:{}",
                    l["kind"].as_str().unwrap(),
                    l["status"].as_str().unwrap()
                )
            })
            .collect();
        eprintln!(
            "chaos_routes: {id} {} after {after:?}: {}",
            exec["status"],
            legs.join(", ")
        );
    }
    ended
}

/// Waits until each intent is `succeeded`.
pub async fn wait_succeeded(api: &Api, intents: &[&str], within: Duration) {
    for intent in intents {
        let started = Instant::now();
        loop {
            let status = api.get(&format!("/v1/payment_intents/{intent}")).await["status"].clone();
            if status == "succeeded" {
                break;
            }
            assert!(started.elapsed() < within, "intent {intent} is {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What the two devnet chains held before the routed payments: the blocks to count logs from,
/// the merchant's USDC and the payers' USDT, and a wallet per payer on devnet-ethereum.
pub struct RouteChains {
    pub base: ChainManifest,
    pub other: ChainManifest,
    pub base_node: DynProvider,
    pub eth_node: DynProvider,
    pub base_from: u64,
    pub eth_from: u64,
    pub merchant_before: U256,
    pub payers_before: Vec<U256>,
    pub wallets: Vec<DynProvider>,
}

impl RouteChains {
    pub async fn observe(base: &ChainManifest, other: &ChainManifest) -> Self {
        let base_node = ProviderBuilder::new()
            .connect(&base.rpc_url)
            .await
            .unwrap()
            .erased();
        let eth_node = ProviderBuilder::new()
            .connect(&other.rpc_url)
            .await
            .unwrap()
            .erased();
        let (base_from, eth_from) = (
            base_node.get_block_number().await.unwrap(),
            eth_node.get_block_number().await.unwrap(),
        );
        let merchant: WireAddress = MERCHANT.parse().unwrap();
        let merchant_before =
            token_balance(&base_node, wire(&base.tokens["USDC"].address), merchant).await;
        let eth_usdt = wire(&other.tokens["USDT"].address);
        let mut payers_before = Vec::new();
        let mut wallets = Vec::new();
        for p in &other.payers {
            payers_before.push(token_balance(&eth_node, eth_usdt, wire(&p.address)).await);
            let signer: PrivateKeySigner = p.private_key.expose_secret().parse().unwrap();
            wallets.push(
                ProviderBuilder::new()
                    .wallet(signer)
                    .connect(&other.rpc_url)
                    .await
                    .unwrap()
                    .erased(),
            );
        }
        Self {
            base: base.clone(),
            other: other.clone(),
            base_node,
            eth_node,
            base_from,
            eth_from,
            merchant_before,
            payers_before,
            wallets,
        }
    }

    /// Every paid intent's execution succeeded, leg by leg, and executions that were not an
    /// intent's paying one sent everything back. Answers the confirmed legs by kind, the
    /// USDC settled and what went back to each payer (amount, transfers).
    pub fn check_executions(
        &self,
        paid: &[(String, String, Decimal)],
        funded: &[Funded],
        ended: &BTreeMap<String, (Value, Duration)>,
    ) -> RouteCounts {
        let mut settled = U256::ZERO;
        for (intent, exec_id, amount) in paid {
            let exec = &ended[exec_id].0;
            assert_eq!(exec["status"], "succeeded", "{exec}");
            assert_eq!(exec["payment_intent"], *intent, "{exec}");
            let legs = exec["legs"].as_array().unwrap();
            let kinds: Vec<(&str, &str)> = legs
                .iter()
                .map(|l| (l["kind"].as_str().unwrap(), l["status"].as_str().unwrap()))
                .collect();
            if kinds
                != [
                    ("dex_swap", "confirmed"),
                    ("bridge", "confirmed"),
                    ("settlement", "confirmed"),
                ]
            {
                // A kill may have failed a leg and the plan fell back: the end is what counts.
                eprintln!("chaos_routes: {exec_id} fell back: {kinds:?}");
                assert!(
                    legs.iter()
                        .all(|l| matches!(l["status"].as_str().unwrap(), "confirmed" | "failed")),
                    "{exec}"
                );
            }
            let last = legs.last().unwrap();
            assert_eq!(last["kind"], "settlement", "{exec}");
            assert_eq!(last["status"], "confirmed", "{exec}");
            assert!(dec(&last["received"]) >= *amount, "{exec}");
            settled += units(dec(&last["received"]));
        }
        let mut counts = RouteCounts {
            legs: BTreeMap::new(),
            settled,
            returned: vec![U256::ZERO; self.other.payers.len()],
            returns: vec![0; self.other.payers.len()],
        };
        for f in funded {
            let exec = &ended[&f.exec].0;
            if !paid.iter().any(|(_, e, _)| *e == f.exec) {
                // Not the intent's paying execution: everything that arrived went back.
                assert_eq!(exec["status"], "failed", "{exec}");
            }
            for leg in exec["legs"].as_array().unwrap() {
                if leg["status"] != "confirmed" {
                    continue;
                }
                let kind = leg["kind"].as_str().unwrap().to_owned();
                if kind == "return" {
                    counts.returned[f.payer] += units(dec(&leg["received"]));
                    counts.returns[f.payer] += 1;
                }
                *counts.legs.entry(kind).or_default() += 1;
            }
        }
        eprintln!("chaos_routes: confirmed legs {:?}", counts.legs);
        assert_eq!(counts.n("settlement"), paid.len());
        counts
    }
}

/// The confirmed legs of the routed payments.
pub struct RouteCounts {
    pub legs: BTreeMap<String, usize>,
    pub settled: U256,
    pub returned: Vec<U256>,
    pub returns: Vec<usize>,
}

impl RouteCounts {
    pub fn n(&self, kind: &str) -> usize {
        self.legs.get(kind).copied().unwrap_or(0)
    }
}

impl RouteChains {
    /// Nothing was sent twice: the merchant got exactly the settlement legs, and the chains saw
    /// one swap, one bridge delivery and mint, one settlement and one return per confirmed
    /// leg; each payer paid exactly their transfers less what was returned to them.
    pub async fn check_chains(&self, counts: &RouteCounts, funded: &[Funded]) {
        let (base, other) = (&self.base, &self.other);
        let merchant: WireAddress = MERCHANT.parse().unwrap();
        let base_usdc = wire(&base.tokens["USDC"].address);
        let eth_usdt = wire(&other.tokens["USDT"].address);
        let eth_usdc = wire(&other.tokens["USDC"].address);
        let base_hot = wire(&base.gateway_hot_wallet.address);
        let eth_hot = wire(&other.gateway_hot_wallet.address);
        let pair = wire(&other.dex.pairs["USDC/USDT"]);
        let (base_node, eth_node) = (&self.base_node, &self.eth_node);
        let (base_from, eth_from) = (self.base_from, self.eth_from);
        let n = |k: &str| counts.n(k);
        let merchant_after = token_balance(base_node, base_usdc, merchant).await;
        assert_eq!(
            merchant_after - self.merchant_before,
            counts.settled,
            "merchant USDC"
        );
        assert_eq!(
            logs(
                base_node,
                transfer_logs(base_usdc, base_hot, merchant, base_from)
            )
            .await,
            n("settlement"),
            "hot wallet USDC transfers to the merchant"
        );
        assert_eq!(
            logs(
                eth_node,
                Filter::new()
                    .address(pair)
                    .event("Swap(address,uint256,uint256,uint256,uint256,address)")
                    .from_block(eth_from)
            )
            .await,
            n("dex_swap"),
            "swaps on the USDC/USDT pair"
        );
        assert_eq!(
            logs(eth_node, transfer_logs(eth_usdt, eth_hot, pair, eth_from)).await,
            n("dex_swap"),
            "hot wallet USDT into the pair"
        );
        let minter_eth = wire(&other.minter.address);
        assert_eq!(
            logs(
                eth_node,
                transfer_logs(eth_usdc, eth_hot, minter_eth, eth_from)
            )
            .await,
            n("bridge"),
            "USDC delivered to the bridge"
        );
        assert_eq!(
            logs(
                base_node,
                transfer_logs(base_usdc, WireAddress::ZERO, base_hot, base_from)
            )
            .await,
            n("bridge"),
            "USDC minted to the hot wallet on devnet-base"
        );
        for (p, payer) in other.payers.iter().enumerate() {
            let address = wire(&payer.address);
            let sent: U256 = funded
                .iter()
                .filter(|f| f.payer == p)
                .map(|f| f.units)
                .fold(U256::ZERO, |a, b| a + b);
            let after = token_balance(eth_node, eth_usdt, address).await;
            assert_eq!(
                self.payers_before[p] - after,
                sent - counts.returned[p],
                "payer {p} USDT"
            );
            assert_eq!(
                logs(
                    eth_node,
                    transfer_logs(eth_usdt, eth_hot, address, eth_from)
                )
                .await,
                counts.returns[p],
                "USDT sent back to payer {p}"
            );
        }
    }
}

/// In the store: one rail transaction per (purpose, reference), each funded execution bound
/// to the transfer that paid it, and as many stored swaps as confirmed ones.
pub async fn check_route_store(url: &str, funded: &[Funded], other: &ChainManifest, swaps: usize) {
    use sqlx::Row;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let dup = sqlx::query(
        "SELECT purpose, reference, COUNT(*) AS n FROM chain_transfers \
         GROUP BY purpose, reference HAVING COUNT(*) > 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        dup.is_empty(),
        "{:?}",
        dup.iter()
            .map(|r| r.get::<String, _>("reference"))
            .collect::<Vec<_>>()
    );
    for f in funded {
        let bound = sqlx::query("SELECT funding_ref FROM route_executions WHERE id = $1")
            .bind(f.exec.clone())
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<Option<String>, _>("funding_ref");
        assert_eq!(
            bound.as_deref(),
            Some(format!("{}:{}", other.chain_id, f.tx).as_str()),
            "{}",
            f.exec
        );
    }
    let stored =
        sqlx::query("SELECT COUNT(*) AS n FROM chain_transfers WHERE purpose = 'route_swap'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .get::<i64, _>("n");
    assert_eq!(usize::try_from(stored).unwrap(), swaps, "stored swaps");
    pool.close().await;
}

/// The ledger balances, every transaction of it, and `rialto:routing` holds nothing of the
/// routed payments once they ended.
pub async fn check_routing_ledger(url: &str) {
    use rialto_gateway::store::ledger::LedgerStore;
    super::ledger_invariant(url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let store = rialto_gateway::store::SqlStore::connect(url, 1, super::registry())
        .await
        .unwrap();
    let mut held = BTreeMap::<String, Decimal>::new();
    for posting in store.all_postings().await.unwrap() {
        posting.check().unwrap_or_else(|e| panic!("{e}"));
        for e in posting.entries {
            if e.account == rialto_gateway::ledger::Account::Routing {
                *held.entry(e.asset).or_default() += e.amount;
            }
        }
    }
    assert!(!held.is_empty(), "the routes were booked");
    assert!(
        held.values().all(|v| v.is_zero()),
        "rialto:routing holds {held:?}"
    );
}

/// A reconciliation run (`rialto reconcile run`) over the database: it succeeds, reports no
/// exception, explains every transfer it observed, and matched at least `min_matched`.
pub fn check_reconciliation(url: &str, manifest: &str, min_matched: u64) -> Value {
    let out = super::chaos::rialto(&[
        "reconcile",
        "run",
        "--database-url",
        url,
        "--devnet-manifest",
        manifest,
    ])
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["exceptions"], json!({}), "{run}");
    assert_eq!(run["observed"], run["matched"], "{run}");
    assert!(run["matched"].as_u64().unwrap() >= min_matched, "{run}");
    run
}
