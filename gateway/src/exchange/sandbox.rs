//! Starting the sandbox exchange for the devnet: one local service speaking the Binance, Kraken
//! and Coinbase wire APIs, with a USDC/USD book, a funded payer account, and withdrawals that
//! land as real ERC-20 transfers on the devnet through [`DevnetSink`]. The [`Venues`] it
//! answers point every venue at it, with the real clients ([`HttpVenueClients`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use rialto_connectors::exchange::sandbox::{Sandbox, SandboxBook, SandboxConfig, SandboxNetwork};
use rialto_connectors::exchange::{AssetCode, BookLevel, HttpVenueClients, Pair};
use rialto_core::ChainId;
use rust_decimal::Decimal;
use secrecy::ExposeSecret;

use super::devnet_sink::{DevnetSink, SinkChain, SinkToken};
use super::rail_sink::RailSinkChain;
use super::{VenueMap, Venues};

/// Where the sandbox exchange says deposits go on a chain: a burn address of its family (the
/// routes never deposit into a venue).
fn sandbox_deposit_address(caip2: &str) -> &'static str {
    if caip2.starts_with("solana:") {
        "1nc1nerator11111111111111111111111111111111"
    } else {
        "0x000000000000000000000000000000000000dEaD"
    }
}

/// The network names the sandbox exchange knows a devnet chain by.
fn sandbox_network_name(alias: &str) -> String {
    alias.to_owned()
}

/// Starts the sandbox exchange for the devnet: a USDC/USD book around par, the payer's account
/// funded with USD and some USDC, USDC withdrawals to every devnet chain (fee 0.10 USDC,
/// minimum 1 USDC) landing through `sink`. Returns it and the venue map pointing at it.
pub async fn start_sandbox_exchange(
    sink: Arc<DevnetSink>,
    chains: &[(String, String)],
) -> std::io::Result<(Sandbox, Venues)> {
    let d = |text: &str| text.parse::<Decimal>().unwrap_or_default();
    let (usd, usdc) = AssetCode::new("USD")
        .zip(AssetCode::new("USDC"))
        .ok_or_else(|| std::io::Error::other("asset codes"))?;
    let mut config = SandboxConfig::new(sink);
    config.balances = BTreeMap::from([(usd.clone(), d("100000")), (usdc.clone(), d("10"))]);
    let book = SandboxBook {
        bids: vec![BookLevel {
            price: d("0.9999"),
            size: d("1000000"),
        }],
        asks: vec![BookLevel {
            price: d("1.0001"),
            size: d("1000000"),
        }],
    };
    config.books = BTreeMap::from([(Pair::new(usdc.clone(), usd), book)]);
    config.taker_fee_rate = d("0.001");
    config.min_notional = d("1");
    let mut map = VenueMap::default();
    for (caip2, alias) in chains {
        let Ok(chain) = caip2.parse::<ChainId>() else {
            continue;
        };
        let name = sandbox_network_name(alias);
        config.networks.push(SandboxNetwork {
            asset: usdc.clone(),
            chain,
            binance: name.to_ascii_uppercase(),
            kraken: name.clone(),
            coinbase: name.to_ascii_lowercase(),
            withdrawal_fee: d("0.1"),
            withdrawal_minimum: d("1"),
            deposit_address: sandbox_deposit_address(caip2).into(),
        });
        map.networks.insert(caip2.clone(), name);
        map.coinbase_terms.insert(caip2.clone(), (d("0.1"), d("1")));
    }
    let sandbox = Sandbox::start(config).await?;
    let url = sandbox.base_url();
    map.base_urls = ["binance", "kraken", "coinbase"]
        .into_iter()
        .map(|v| (v.to_owned(), url.clone()))
        .collect();
    Ok((
        sandbox,
        Venues::new(map, Arc::new(HttpVenueClients::default())),
    ))
}

/// The sandbox exchange for a devnet manifest: its omnibus wallet is the manifest's last payer
/// account (funded with every sandbox token on every chain); `rails` (by alias: the Solana
/// simnet) are withdrawn to through their rail.
pub async fn sandbox_for_manifest(
    manifest: &rialto_evm::DevnetManifest,
    rails: Vec<(String, RailSinkChain)>,
) -> anyhow::Result<(Sandbox, Venues)> {
    let first = manifest
        .chains
        .first()
        .context("the devnet manifest lists no chains")?;
    let omnibus = first
        .payers
        .last()
        .context("the devnet manifest lists no payers")?;
    let signer: rialto_evm::sender::PrivateKeySigner = omnibus
        .private_key
        .expose_secret()
        .parse()
        .context("the omnibus key in the devnet manifest")?;
    let mut sink_chains = BTreeMap::new();
    let mut named = Vec::new();
    for c in &manifest.chains {
        let caip2 = c.chain_id.to_string();
        let chain_id = crate::chain::eip155_id(&caip2)?;
        let tokens = c
            .tokens
            .iter()
            .map(|(symbol, t)| {
                let token = SinkToken {
                    contract: t.address,
                    decimals: u32::from(t.decimals),
                };
                (symbol.to_ascii_uppercase(), token)
            })
            .collect();
        sink_chains.insert(
            caip2.clone(),
            SinkChain {
                chain_id,
                rpc_url: c.rpc_url.clone(),
                tokens,
            },
        );
        named.push((caip2, c.alias.clone()));
    }
    let mut sink = DevnetSink::new(signer, sink_chains);
    for (alias, chain) in rails {
        named.push((chain.node.chain_id().to_owned(), alias));
        sink = sink.with_rail(chain);
    }
    let sink = Arc::new(sink);
    Ok(start_sandbox_exchange(sink, &named).await?)
}
