//! Sending and asking about legs: venue clients and their requests, chain legs, lookups after a crash.

use super::*;

/// The payer's venue client, from the credentials sealed on their exchange account.
pub(super) async fn venue_client(
    state: &Engine,
    exec: &RouteExecution,
    account: &str,
    venue: &str,
    coin: &AssetCode,
    network: &rialto_core::ChainId,
    address: Option<&str>,
) -> Result<Box<dyn Exchange>, ExecError> {
    let accounts = state
        .store
        .exchange_accounts_of(&exec.payment_intent_id)
        .await
        .map_err(|e| e.to_string())?;
    let account = accounts
        .into_iter()
        .find(|a| a.id == account)
        .ok_or("the exchange account is gone")?;
    let opened = state
        .sealer
        .open_for(
            &crate::webhooks::Sealer::row("exchange_accounts", &account.id),
            &account.sealed_credentials,
        )
        .map_err(|_| "the exchange credentials were erased".to_owned())?;
    let credentials: Credentials = serde_json::from_str(&opened).map_err(|e| e.to_string())?;
    let venues = state
        .venues
        .get(&exec.livemode)
        .ok_or("no venues in this mode")?;
    let address = address.unwrap_or("0x000000000000000000000000000000000000dEaD");
    let target = crate::exchange::SettlementTarget {
        asset: coin,
        chain: network,
        address,
    };
    venues
        .client(venue, &credentials, target)
        .map_err(|e| ExecError::Invalid(e.to_string()))
}

pub(super) fn exchange_failure(err: &ExchangeError) -> Option<LegFailure> {
    crate::telemetry::venue_error(err);
    Some(match err {
        ExchangeError::RateLimited { .. } => LegFailure::RateLimited,
        ExchangeError::Unavailable { .. } => LegFailure::VenueUnavailable,
        ExchangeError::InsufficientLiquidity { .. } => LegFailure::InsufficientLiquidity,
        ExchangeError::Unknown { .. } => return None,
        _ => LegFailure::Rejected,
    })
}

pub(super) fn order_request(leg: &LegId, spec: &LegSpec) -> Option<OrderRequest> {
    let LegSpec::Trade {
        base,
        quote,
        side,
        base_size,
        ..
    } = spec
    else {
        return None;
    };
    Some(OrderRequest {
        leg: *leg,
        pair: Pair::new(AssetCode::new(base)?, AssetCode::new(quote)?),
        side: *side,
        base_size: *base_size,
        kind: OrderKind::Market,
    })
}

pub(super) fn withdrawal_request(leg: &LegId, spec: &LegSpec) -> Option<WithdrawalRequest> {
    let LegSpec::Withdrawal {
        asset,
        network,
        address,
        amount,
        ..
    } = spec
    else {
        return None;
    };
    Some(WithdrawalRequest {
        leg: *leg,
        asset: AssetCode::new(asset)?,
        network: network.parse().ok()?,
        address: address.clone(),
        amount: *amount,
    })
}

pub(super) fn exchange_funding(exec: &RouteExecution) -> Result<(String, String), ExecError> {
    match exec.funding.clone() {
        Funding::Exchange { account, venue } => Ok((account, venue)),
        Funding::Wallet { .. } => Err("a wallet payment has no exchange account".into()),
    }
}

/// The venue client for a trade or withdrawal leg.
pub(super) async fn leg_client(
    state: &Engine,
    exec: &RouteExecution,
    spec: &LegSpec,
) -> Result<Box<dyn Exchange>, ExecError> {
    let (account, _) = exchange_funding(exec)?;
    let (venue, coin, network, address) = match spec {
        LegSpec::Trade { venue, base, .. } => {
            let target = exec_target_chain(state, exec).await?;
            (venue, base, target, None)
        }
        LegSpec::Withdrawal {
            venue,
            asset,
            network,
            address,
            ..
        } => (
            venue,
            asset,
            network.parse().map_err(|_| format!("network {network}"))?,
            Some(address.as_str()),
        ),
        _ => return Err("not an exchange leg".into()),
    };
    let coin = AssetCode::new(coin).ok_or_else(|| format!("asset {coin}"))?;
    venue_client(state, exec, &account, venue, &coin, &network, address).await
}

pub(super) async fn exec_target_chain(
    state: &Engine,
    exec: &RouteExecution,
) -> Result<rialto_core::ChainId, ExecError> {
    let intent = intent_of(state, exec).await?;
    Ok(intent.settlement.asset.id.chain().clone())
}

pub(super) async fn send(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
    now_ms: i64,
) -> Sent {
    match spec {
        LegSpec::Unsupported { why } => Sent::Failed(LegFailure::Rejected, why.clone()),
        LegSpec::IssuerMint { mint } => {
            match crate::routing::issuer::send_mint(state, exec.livemode, leg, mint).await {
                Ok(reference) => Sent::Ok(Some(reference)),
                Err((Some(reason), why)) => Sent::Failed(reason, why),
                Err((None, why)) => Sent::Retry(why),
            }
        }
        LegSpec::Chain { leg: chain_leg } => {
            match onchain::submit(state, exec.livemode, leg, chain_leg, now_ms).await {
                Ok(()) => Sent::Ok(None),
                // Recorded but not broadcast (the node refused it, or went away): the rail
                // broadcasts stored legs again, so the leg is followed, never given up.
                Err(why) => match onchain::started(state, leg).await {
                    Ok(true) => Sent::Ok(None),
                    _ => Sent::Retry(why.to_string()),
                },
            }
        }
        LegSpec::Trade { .. } | LegSpec::Withdrawal { .. } => {
            let client = match leg_client(state, exec, spec).await {
                Ok(c) => c,
                Err(why) => return Sent::Retry(why.to_string()),
            };
            let policy = RetryPolicy::default();
            let placed = if let Some(order) = order_request(leg, spec) {
                place_order_once(client.as_ref(), &order, &policy)
                    .await
                    .map(|o| o.venue_order_id)
            } else if let Some(request) = withdrawal_request(leg, spec) {
                withdraw_once(client.as_ref(), &request, &policy)
                    .await
                    .map(|w| w.venue_withdrawal_id)
            } else {
                return Sent::Failed(LegFailure::Rejected, "malformed leg".into());
            };
            match placed {
                Ok(id) => Sent::Ok(Some(id)),
                Err(err) => match exchange_failure(&err) {
                    Some(reason) => Sent::Failed(reason, err.to_string()),
                    // The outcome was unknown even after the client's own look-ups: ask once
                    // more by the leg's reference. Found: it happened. Not found: the venue
                    // never took it (it failed). No answer: asked about from now on.
                    None => match lookup(client.as_ref(), leg, spec).await {
                        Ok(true) => Sent::Ok(None),
                        Ok(false) => Sent::Failed(LegFailure::VenueUnavailable, err.to_string()),
                        Err(_) => Sent::Ok(None),
                    },
                },
            }
        }
    }
}

/// Whether a leg left `sending` reached its venue or chain: `None` when that cannot be told
/// now. On-chain legs are recorded by the rail before they are broadcast, so a stored rail leg
/// answers; sending again returns the stored one.
pub(super) async fn was_sent(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
) -> Option<bool> {
    match spec {
        LegSpec::Chain { .. } => onchain::started(state, leg).await.ok(),
        LegSpec::IssuerMint { .. } => {
            crate::routing::issuer::was_sent(state, exec.livemode, leg).await
        }
        LegSpec::Unsupported { .. } => Some(false),
        LegSpec::Trade { .. } | LegSpec::Withdrawal { .. } => {
            let client = leg_client(state, exec, spec).await.ok()?;
            lookup(client.as_ref(), leg, spec).await.ok()
        }
    }
}

/// Whether the venue has the order or withdrawal of this leg.
pub(super) async fn lookup(
    client: &dyn Exchange,
    leg: &LegId,
    spec: &LegSpec,
) -> Result<bool, ExchangeError> {
    if let Some(order) = order_request(leg, spec) {
        return client.find_order(&order).await.map(|o| o.is_some());
    }
    match withdrawal_request(leg, spec) {
        Some(request) => client.find_withdrawal(&request).await.map(|w| w.is_some()),
        None => Ok(false),
    }
}

pub(super) async fn ask(
    state: &Engine,
    exec: &RouteExecution,
    leg: &LegId,
    spec: &LegSpec,
    now_ms: i64,
) -> Asked {
    match spec {
        LegSpec::Unsupported { why } => Asked::Failed(LegFailure::Rejected, why.clone()),
        LegSpec::IssuerMint { mint } => {
            use crate::routing::issuer::{progress, MintProgress};
            match progress(state, exec.livemode, leg, mint).await {
                MintProgress::Pending => Asked::Pending,
                MintProgress::Confirmed(amount, tx, block) => {
                    Asked::Confirmed(amount, Some((tx, block)))
                }
                MintProgress::Failed(why) => Asked::Failed(LegFailure::Rejected, why),
                MintProgress::Unknown(why) => {
                    tracing::warn!(%leg, %why, "issuer mint does not match its leg");
                    Asked::Unknown
                }
            }
        }
        LegSpec::Chain { leg: chain_leg } => {
            match onchain::progress(state, exec.livemode, leg, chain_leg, now_ms).await {
                Ok(LegProgress::Pending) => Asked::Pending,
                Err(why) => {
                    tracing::warn!(leg = %leg, error = %why, "on-chain leg status unavailable; will retry");
                    Asked::Pending
                }
                Ok(LegProgress::Confirmed {
                    received,
                    tx_hash,
                    block,
                }) => Asked::Confirmed(received, Some((tx_hash, block))),
                Ok(LegProgress::Failed { reverted, why }) => Asked::Failed(
                    if reverted {
                        LegFailure::Reverted
                    } else {
                        LegFailure::Rejected
                    },
                    why,
                ),
                Ok(LegProgress::Unknown) => Asked::Unknown,
            }
        }
        LegSpec::Trade { .. } => {
            let (Ok(client), Some(order)) = (
                leg_client(state, exec, spec).await,
                order_request(leg, spec),
            ) else {
                return Asked::Pending;
            };
            match client.find_order(&order).await {
                Ok(Some(o)) if o.status.is_final() || o.status == OrderStatus::Filled => {
                    let fee_in_base = o.fee_asset.as_ref() == Some(&order.pair.base);
                    let fee_in_quote = o.fee_asset.as_ref() == Some(&order.pair.quote);
                    let received = match order.side {
                        Side::Buy => {
                            o.filled_base - if fee_in_base { o.fee } else { Decimal::ZERO }
                        }
                        Side::Sell => {
                            o.filled_quote - if fee_in_quote { o.fee } else { Decimal::ZERO }
                        }
                    };
                    if received > Decimal::ZERO {
                        Asked::Confirmed(received, None)
                    } else {
                        Asked::Failed(
                            LegFailure::InsufficientLiquidity,
                            format!("the order ended {:?} unfilled", o.status),
                        )
                    }
                }
                Ok(Some(_)) => Asked::Pending,
                Ok(None) => Asked::Unknown,
                Err(_) => Asked::Pending,
            }
        }
        LegSpec::Withdrawal { network, .. } => {
            let (Ok(client), Some(request)) = (
                leg_client(state, exec, spec).await,
                withdrawal_request(leg, spec),
            ) else {
                return Asked::Pending;
            };
            match client.find_withdrawal(&request).await {
                Ok(Some(w)) => match (&w.tx_hash, w.status) {
                    (_, WithdrawalStatus::Failed | WithdrawalStatus::Canceled) => Asked::Failed(
                        LegFailure::Rejected,
                        format!("the venue ended the withdrawal {:?}", w.status),
                    ),
                    (Some(hash), _) => landed(state, exec, network, &request, hash, w.fee).await,
                    (None, _) => Asked::Pending,
                },
                Ok(None) => Asked::Unknown,
                Err(_) => Asked::Pending,
            }
        }
    }
}

/// A withdrawal whose transaction the venue reported: confirmed once the chain shows the
/// token arriving at the hot wallet, with the chain's confirmations; the amount is the chain's.
pub(super) async fn landed(
    state: &Engine,
    exec: &RouteExecution,
    network: &str,
    request: &WithdrawalRequest,
    hash: &str,
    _fee: Option<Decimal>,
) -> Asked {
    let Some(chain) = state.chains.get(exec.livemode, network) else {
        return Asked::Pending;
    };
    let Ok((token, decimals)) = onchain::token_on(state, network, request.asset.as_str()) else {
        return Asked::Pending;
    };
    let Ok(hot) = onchain::hot_wallet(state, exec.livemode, network).map(|h| h.address) else {
        return Asked::Pending;
    };
    match chain.node.observe_transfer(hash.trim(), &token, &hot).await {
        Ok(t) if t.confirmations >= chain.confirmations => {
            match onchain::from_units(t.amount_units, decimals) {
                Ok(amount) => {
                    let block = i64::try_from(t.block_number).ok();
                    Asked::Confirmed(amount, Some((t.tx_hash.clone(), block)))
                }
                Err(_) => Asked::Unknown,
            }
        }
        Ok(_) => Asked::Pending,
        Err(rialto_connectors::chain::ChainError::TxFailed(_)) => {
            Asked::Failed(LegFailure::Reverted, "the withdrawal reverted".into())
        }
        Err(_) => Asked::Pending,
    }
}
