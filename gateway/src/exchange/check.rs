//! `rialto venues check` (and the venue part of `rialto doctor`): for each `[[live.venues]]`
//! entry, reads its market-data credentials, builds the same client the gateway would, and
//! asks the venue what the key may do through its documented read-only calls
//! ([`Exchange::key_access`]: Binance `apiRestrictions`, Coinbase `key_permissions`, Kraken
//! `Balance` and `WithdrawMethods`). Nothing is ordered or withdrawn. Each venue gets one
//! [`Finding`]: ok, or what is wrong in plain words; failures also count in
//! `rialto_venue_errors_total`.

use std::sync::Arc;
use std::time::Duration;

use rialto_connectors::exchange::{AssetCode, ExchangeError, KeyAccess, SettlementTarget};
use rialto_core::asset::AssetRegistry;
use rialto_core::ChainId;
use rialto_engine::config::{VenueConfig, VenueKind};

use super::live::{chain_id, market_credentials, venue_map};
use crate::doctor::Finding;

/// How long one venue may take to answer the check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// The address a check's client is set up for. Nothing is ever sent to it: the check only
/// reads, and a client needs a settlement target to be built.
const NO_ADDRESS: &str = "0x000000000000000000000000000000000000dEaD";

/// One finding per configured venue, in configuration order.
pub async fn check_venues(
    registry: &AssetRegistry,
    venues: &[VenueConfig],
    tls: &Arc<rustls::ClientConfig>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, venue) in venues.iter().enumerate() {
        findings.push(check_one(registry, venues, i, venue, tls).await);
    }
    findings
}

async fn check_one(
    registry: &AssetRegistry,
    venues: &[VenueConfig],
    i: usize,
    venue: &VenueConfig,
    tls: &Arc<rustls::ClientConfig>,
) -> Finding {
    let setting = format!("live.venues[{i}] ({})", venue.kind.as_str());
    let credentials = match market_credentials(i, venue) {
        Ok(c) => c,
        Err(e) => return Finding::failed(e.setting, e.message),
    };
    let map = match venue_map(registry, venues) {
        Ok(map) => map,
        Err(e) => return Finding::failed(e.setting, e.message),
    };
    let asset = venue
        .withdrawals
        .first()
        .and_then(|w| AssetCode::new(&w.asset))
        .or_else(|| AssetCode::new("USDC"));
    let chain = venue
        .networks
        .keys()
        .next()
        .and_then(|c| chain_id(registry, c))
        .and_then(|c| c.parse::<ChainId>().ok());
    let (Some(asset), Some(chain)) = (asset, chain) else {
        return Finding::failed(setting, "no network is configured to check against");
    };
    let target = SettlementTarget {
        asset: &asset,
        chain: &chain,
        address: NO_ADDRESS,
    };
    let clients = rialto_connectors::exchange::HttpVenueClients::with_http_setup(
        crate::tls::venue_http_setup(tls),
    );
    let client = match rialto_connectors::exchange::VenueClients::client(
        &clients,
        venue.kind.as_str(),
        &credentials,
        &map,
        target,
    ) {
        Ok(client) => client,
        Err(e) => return failed(&setting, venue, &e),
    };
    match tokio::time::timeout(CHECK_TIMEOUT, client.key_access()).await {
        Ok(Ok(access)) => judge(&setting, venue, access),
        Ok(Err(e)) => failed(&setting, venue, &e),
        Err(_) => Finding::failed(
            setting,
            format!(
                "{} did not answer within {}s",
                venue.base_url,
                CHECK_TIMEOUT.as_secs()
            ),
        ),
    }
}

/// The market-data key must read; a key that can also trade or withdraw passes, with a
/// warning, since a leaked read key then costs more than it should.
fn judge(setting: &str, venue: &VenueConfig, access: KeyAccess) -> Finding {
    if access.read != Some(true) {
        let permission = match venue.kind {
            VenueKind::Binance => "\"Enable Reading\"",
            VenueKind::Kraken => "\"Query Funds\"",
            VenueKind::Coinbase => "\"View\"",
        };
        let err = ExchangeError::Auth {
            venue: venue_of(venue.kind),
            message: "read permission missing".into(),
        };
        rialto_engine::telemetry::venue_error(&err);
        return Finding::failed(
            setting,
            format!(
                "the key is accepted but lacks the read permission Rialto needs; enable \
                 {permission} on it at the venue"
            ),
        );
    }
    let mut extra = Vec::new();
    if access.trade == Some(true) {
        extra.push("trade");
    }
    if access.withdraw == Some(true) {
        extra.push("withdraw");
    }
    let mut message = format!(
        "{}: credentials accepted, read permission present",
        venue.base_url
    );
    if !extra.is_empty() {
        message.push_str(&format!(
            "; warning: the key may also {} — Rialto reads only, so a narrower key limits what \
             a leak costs",
            extra.join(" and ")
        ));
    }
    Finding::ok(setting, message)
}

fn venue_of(kind: VenueKind) -> rialto_connectors::exchange::Venue {
    match kind {
        VenueKind::Binance => rialto_connectors::exchange::Venue::Binance,
        VenueKind::Kraken => rialto_connectors::exchange::Venue::Kraken,
        VenueKind::Coinbase => rialto_connectors::exchange::Venue::Coinbase,
    }
}

/// The venue's refusal in plain words.
fn failed(setting: &str, venue: &VenueConfig, err: &ExchangeError) -> Finding {
    rialto_engine::telemetry::venue_error(err);
    let url = &venue.base_url;
    let message = match err {
        ExchangeError::Auth { message, .. } => {
            let lower = message.to_ascii_lowercase();
            if lower.contains("permission") || lower.contains("scope") {
                format!("the key is valid but lacks a permission this read needs ({message})")
            } else if lower.contains("signature") || lower.contains("not base64") {
                format!(
                    "the venue refused the signature: the secret does not belong to this key, \
                     or is mistyped ({message})"
                )
            } else {
                format!("the venue does not accept this key: check the key and secret ({message})")
            }
        }
        ExchangeError::Unavailable { message, .. } => {
            format!("cannot reach {url}: {message}")
        }
        ExchangeError::Config { message, .. } => {
            format!("the venue client cannot be set up: {message}")
        }
        other => format!("{url} answered the check with an error: {other}"),
    };
    Finding::failed(setting, message)
}
