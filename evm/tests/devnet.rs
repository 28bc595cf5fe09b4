//! Chain tests on a real devnet: every test starts its own anvil pair (a few seconds) so tests
//! that change state (swaps, feed updates) cannot disturb each other.
//!
//! anvil comes from `ANVIL_BIN` or the pinned npm package; run `tools/devnet/install.sh` once.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{aliases::U80, Address as WireAddress, I256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use rialto_core::{Currency, CurrencyKind, Money};
use rialto_evm::chainlink::{read_latest, FeedPrice};
use rialto_evm::contracts::{
    from_wire, to_wire, IMockV3Aggregator, ITetherLike, IUniswapV2Pair, IUniswapV2Router02, IERC20,
};
use rialto_evm::manifest::{Account, ChainManifest, SEQUENCER_UPTIME_FEED};
use rialto_evm::{locate_anvil, Devnet, DevnetConfig, DevnetManifest, EvmError};
use secrecy::ExposeSecret;

fn repo_root() -> PathBuf {
    DevnetConfig::default_repo_root()
}

fn config() -> DevnetConfig {
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let anvil_bin = match locate_anvil(&repo_root(), explicit) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    };
    DevnetConfig {
        anvil_bin,
        ..DevnetConfig::for_repo(&repo_root())
    }
}

async fn start() -> Devnet {
    match Devnet::start(config()).await {
        Ok(devnet) => devnet,
        Err(e) => panic!("devnet did not start: {e}"),
    }
}

/// A provider that signs as `account`.
async fn signer_for(chain: &ChainManifest, account: &Account) -> DynProvider {
    let signer: PrivateKeySigner = account.private_key.expose_secret().parse().unwrap();
    assert_eq!(
        from_wire(signer.address()),
        account.address,
        "manifest key matches address"
    );
    ProviderBuilder::new()
        .wallet(signer)
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

async fn reader(chain: &ChainManifest) -> DynProvider {
    ProviderBuilder::new()
        .connect(&chain.rpc_url)
        .await
        .unwrap()
        .erased()
}

fn token(chain: &ChainManifest, symbol: &str) -> WireAddress {
    to_wire(&chain.tokens[symbol].address).unwrap()
}

fn usdc_units(text: &str) -> U256 {
    let money = Money::parse(text, Currency::new("usdc", 6, CurrencyKind::Stablecoin)).unwrap();
    U256::from(money.to_base_units().unwrap())
}

async fn balance(p: &DynProvider, token: WireAddress, who: WireAddress) -> U256 {
    IERC20::new(token, p).balanceOf(who).call().await.unwrap()
}

async fn block_time(p: &DynProvider) -> u64 {
    let block = p
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .unwrap()
        .unwrap();
    block.header.timestamp
}

#[tokio::test]
async fn sandbox_token_addresses_equal_sandbox_json_on_both_chains() {
    let devnet = start().await;
    let sandbox: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("data/assets/sandbox.json")).unwrap(),
    )
    .unwrap();
    let entries = sandbox["tokens"].as_array().unwrap();
    assert_eq!(entries.len(), 8);
    for entry in entries {
        let chain = devnet
            .manifest()
            .chain(entry["chain"].as_str().unwrap())
            .unwrap();
        let symbol = entry["symbol"].as_str().unwrap();
        let got = chain.tokens[symbol]
            .address
            .to_string()
            .to_ascii_lowercase();
        assert_eq!(
            got,
            entry["address"].as_str().unwrap(),
            "{symbol} on {}",
            chain.alias
        );
        let code = reader(chain)
            .await
            .get_code_at(token(chain, symbol))
            .await
            .unwrap();
        assert!(!code.is_empty(), "{symbol} on {} has code", chain.alias);
    }
    // The manifest written to disk reads back the same.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devnet.json");
    devnet.manifest().write(&path).unwrap();
    let back = DevnetManifest::read(&path).unwrap();
    assert_eq!(back.chains.len(), 2);
    assert_eq!(back.chains[1].dex, devnet.manifest().chains[1].dex);
    assert_eq!(back.chains[0].tokens, devnet.manifest().chains[0].tokens);
}

#[tokio::test]
async fn usdc_transfer_between_payers_moves_exact_base_units() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let (alice, bob) = (&chain.payers[0], &chain.payers[1]);
    let (alice_w, bob_w) = (
        to_wire(&alice.address).unwrap(),
        to_wire(&bob.address).unwrap(),
    );
    let p = signer_for(chain, alice).await;
    let usdc = token(chain, "USDC");
    assert_eq!(
        balance(&p, usdc, alice_w).await,
        usdc_units("10000"),
        "payer starts funded"
    );
    let amount = usdc_units("1234.567891");
    assert_eq!(amount, U256::from(1_234_567_891u64));
    let receipt = IERC20::new(usdc, &p)
        .transfer(bob_w, amount)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(balance(&p, usdc, alice_w).await, usdc_units("8765.432109"));
    assert_eq!(balance(&p, usdc, bob_w).await, usdc_units("11234.567891"));
}

#[tokio::test]
async fn usdt_like_transfer_works_although_it_returns_no_data() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[1];
    let (payer, hot) = (&chain.payers[2], &chain.gateway_hot_wallet);
    let (payer_w, hot_w) = (
        to_wire(&payer.address).unwrap(),
        to_wire(&hot.address).unwrap(),
    );
    let p = signer_for(chain, payer).await;
    let usdt = ITetherLike::new(token(chain, "USDT"), &p);
    let amount = usdc_units("25.5");
    let returned = usdt.transfer(hot_w, amount).call_raw().await.unwrap();
    assert!(
        returned.is_empty(),
        "USDT-like transfer returns no data, got {returned}"
    );
    let usdc_returned = IERC20::new(token(chain, "USDC"), &p)
        .transfer(hot_w, amount)
        .call_raw()
        .await
        .unwrap();
    assert_eq!(usdc_returned.len(), 32, "a standard token returns a bool");
    let receipt = usdt
        .transfer(hot_w, amount)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    assert_eq!(balance(&p, token(chain, "USDT"), hot_w).await, amount);
    assert_eq!(
        balance(&p, token(chain, "USDT"), payer_w).await,
        usdc_units("9974.5")
    );
    assert_eq!(usdt.decimals().call().await.unwrap(), U256::from(6));
}

#[tokio::test]
async fn feeds_answer_as_configured_on_both_chains() {
    let devnet = start().await;
    for chain in &devnet.manifest().chains {
        let p = reader(chain).await;
        let now = UNIX_EPOCH + Duration::from_secs(block_time(&p).await);
        assert_eq!(chain.feeds.len(), 10);
        let sequencer = &chain.feeds[SEQUENCER_UPTIME_FEED];
        assert_eq!(
            (sequencer.decimals, sequencer.initial_answer),
            (0, 0.into())
        );
        for (pair, feed) in chain
            .feeds
            .iter()
            .filter(|(pair, _)| *pair != SEQUENCER_UPTIME_FEED)
        {
            let got: FeedPrice = read_latest(&p, &feed.address, Duration::from_secs(3600), now)
                .await
                .unwrap();
            assert_eq!(got.price, feed.initial_answer, "{pair} on {}", chain.alias);
            assert_eq!((got.decimals, got.round_id), (8, 1), "{pair}");
        }
        let eur = &chain.feeds["EUR/USD"];
        assert_eq!(eur.initial_answer.to_string(), "1.08");
        assert_eq!(chain.feeds["ETH/USD"].initial_answer.to_string(), "3000");
    }
}

#[tokio::test]
async fn a_stale_or_negative_feed_answer_is_refused_by_the_chainlink_reader() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let p = signer_for(chain, &chain.payers[0]).await;
    let feed = &chain.feeds["ETH/USD"].address;
    let mock = IMockV3Aggregator::new(to_wire(feed).unwrap(), &p);
    let hour = Duration::from_secs(3600);

    let now_secs = block_time(&p).await;
    let old = U256::from(now_secs - 7200);
    let answer = I256::try_from(300_000_000_000i64).unwrap();
    mock.updateRoundData(U80::from(10), answer, old, old)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(now_secs);
    let stale = read_latest(&p, feed, hour, now).await.unwrap_err();
    assert!(
        matches!(
            stale,
            EvmError::FeedStale {
                heartbeat_secs: 3600,
                ..
            }
        ),
        "{stale}"
    );

    mock.updateAnswer(I256::try_from(-5i64).unwrap())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(block_time(&p).await);
    let negative = read_latest(&p, feed, hour, now).await.unwrap_err();
    assert!(
        matches!(negative, EvmError::FeedAnswerNotPositive { .. }),
        "{negative}"
    );

    mock.updateAnswer(I256::try_from(310_012_345_678i64).unwrap())
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let fresh = read_latest(&p, feed, hour, now).await.unwrap();
    assert_eq!(fresh.price.to_string(), "3100.12345678");
    assert_eq!(fresh.round_id, 12);
}

#[tokio::test]
async fn a_uniswap_swap_through_the_router_returns_get_amounts_out() {
    let devnet = start().await;
    let chain = &devnet.manifest().chains[0];
    let payer = &chain.payers[0];
    let payer_w = to_wire(&payer.address).unwrap();
    let p = signer_for(chain, payer).await;
    let (usdc, usdt) = (token(chain, "USDC"), token(chain, "USDT"));
    let router = IUniswapV2Router02::new(to_wire(&chain.dex.router).unwrap(), &p);

    let pair = IUniswapV2Pair::new(to_wire(&chain.dex.pairs["USDC/USDT"]).unwrap(), &p);
    let reserves = pair.getReserves().call().await.unwrap();
    assert_eq!(
        U256::from(reserves.reserve0),
        usdc_units("1000000"),
        "seeded pool"
    );
    assert_eq!(
        U256::from(reserves.reserve1),
        usdc_units("1000000"),
        "seeded pool"
    );

    let amount_in = usdc_units("100");
    let path = vec![usdc, usdt];
    let quote = router
        .getAmountsOut(amount_in, path.clone())
        .call()
        .await
        .unwrap();
    let expected = quote[1];
    assert!(
        expected < amount_in && expected > usdc_units("99"),
        "0.3% fee, tiny impact: {expected}"
    );

    IERC20::new(usdc, &p)
        .approve(*router.address(), amount_in)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let before = balance(&p, usdt, payer_w).await;
    // An explicit limit: the pool's first swap writes its price accumulators (44k more gas)
    // when it lands in a later second than an estimate would have seen.
    let swap = router
        .swapExactTokensForTokens(amount_in, expected, path, payer_w, U256::MAX)
        .gas(300_000);
    assert!(swap
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap()
        .status());
    assert_eq!(balance(&p, usdt, payer_w).await - before, expected);
    assert_eq!(balance(&p, usdc, payer_w).await, usdc_units("9900"));
}

#[tokio::test]
async fn the_two_chains_have_distinct_chain_ids() {
    let devnet = start().await;
    let [eth, base] = [&devnet.manifest().chains[0], &devnet.manifest().chains[1]];
    assert_eq!(
        (eth.alias.as_str(), base.alias.as_str()),
        ("devnet-ethereum", "devnet-base")
    );
    assert_eq!(eth.chain_id.as_str(), "eip155:31337");
    assert_eq!(base.chain_id.as_str(), "eip155:31338");
    assert_ne!(eth.rpc_url, base.rpc_url);
    assert_eq!(reader(eth).await.get_chain_id().await.unwrap(), 31337);
    assert_eq!(reader(base).await.get_chain_id().await.unwrap(), 31338);
}

#[tokio::test]
async fn two_fresh_starts_deploy_everything_at_the_same_addresses() {
    let (first, second) = (start().await, start().await);
    for (a, b) in first
        .manifest()
        .chains
        .iter()
        .zip(&second.manifest().chains)
    {
        assert_ne!(a.rpc_url, b.rpc_url, "really two devnets");
        assert_eq!(a.tokens, b.tokens);
        assert_eq!(a.feeds, b.feeds);
        assert_eq!(a.dex, b.dex);
    }
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn dropping_the_devnet_leaves_no_anvil_process_running() {
    let devnet = start().await;
    let pids = devnet.pids();
    let urls: Vec<String> = devnet
        .manifest()
        .chains
        .iter()
        .map(|c| c.rpc_url.clone())
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(
        pids.iter().all(|p| process_exists(*p)),
        "anvils run while the devnet lives"
    );
    drop(devnet);
    for pid in &pids {
        assert!(!process_exists(*pid), "anvil {pid} still exists after drop");
    }
    for url in urls {
        let p = ProviderBuilder::new().connect(&url).await.unwrap();
        assert!(p.get_chain_id().await.is_err(), "{url} still answers");
    }
}

#[tokio::test]
async fn a_missing_anvil_fails_with_a_message_naming_the_install_script() {
    let config = DevnetConfig {
        anvil_bin: PathBuf::from("/nonexistent/anvil"),
        ..DevnetConfig::for_repo(&repo_root())
    };
    let err = Devnet::start(config).await.unwrap_err();
    assert!(err.to_string().contains("tools/devnet/install.sh"), "{err}");
}

#[tokio::test]
async fn a_sandbox_address_the_deploy_does_not_reproduce_fails_the_start() {
    let original = std::fs::read_to_string(repo_root().join("data/assets/sandbox.json")).unwrap();
    let mut sandbox: serde_json::Value = serde_json::from_str(&original).unwrap();
    let tokens = sandbox["tokens"].as_array_mut().unwrap();
    let entry = tokens
        .iter_mut()
        .find(|t| t["chain"] == "devnet-base" && t["symbol"] == "PYUSD")
        .unwrap();
    entry["address"] = "0x0000000000000000000000000000000000000001".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sandbox.json");
    std::fs::write(&path, sandbox.to_string()).unwrap();

    let err = Devnet::start(DevnetConfig {
        sandbox_file: path,
        ..config()
    })
    .await
    .unwrap_err();
    match err {
        EvmError::AddressMismatch { chain, symbol, .. } => {
            assert_eq!((chain.as_str(), symbol.as_str()), ("devnet-base", "PYUSD"))
        }
        other => panic!("expected an address mismatch, got {other}"),
    }
}
