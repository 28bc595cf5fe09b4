//! The Kraken dialect of the sandbox: `/0/public` and `/0/private`, as the Kraken client uses
//! them. Answers are always HTTP 200 with Kraken's `error` / `result` envelope.

use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

use super::engine::{Fill, Refusal, SandboxOrder, SandboxWithdrawal};
use super::server::{Reply, Req};
use super::Shared;
use crate::exchange::{AssetCode, Pair, Side, WithdrawalStatus};

pub(super) async fn handle(shared: &Shared, req: &Req) -> Reply {
    let method = req
        .path
        .trim_start_matches("/0/private/")
        .trim_start_matches("/0/public/");
    match method {
        "Balance" => ok(balance(shared)),
        "Depth" => depth(shared, req),
        "AddOrder" => add_order(shared, req),
        "QueryOrders" => query_orders(shared, req),
        "OpenOrders" => ok(json!({ "open": {} })),
        "ClosedOrders" => closed_orders(shared, req),
        "WithdrawMethods" => withdraw_methods(shared, req),
        "WithdrawInfo" => withdraw_info(shared, req),
        "Withdraw" => withdraw(shared, req).await,
        "WithdrawStatus" => withdraw_status(shared, req),
        "DepositAddresses" => deposit_addresses(shared, req),
        _ => fail("EGeneral:Unknown method"),
    }
}

fn ok(result: Value) -> Reply {
    Reply::json(200, json!({ "error": [], "result": result }))
}

fn fail(error: &str) -> Reply {
    Reply::json(200, json!({ "error": [error] }))
}

fn refusal(r: &Refusal) -> Reply {
    fail(match r {
        Refusal::InsufficientFunds => "EOrder:Insufficient funds",
        Refusal::BelowMinimum => "EOrder:Order minimum not met",
        Refusal::UnknownPair => "EQuery:Unknown asset pair",
        Refusal::UnknownNetwork => "EFunding:Unknown withdraw key",
        Refusal::NotWhitelisted => "EFunding:Unknown withdraw key",
    })
}

/// Kraken's spellings: BTC is XBT in requests and XXBT in balances; USD is ZUSD there.
fn request_name(asset: &AssetCode) -> String {
    match asset.as_str() {
        "BTC" => "XBT".to_owned(),
        other => other.to_owned(),
    }
}

fn balance_name(asset: &AssetCode) -> String {
    match asset.as_str() {
        "BTC" => "XXBT".to_owned(),
        "ETH" => "XETH".to_owned(),
        "USD" => "ZUSD".to_owned(),
        "EUR" => "ZEUR".to_owned(),
        other => other.to_owned(),
    }
}

fn asset_param(req: &Req) -> Option<AssetCode> {
    let name = req.param("asset")?;
    AssetCode::new(if name == "XBT" { "BTC" } else { name })
}

fn pair_param(shared: &Shared, req: &Req) -> Option<Pair> {
    let name = req.param("pair")?;
    shared
        .engine()
        .pair_by(|p| format!("{}{}", request_name(&p.base), request_name(&p.quote)) == name)
}

fn balance(shared: &Shared) -> Value {
    let engine = shared.engine();
    let map: Map<String, Value> = engine
        .balances
        .iter()
        .map(|(a, v)| (balance_name(a), json!(v.to_string())))
        .collect();
    Value::Object(map)
}

fn depth(shared: &Shared, req: &Req) -> Reply {
    let Some(pair) = pair_param(shared, req) else {
        return refusal(&Refusal::UnknownPair);
    };
    let engine = shared.engine();
    let Some(book) = engine.books.get(&pair) else {
        return refusal(&Refusal::UnknownPair);
    };
    let levels = |ls: &[crate::exchange::BookLevel]| -> Vec<Value> {
        ls.iter()
            .map(|l| json!([l.price.to_string(), l.size.to_string(), 1_764_579_600]))
            .collect()
    };
    let key = format!("{}{}", balance_name(&pair.base), balance_name(&pair.quote));
    ok(json!({ key: { "asks": levels(&book.asks), "bids": levels(&book.bids) } }))
}

fn add_order(shared: &Shared, req: &Req) -> Reply {
    let Some(pair) = pair_param(shared, req) else {
        return refusal(&Refusal::UnknownPair);
    };
    let side = match req.param("type") {
        Some("buy") => Side::Buy,
        Some("sell") => Side::Sell,
        _ => return fail("EGeneral:Invalid arguments:type"),
    };
    let Some(volume) = req.param("volume").and_then(|v| v.parse::<Decimal>().ok()) else {
        return fail("EGeneral:Invalid arguments:volume");
    };
    let limit = match req.param("ordertype") {
        Some("market") => None,
        Some("limit") => req.param("price").and_then(|p| p.parse().ok()),
        _ => return fail("EGeneral:Invalid arguments:ordertype"),
    };
    match shared.place(
        &pair,
        side,
        volume,
        limit,
        req.param("cl_ord_id").unwrap_or_default(),
    ) {
        Ok(order) => {
            ok(json!({ "descr": { "order": format!("{side:?} {volume}") }, "txid": [order.id] }))
        }
        Err(r) => refusal(&r),
    }
}

fn order_json(o: &SandboxOrder) -> Value {
    let status = match o.fill {
        Fill::Filled | Fill::Partial => "closed",
        Fill::Expired => "canceled",
    };
    json!({ "cl_ord_id": o.client_id, "status": status, "vol": o.base_size.to_string(), "vol_exec": o.filled_base.to_string(),
        "cost": o.filled_quote.to_string(), "fee": o.fee.to_string(),
        "descr": { "pair": format!("{}{}", request_name(&o.pair.base), request_name(&o.pair.quote)),
            "type": match o.side { Side::Buy => "buy", Side::Sell => "sell" } } })
}

fn query_orders(shared: &Shared, req: &Req) -> Reply {
    let wanted: Vec<&str> = req.param("txid").unwrap_or_default().split(',').collect();
    let engine = shared.engine();
    let map: Map<String, Value> = engine
        .orders
        .iter()
        .filter(|o| wanted.contains(&o.id.as_str()))
        .map(|o| (o.id.clone(), order_json(o)))
        .collect();
    ok(Value::Object(map))
}

fn closed_orders(shared: &Shared, req: &Req) -> Reply {
    let engine = shared.engine();
    let map: Map<String, Value> = engine
        .orders
        .iter()
        .filter(|o| req.param("cl_ord_id").is_none_or(|c| o.client_id == c))
        .map(|o| (o.id.clone(), order_json(o)))
        .collect();
    ok(json!({ "count": map.len(), "closed": map }))
}

/// Kraken's `asset` is optional here: without it, every asset's methods.
fn withdraw_methods(shared: &Shared, req: &Req) -> Reply {
    let wanted = asset_param(req);
    if req.param("asset").is_some() && wanted.is_none() {
        return refusal(&Refusal::UnknownNetwork);
    }
    let engine = shared.engine();
    let methods: Vec<Value> = engine
        .networks
        .iter()
        .filter(|n| wanted.as_ref().is_none_or(|a| &n.asset == a))
        .map(|n| json!({ "asset": request_name(&n.asset), "method": format!("{} - {}", n.asset, n.kraken), "network": n.kraken,
            "minimum": n.withdrawal_minimum.to_string() }))
        .collect();
    ok(Value::Array(methods))
}

fn key_names(key: &str, network: &str) -> bool {
    key.to_ascii_lowercase()
        .ends_with(&network.to_ascii_lowercase())
}

/// Kraken withdraws to named keys. In the sandbox a key names its network by its ending
/// (`merchant-base` is on the network Kraken calls `Base`), and the client's `address`
/// parameter carries the address.
fn withdraw_info(shared: &Shared, req: &Req) -> Reply {
    let Some(asset) = asset_param(req) else {
        return refusal(&Refusal::UnknownNetwork);
    };
    let key = req.param("key").unwrap_or_default();
    let engine = shared.engine();
    match engine.network(&asset, |n| key_names(key, &n.kraken)) {
        Some(n) => ok(
            json!({ "method": n.kraken, "limit": "1000000", "amount": req.param("amount").unwrap_or("0"),
            "fee": n.withdrawal_fee.to_string() }),
        ),
        None => refusal(&Refusal::UnknownNetwork),
    }
}

async fn withdraw(shared: &Shared, req: &Req) -> Reply {
    let (Some(asset), Some(address), Some(amount)) = (
        asset_param(req),
        req.param("address"),
        req.param("amount").and_then(|a| a.parse::<Decimal>().ok()),
    ) else {
        return fail("EGeneral:Invalid arguments");
    };
    let key = req.param("key").unwrap_or_default();
    let chain = shared
        .engine()
        .network(&asset, |n| key_names(key, &n.kraken))
        .map(|n| n.chain.clone());
    let Some(chain) = chain else {
        return refusal(&Refusal::UnknownNetwork);
    };
    // Kraken takes no client reference for withdrawals.
    match shared.withdraw(&asset, &chain, address, amount, None).await {
        Ok(w) => ok(json!({ "refid": w.id })),
        Err(r) => refusal(&r),
    }
}

fn withdrawal_json(shared: &Shared, w: &SandboxWithdrawal) -> Value {
    let status = match w.status {
        WithdrawalStatus::Pending => "Pending",
        WithdrawalStatus::Processing => "Settled",
        WithdrawalStatus::Completed => "Success",
        WithdrawalStatus::Failed | WithdrawalStatus::Canceled => "Failure",
    };
    let network = shared
        .engine()
        .network(&w.asset, |n| n.chain == w.chain)
        .map(|n| n.kraken.clone());
    json!({ "refid": w.id, "network": network, "info": w.address, "amount": (w.amount - w.fee).to_string(),
        "fee": w.fee.to_string(), "txid": w.tx_hash, "time": w.time_ms / 1000, "status": status })
}

fn withdraw_status(shared: &Shared, req: &Req) -> Reply {
    let asset = asset_param(req);
    let list: Vec<SandboxWithdrawal> = shared
        .engine()
        .withdrawals
        .iter()
        .filter(|w| asset.as_ref().is_none_or(|a| &w.asset == a))
        .cloned()
        .collect();
    ok(Value::Array(
        list.iter().map(|w| withdrawal_json(shared, w)).collect(),
    ))
}

fn deposit_addresses(shared: &Shared, req: &Req) -> Reply {
    let Some(asset) = asset_param(req) else {
        return refusal(&Refusal::UnknownNetwork);
    };
    let method = req.param("method").unwrap_or_default();
    let engine = shared.engine();
    match engine.network(&asset, |n| method.ends_with(n.kraken.as_str())) {
        Some(n) => ok(json!([{ "address": n.deposit_address, "expiretm": "0", "new": false }])),
        None => refusal(&Refusal::UnknownNetwork),
    }
}
