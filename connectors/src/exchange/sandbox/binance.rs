//! The Binance dialect of the sandbox: `/api/v3` and `/sapi/v1/capital`, as the Binance client
//! uses them.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::engine::{Fill, Refusal, SandboxOrder, SandboxWithdrawal};
use super::server::{Reply, Req};
use super::Shared;
use crate::exchange::{AssetCode, Pair, Side, WithdrawalStatus};

pub(super) async fn handle(shared: &Shared, req: &Req) -> Reply {
    let mut reply = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/api/v3/account") => account(shared),
        ("GET", "/sapi/v1/account/apiRestrictions") => {
            let key = super::auth::permissions(shared, req.header("x-mbx-apikey"));
            Reply::json(
                200,
                json!({ "ipRestrict": false, "createTime": 0, "enableReading": key.read,
                    "enableSpotAndMarginTrading": key.trade, "enableWithdrawals": key.withdraw,
                    "enableInternalTransfer": false, "enableMargin": false,
                    "enableFutures": false, "permitsUniversalTransfer": false }),
            )
        }
        ("GET", "/api/v3/depth") => depth(shared, req),
        ("POST", "/api/v3/order") => place(shared, req),
        ("GET", "/api/v3/order") => query_order(shared, req),
        ("GET", "/sapi/v1/capital/config/getall") => coin_config(shared),
        ("POST", "/sapi/v1/capital/withdraw/apply") => withdraw(shared, req).await,
        ("GET", "/sapi/v1/capital/withdraw/history") => history(shared, req),
        ("GET", "/sapi/v1/capital/deposit/address") => deposit_address(shared, req),
        _ => error(404, -1100, "Unknown sandbox endpoint."),
    };
    // A constant, modest weight: enough for the client's accounting to see the header.
    reply
        .headers
        .push(("X-MBX-USED-WEIGHT-1M", "10".to_owned()));
    reply
}

fn error(status: u16, code: i64, msg: &str) -> Reply {
    Reply::json(status, json!({ "code": code, "msg": msg }))
}

fn refusal(r: &Refusal) -> Reply {
    match r {
        Refusal::InsufficientFunds => error(
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        Refusal::BelowMinimum => error(400, -1013, "Filter failure: NOTIONAL"),
        Refusal::UnknownPair => error(400, -1121, "Invalid symbol."),
        Refusal::UnknownNetwork => error(400, -4003, "Network not supported for this coin."),
        Refusal::NotWhitelisted => error(400, -4014, "Withdrawal address is not in the whitelist."),
    }
}

fn symbol_pair(shared: &Shared, req: &Req) -> Option<Pair> {
    let symbol = req.param("symbol")?;
    shared
        .engine()
        .pair_by(|p| format!("{}{}", p.base, p.quote) == symbol)
}

fn account(shared: &Shared) -> Reply {
    let engine = shared.engine();
    let balances: Vec<Value> = engine
        .balances
        .iter()
        .map(|(asset, free)| json!({ "asset": asset.as_str(), "free": free.to_string(), "locked": "0" }))
        .collect();
    Reply::json(
        200,
        json!({ "canTrade": true, "canWithdraw": true, "accountType": "SPOT", "balances": balances }),
    )
}

fn depth(shared: &Shared, req: &Req) -> Reply {
    let Some(pair) = symbol_pair(shared, req) else {
        return refusal(&Refusal::UnknownPair);
    };
    let engine = shared.engine();
    let Some(book) = engine.books.get(&pair) else {
        return refusal(&Refusal::UnknownPair);
    };
    let levels = |ls: &[crate::exchange::BookLevel]| -> Vec<Value> {
        ls.iter()
            .map(|l| json!([l.price.to_string(), l.size.to_string()]))
            .collect()
    };
    Reply::json(
        200,
        json!({ "lastUpdateId": 1, "bids": levels(&book.bids), "asks": levels(&book.asks) }),
    )
}

fn order_json(o: &SandboxOrder, with_fills: bool) -> Value {
    let status = match o.fill {
        Fill::Filled => "FILLED",
        Fill::Partial | Fill::Expired => "EXPIRED",
    };
    let mut v = json!({
        "symbol": format!("{}{}", o.pair.base, o.pair.quote),
        "orderId": o.id.trim_start_matches("ord-").parse::<u64>().unwrap_or_default(),
        "clientOrderId": o.client_id,
        "origQty": o.base_size.to_string(),
        "executedQty": o.filled_base.to_string(),
        "cummulativeQuoteQty": o.filled_quote.to_string(),
        "status": status,
        "side": match o.side { Side::Buy => "BUY", Side::Sell => "SELL" },
        "transactTime": o.time_ms,
    });
    if with_fills && o.filled_base > Decimal::ZERO {
        v["fills"] = json!([{ "price": (o.filled_quote / o.filled_base).to_string(), "qty": o.filled_base.to_string(),
            "commission": o.fee.to_string(), "commissionAsset": o.pair.quote.as_str() }]);
    }
    v
}

fn place(shared: &Shared, req: &Req) -> Reply {
    let Some(pair) = symbol_pair(shared, req) else {
        return refusal(&Refusal::UnknownPair);
    };
    let side = match req.param("side") {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        _ => return error(400, -1102, "Mandatory parameter 'side' was not sent."),
    };
    let Some(size) = req
        .param("quantity")
        .and_then(|q| q.parse::<Decimal>().ok())
    else {
        return error(400, -1102, "Mandatory parameter 'quantity' was not sent.");
    };
    let limit = match req.param("type") {
        Some("MARKET") => None,
        Some("LIMIT") => req.param("price").and_then(|p| p.parse().ok()),
        _ => return error(400, -1116, "Invalid orderType."),
    };
    let client_id = req.param("newClientOrderId").unwrap_or_default();
    match shared.place(&pair, side, size, limit, client_id) {
        Ok(order) => Reply::json(200, order_json(&order, true)),
        Err(r) => refusal(&r),
    }
}

fn query_order(shared: &Shared, req: &Req) -> Reply {
    let engine = shared.engine();
    let found = engine.orders.iter().find(|o| {
        req.param("orderId").is_some_and(|id| {
            o.id.trim_start_matches("ord-").trim_start_matches('0') == id.trim_start_matches('0')
        }) || req
            .param("origClientOrderId")
            .is_some_and(|c| o.client_id == c)
    });
    match found {
        Some(order) => Reply::json(200, order_json(order, false)),
        None => error(400, -2013, "Order does not exist."),
    }
}

fn coin_config(shared: &Shared) -> Reply {
    let engine = shared.engine();
    let mut coins: Vec<Value> = Vec::new();
    for asset in engine
        .networks
        .iter()
        .map(|n| n.asset.clone())
        .collect::<std::collections::BTreeSet<AssetCode>>()
    {
        let list: Vec<Value> = engine
            .networks
            .iter()
            .filter(|n| n.asset == asset)
            .map(|n| json!({ "network": n.binance, "coin": asset.as_str(), "withdrawFee": n.withdrawal_fee.to_string(),
                "withdrawMin": n.withdrawal_minimum.to_string(), "withdrawEnable": true, "depositEnable": true }))
            .collect();
        coins.push(json!({ "coin": asset.as_str(), "networkList": list }));
    }
    Reply::json(200, Value::Array(coins))
}

async fn withdraw(shared: &Shared, req: &Req) -> Reply {
    let (Some(coin), Some(network), Some(address), Some(amount)) = (
        req.param("coin"),
        req.param("network"),
        req.param("address"),
        req.param("amount").and_then(|a| a.parse::<Decimal>().ok()),
    ) else {
        return error(400, -1102, "Mandatory parameter missing.");
    };
    let Some(asset) = AssetCode::new(coin) else {
        return refusal(&Refusal::UnknownNetwork);
    };
    let chain = shared
        .engine()
        .network(&asset, |n| n.binance == network)
        .map(|n| n.chain.clone());
    let Some(chain) = chain else {
        return refusal(&Refusal::UnknownNetwork);
    };
    match shared
        .withdraw(
            &asset,
            &chain,
            address,
            amount,
            req.param("withdrawOrderId"),
        )
        .await
    {
        Ok(w) => Reply::json(200, json!({ "id": w.id })),
        Err(r) => refusal(&r),
    }
}

fn withdrawal_json(shared: &Shared, w: &SandboxWithdrawal) -> Value {
    let status = match w.status {
        WithdrawalStatus::Pending => 4,
        WithdrawalStatus::Processing => 4,
        WithdrawalStatus::Completed => 6,
        WithdrawalStatus::Failed => 5,
        WithdrawalStatus::Canceled => 1,
    };
    let network = shared
        .engine()
        .network(&w.asset, |n| n.chain == w.chain)
        .map(|n| n.binance.clone())
        .unwrap_or_default();
    json!({ "id": w.id, "amount": (w.amount - w.fee).to_string(), "transactionFee": w.fee.to_string(), "coin": w.asset.as_str(),
        "status": status, "address": w.address, "txId": w.tx_hash.clone().unwrap_or_default(), "network": network,
        "withdrawOrderId": w.reference.clone().unwrap_or_default() })
}

fn history(shared: &Shared, req: &Req) -> Reply {
    let matching: Vec<SandboxWithdrawal> = shared
        .engine()
        .withdrawals
        .iter()
        .filter(|w| req.param("coin").is_none_or(|c| w.asset.as_str() == c))
        .filter(|w| {
            req.param("idList")
                .is_none_or(|ids| ids.split(',').any(|id| id == w.id))
        })
        .filter(|w| {
            req.param("withdrawOrderId")
                .is_none_or(|r| w.reference.as_deref() == Some(r))
        })
        .cloned()
        .collect();
    Reply::json(
        200,
        Value::Array(
            matching
                .iter()
                .map(|w| withdrawal_json(shared, w))
                .collect(),
        ),
    )
}

fn deposit_address(shared: &Shared, req: &Req) -> Reply {
    let asset = req.param("coin").and_then(AssetCode::new);
    let network = req.param("network").unwrap_or_default();
    let engine = shared.engine();
    match asset.and_then(|a| engine.network(&a, |n| n.binance == network).cloned()) {
        Some(n) => Reply::json(
            200,
            json!({ "address": n.deposit_address, "coin": n.asset.as_str(), "tag": "", "url": "" }),
        ),
        None => refusal(&Refusal::UnknownNetwork),
    }
}
