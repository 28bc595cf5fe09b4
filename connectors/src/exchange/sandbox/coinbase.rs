//! The Coinbase dialect of the sandbox: Advanced Trade `/api/v3/brokerage` and the App `/v2`
//! sends and addresses, as the Coinbase client uses them. Account ids are `sandbox-<ASSET>`.

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::engine::{Fill, Refusal, SandboxOrder, SandboxWithdrawal};
use super::server::{Reply, Req};
use super::Shared;
use crate::exchange::{AssetCode, Pair, Side, WithdrawalStatus};

pub(super) async fn handle(shared: &Shared, req: &Req) -> Reply {
    let path = req.path.as_str();
    let post = req.method.as_str() == "POST";
    if let Some(rest) = path.strip_prefix("/v2/accounts/") {
        let mut parts = rest.split('/');
        let asset = parts
            .next()
            .and_then(|a| a.strip_prefix("sandbox-"))
            .and_then(AssetCode::new);
        let Some(asset) = asset else {
            return v2_error(404, "not_found", "Account not found");
        };
        return match (post, parts.next(), parts.next()) {
            (true, Some("transactions"), None) => send(shared, req, &asset).await,
            (false, Some("transactions"), None) => transactions(shared, &asset, None),
            (false, Some("transactions"), Some(id)) => transactions(shared, &asset, Some(id)),
            (false, Some("addresses"), None) => addresses(shared, &asset),
            _ => v2_error(404, "not_found", "Not found"),
        };
    }
    match (post, path) {
        (false, "/api/v3/brokerage/accounts") => accounts(shared),
        (false, "/api/v3/brokerage/key_permissions") => {
            let name = super::auth::coinbase_key_name(req);
            let key = super::auth::permissions(shared, name.as_deref());
            Reply::json(
                200,
                json!({ "can_view": key.read, "can_trade": key.trade,
                    "can_transfer": key.withdraw, "portfolio_uuid": "sandbox-portfolio",
                    "portfolio_type": "DEFAULT" }),
            )
        }
        (false, "/v2/user") => {
            // The App API's current user: the sandbox knows a holder only for configured keys.
            let name = super::auth::coinbase_key_name(req);
            let key = super::auth::permissions(shared, name.as_deref());
            Reply::json(
                200,
                json!({ "data": { "id": "sandbox-user", "name": key.holder,
                    "resource": "user", "resource_path": "/v2/user/sandbox-user" } }),
            )
        }
        (false, "/api/v3/brokerage/product_book") => product_book(shared, req),
        (true, "/api/v3/brokerage/orders") => create_order(shared, req),
        (false, "/api/v3/brokerage/orders/historical/batch") => list_orders(shared, req),
        (false, p) if p.starts_with("/api/v3/brokerage/orders/historical/") => get_order(
            shared,
            p.trim_start_matches("/api/v3/brokerage/orders/historical/"),
        ),
        _ => Reply::json(
            404,
            json!({ "error": "NOT_FOUND", "message": "no such sandbox endpoint" }),
        ),
    }
}

fn v2_error(status: u16, id: &str, message: &str) -> Reply {
    Reply::json(
        status,
        json!({ "errors": [{ "id": id, "message": message }] }),
    )
}

fn product(pair: &Pair) -> String {
    format!("{}-{}", pair.base, pair.quote)
}

fn pair_of(shared: &Shared, product_id: &str) -> Option<Pair> {
    shared.engine().pair_by(|p| product(p) == product_id)
}

fn accounts(shared: &Shared) -> Reply {
    let engine = shared.engine();
    let list: Vec<Value> = engine
        .balances
        .iter()
        .map(|(a, v)| {
            json!({ "uuid": format!("sandbox-{a}"), "currency": a.as_str(),
            "available_balance": { "value": v.to_string(), "currency": a.as_str() },
            "hold": { "value": "0", "currency": a.as_str() } })
        })
        .collect();
    Reply::json(
        200,
        json!({ "accounts": list, "has_next": false, "cursor": "", "size": engine.balances.len() }),
    )
}

fn product_book(shared: &Shared, req: &Req) -> Reply {
    let not_found = || {
        Reply::json(
            404,
            json!({ "error": "NOT_FOUND", "message": "product not found" }),
        )
    };
    let Some(pair) = req.param("product_id").and_then(|p| pair_of(shared, p)) else {
        return not_found();
    };
    let engine = shared.engine();
    let Some(book) = engine.books.get(&pair) else {
        return not_found();
    };
    let levels = |ls: &[crate::exchange::BookLevel]| -> Vec<Value> {
        ls.iter()
            .map(|l| json!({ "price": l.price.to_string(), "size": l.size.to_string() }))
            .collect()
    };
    Reply::json(
        200,
        json!({ "pricebook": { "product_id": product(&pair), "bids": levels(&book.bids), "asks": levels(&book.asks) } }),
    )
}

fn failure(reason: &str, message: &str) -> Reply {
    Reply::json(
        200,
        json!({ "success": false, "error_response": { "error": reason, "message": message,
        "error_details": "", "preview_failure_reason": "", "new_order_failure_reason": reason } }),
    )
}

fn create_order(shared: &Shared, req: &Req) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return failure("INVALID_REQUEST", "body is not JSON");
    };
    let Some(pair) = body["product_id"].as_str().and_then(|p| pair_of(shared, p)) else {
        return failure("INVALID_PRODUCT_ID", "Invalid product_id");
    };
    let side = match body["side"].as_str() {
        Some("BUY") => Side::Buy,
        Some("SELL") => Side::Sell,
        _ => return failure("INVALID_SIDE", "Invalid side"),
    };
    let config = &body["order_configuration"];
    let (size, limit) = if let Some(m) = config.get("market_market_ioc") {
        (
            m["base_size"]
                .as_str()
                .and_then(|s| s.parse::<Decimal>().ok()),
            None,
        )
    } else if let Some(l) = config.get("sor_limit_ioc") {
        (
            l["base_size"].as_str().and_then(|s| s.parse().ok()),
            l["limit_price"].as_str().and_then(|s| s.parse().ok()),
        )
    } else {
        return failure(
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "Unsupported order configuration",
        );
    };
    let Some(size) = size else {
        return failure("INVALID_SIZE_PRECISION", "Invalid base_size");
    };
    let client_id = body["client_order_id"].as_str().unwrap_or_default();
    match shared.place(&pair, side, size, limit, client_id) {
        Ok(o) => Reply::json(
            200,
            json!({ "success": true, "success_response": { "order_id": o.id, "product_id": product(&pair),
            "side": body["side"], "client_order_id": o.client_id } }),
        ),
        Err(Refusal::InsufficientFunds) => failure(
            "INSUFFICIENT_FUND",
            "Insufficient balance in source account",
        ),
        Err(Refusal::BelowMinimum) => failure(
            "PREVIEW_INVALID_BASE_SIZE_TOO_SMALL",
            "base size is too small",
        ),
        Err(_) => failure("INVALID_PRODUCT_ID", "Invalid product_id"),
    }
}

fn order_json(o: &SandboxOrder) -> Value {
    let status = match o.fill {
        Fill::Filled => "FILLED",
        Fill::Partial | Fill::Expired => "CANCELLED",
    };
    json!({ "order_id": o.id, "product_id": product(&o.pair), "client_order_id": o.client_id,
        "side": match o.side { Side::Buy => "BUY", Side::Sell => "SELL" }, "status": status,
        "filled_size": o.filled_base.to_string(), "filled_value": o.filled_quote.to_string(), "total_fees": o.fee.to_string() })
}

fn list_orders(shared: &Shared, req: &Req) -> Reply {
    let engine = shared.engine();
    let list: Vec<Value> = engine
        .orders
        .iter()
        .rev()
        .filter(|o| {
            req.param("product_ids")
                .is_none_or(|p| product(&o.pair) == p)
        })
        .take(100)
        .map(order_json)
        .collect();
    Reply::json(
        200,
        json!({ "orders": list, "has_next": false, "cursor": "" }),
    )
}

fn get_order(shared: &Shared, id: &str) -> Reply {
    match shared.engine().orders.iter().find(|o| o.id == id) {
        Some(o) => Reply::json(200, json!({ "order": order_json(o) })),
        None => Reply::json(
            404,
            json!({ "error": "NOT_FOUND", "message": "order not found" }),
        ),
    }
}

async fn send(shared: &Shared, req: &Req, asset: &AssetCode) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return v2_error(400, "invalid_request", "body is not JSON");
    };
    let (Some(to), Some(amount), Some(network)) = (
        body["to"].as_str(),
        body["amount"]
            .as_str()
            .and_then(|a| a.parse::<Decimal>().ok()),
        body["network"].as_str(),
    ) else {
        return v2_error(
            400,
            "validation_error",
            "to, amount and network are required",
        );
    };
    let chain = shared
        .engine()
        .network(asset, |n| n.coinbase == network)
        .map(|n| n.chain.clone());
    let Some(chain) = chain else {
        return v2_error(400, "validation_error", "Unsupported network");
    };
    match shared
        .withdraw(asset, &chain, to, amount, body["idem"].as_str())
        .await
    {
        Ok(w) => Reply::json(201, json!({ "data": transaction_json(shared, &w) })),
        Err(Refusal::InsufficientFunds) => {
            v2_error(400, "validation_error", "You don't have that much.")
        }
        Err(Refusal::BelowMinimum) => {
            v2_error(400, "validation_error", "Amount is below the minimum")
        }
        Err(Refusal::NotWhitelisted) => {
            v2_error(400, "validation_error", "Address is not in your allowlist")
        }
        Err(Refusal::UnknownNetwork | Refusal::UnknownPair) => {
            v2_error(400, "validation_error", "Unsupported network")
        }
    }
}

fn transaction_json(shared: &Shared, w: &SandboxWithdrawal) -> Value {
    let status = match w.status {
        WithdrawalStatus::Pending => "waiting_for_clearing",
        WithdrawalStatus::Processing => "pending",
        WithdrawalStatus::Completed => "completed",
        WithdrawalStatus::Failed => "failed",
        WithdrawalStatus::Canceled => "canceled",
    };
    let network = shared
        .engine()
        .network(&w.asset, |n| n.chain == w.chain)
        .map(|n| n.coinbase.clone());
    json!({ "id": w.id, "type": "send", "status": status, "idem": w.reference,
        "amount": { "amount": (-w.amount).to_string(), "currency": w.asset.as_str() },
        "network": { "name": network, "hash": w.tx_hash, "transaction_fee": { "amount": w.fee.to_string(), "currency": w.asset.as_str() } },
        "to": { "address": w.address } })
}

fn transactions(shared: &Shared, asset: &AssetCode, id: Option<&str>) -> Reply {
    let list: Vec<SandboxWithdrawal> = shared
        .engine()
        .withdrawals
        .iter()
        .rev()
        .filter(|w| &w.asset == asset && id.is_none_or(|id| w.id == id))
        .cloned()
        .collect();
    match id {
        Some(_) => match list.first() {
            Some(w) => Reply::json(200, json!({ "data": transaction_json(shared, w) })),
            None => v2_error(404, "not_found", "Transaction not found"),
        },
        None => Reply::json(
            200,
            json!({ "data": list.iter().map(|w| transaction_json(shared, w)).collect::<Vec<_>>() }),
        ),
    }
}

fn addresses(shared: &Shared, asset: &AssetCode) -> Reply {
    let engine = shared.engine();
    let list: Vec<Value> = engine
        .networks
        .iter()
        .filter(|n| &n.asset == asset)
        .map(|n| json!({ "id": format!("addr-{}", n.coinbase), "address": n.deposit_address, "network": n.coinbase }))
        .collect();
    Reply::json(200, json!({ "data": list }))
}
