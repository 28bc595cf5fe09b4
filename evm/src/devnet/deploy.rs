//! The deploy sequence for one fresh anvil chain, mirroring tools/devnet/smoke.mjs and the
//! recipes of contracts/README.md.
//!
//! Order matters: the deployer's first six transactions are the six CREATEs whose addresses
//! sandbox.json fixes (nonce 0 SignatureChecker … nonce 5 PYUSD), so nothing else may be sent
//! from the deployer before them. Everything after is sequential too, which makes every other
//! address (feeds, Uniswap) the same on every fresh start as well.

use std::collections::BTreeMap;

use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::{Address as WireAddress, Bytes, I256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolValue;
use rialto_core::{Address, Currency, CurrencyKind, Money};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use secrecy::SecretString;

use super::accounts::{self, SandboxAccount, SandboxAccounts};
use super::artifact::ArtifactDir;
use super::sandbox::SandboxExpectations;
use super::tx;
use crate::contracts::{
    from_wire, IFiatToken, IFiatTokenProxy, IPayPalUsdLike, ITetherLike, IUniswapV2Factory,
    IUniswapV2Router02, IERC20,
};
use crate::manifest::{
    Account, ChainManifest, DexEntry, FeedEntry, TokenEntry, SEQUENCER_UPTIME_FEED,
};
use crate::EvmError;

mod institutional;

pub(crate) const TOKEN_DECIMALS: u8 = 6;
pub(crate) const FEED_DECIMALS: u8 = 8;
/// Whole tokens of each sandbox token every payer starts with.
pub(crate) const PAYER_FUNDING: &str = "10000";
/// What the minter may still mint after the seeding, for a sandbox faucet.
const MINTER_ALLOWANCE: &str = "1000000000";
const USDT_INITIAL_SUPPLY: &str = "10000000";
/// Feeds by pair with their initial price.
/// The fiat pairs (EUR, GBP, CHF, JPY against USD) price intents in those currencies (FX).
pub(crate) const FEEDS: [(&str, &str); 9] = [
    ("USDC/USD", "1.00"),
    ("USDT/USD", "1.00"),
    ("EUR/USD", "1.08"),
    ("ETH/USD", "3000"),
    ("EURC/USD", "1.08"),
    ("PYUSD/USD", "1.00"),
    ("GBP/USD", "1.27"),
    ("CHF/USD", "1.13"),
    ("JPY/USD", "0.0067"),
];
/// Uniswap V2 pools: (token A, token B, whole A, whole B). USDC/EURC sits at the EUR/USD feed.
pub(crate) const POOLS: [(&str, &str, &str, &str); 2] = [
    ("USDC", "USDT", "1000000", "1000000"),
    ("USDC", "EURC", "1080000", "1000000"),
];
const THROWAWAY: WireAddress = WireAddress::with_last_byte(1);

/// What one chain deploy needs.
#[derive(Debug)]
pub(crate) struct ChainPlan<'a> {
    pub chain_id: u64,
    pub alias: &'a str,
    pub rpc_url: &'a str,
    pub artifacts: &'a ArtifactDir,
    pub accounts: &'a SandboxAccounts,
    pub sandbox: &'a SandboxExpectations,
    /// Every devnet chain (this one included): the CCIP lanes go to the others.
    pub peers: &'a [super::DevnetChain],
}

/// The contracts at fixed addresses (deployer nonces 0..=5).
#[derive(Debug, Clone, Copy)]
struct FixedContracts {
    implementation: WireAddress,
    usdc: WireAddress,
    eurc: WireAddress,
    usdt: WireAddress,
    pyusd: WireAddress,
}

impl FixedContracts {
    fn token(&self, symbol: &str) -> Option<WireAddress> {
        match symbol {
            "USDC" => Some(self.usdc),
            "EURC" => Some(self.eurc),
            "USDT" => Some(self.usdt),
            "PYUSD" => Some(self.pyusd),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Dex {
    weth: WireAddress,
    factory: WireAddress,
    router: WireAddress,
}

/// A chain being deployed: its provider (signing for every sandbox account) and inputs.
struct Deployment<'a> {
    p: DynProvider,
    plan: ChainPlan<'a>,
    deployer: WireAddress,
}

/// Deploys everything on the fresh chain at `plan.rpc_url` and describes it.
pub(crate) async fn deploy_chain(plan: ChainPlan<'_>) -> Result<ChainManifest, EvmError> {
    let p = ProviderBuilder::new()
        .wallet(plan.accounts.wallet())
        .connect(plan.rpc_url)
        .await?
        .erased();
    let deployer = plan.accounts.get(accounts::DEPLOYER).address();
    let d = Deployment { p, plan, deployer };
    d.check_fresh().await?;
    let fixed = d.deploy_fixed().await?;
    d.lock_implementation(fixed.implementation).await?;
    d.setup_fiat_token(fixed.usdc, "USD Coin", "USDC", "USD")
        .await?;
    d.setup_fiat_token(fixed.eurc, "EURC", "EURC", "EUR")
        .await?;
    let mut feeds = d.deploy_feeds().await?;
    let dex = d.deploy_dex().await?;
    d.fund(&fixed).await?;
    let pairs = d.seed_pools(&fixed, &dex).await?;
    // Deployed last, so every address above stays what it was before this feed existed.
    let (name, sequencer) = d.deploy_sequencer_feed().await?;
    feeds.insert(name.to_owned(), sequencer);
    // After everything else for the same reason: the older addresses do not move.
    let institutional = d.deploy_institutional(&fixed, dex.weth).await?;
    let batch_relayer = d.deploy("BatchRelayer", vec![], &[]).await?;
    let mut manifest = d.manifest(&fixed, feeds, dex, pairs)?;
    manifest.institutional = Some(institutional);
    manifest.batch_relayer = Some(from_wire(batch_relayer));
    Ok(manifest)
}

impl Deployment<'_> {
    fn fail(&self, reason: String) -> EvmError {
        EvmError::Devnet {
            chain: self.plan.alias.to_owned(),
            reason,
        }
    }

    fn account(&self, index: usize) -> WireAddress {
        self.plan.accounts.get(index).address()
    }

    async fn send<P: Provider, D: CallDecoder>(
        &self,
        call: CallBuilder<P, D>,
        from: WireAddress,
        label: &str,
    ) -> Result<TransactionReceipt, EvmError> {
        let label = format!("{}: {label}", self.plan.alias);
        tx::send(&self.p, call.from(from).into_transaction_request(), &label).await
    }

    async fn deploy(
        &self,
        name: &str,
        args: Vec<u8>,
        libs: &[(&str, WireAddress)],
    ) -> Result<WireAddress, EvmError> {
        let code = self.plan.artifacts.load(name)?.creation_code(libs)?;
        let code: Bytes = [code.as_ref(), &args].concat().into();
        let label = format!("{}: deploy {name}", self.plan.alias);
        tx::deploy(&self.p, self.deployer, code, &label).await
    }

    /// The fixed addresses only come out right on a chain where the deployer never sent a
    /// transaction, and with the accounts whose keys we hold.
    async fn check_fresh(&self) -> Result<(), EvmError> {
        let nonce = self.p.get_transaction_count(self.deployer).await?;
        if nonce != 0 {
            return Err(self.fail(format!(
                "deployer {} already has nonce {nonce}",
                self.deployer
            )));
        }
        let node_accounts = self.p.get_accounts().await?;
        if node_accounts != self.plan.accounts.addresses() {
            return Err(self.fail("anvil's accounts are not the test mnemonic's".into()));
        }
        if from_wire(self.deployer) != self.plan.sandbox.deployer {
            return Err(self.fail("sandbox.json names another deployer".into()));
        }
        Ok(())
    }

    /// Nonces 0..=5, each checked against the CREATE address sandbox.json (or, for the two
    /// library/implementation contracts, the CREATE formula) fixes.
    async fn deploy_fixed(&self) -> Result<FixedContracts, EvmError> {
        let sig = self.deploy("SignatureChecker", vec![], &[]).await?;
        self.expect_at("SignatureChecker", 0, sig)?;
        let implementation = self
            .deploy("FiatTokenV2_2", vec![], &[("SignatureChecker", sig)])
            .await?;
        self.expect_at("FiatTokenV2_2", 1, implementation)?;
        let usdc = self
            .deploy("FiatTokenProxy", (implementation,).abi_encode_params(), &[])
            .await?;
        self.expect_token("USDC", usdc)?;
        let eurc = self
            .deploy("FiatTokenProxy", (implementation,).abi_encode_params(), &[])
            .await?;
        self.expect_token("EURC", eurc)?;
        let usdt_args = (
            units(USDT_INITIAL_SUPPLY)?,
            "Tether USD".to_owned(),
            "USDT".to_owned(),
            U256::from(TOKEN_DECIMALS),
        );
        let usdt = self
            .deploy("TetherLikeToken", usdt_args.abi_encode_params(), &[])
            .await?;
        self.expect_token("USDT", usdt)?;
        let pyusd_args = ("PayPal USD".to_owned(), "PYUSD".to_owned());
        let pyusd = self
            .deploy("PayPalUsdLike", pyusd_args.abi_encode_params(), &[])
            .await?;
        self.expect_token("PYUSD", pyusd)?;
        Ok(FixedContracts {
            implementation,
            usdc,
            eurc,
            usdt,
            pyusd,
        })
    }

    fn expect_at(&self, what: &str, nonce: u64, actual: WireAddress) -> Result<(), EvmError> {
        let expected = self.plan.sandbox.deployer.evm_create(nonce);
        if expected != Some(from_wire(actual)) {
            return Err(EvmError::AddressMismatch {
                chain: self.plan.alias.to_owned(),
                symbol: what.to_owned(),
                expected: expected.map(|a| a.to_string()).unwrap_or_default(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    fn expect_token(&self, symbol: &str, actual: WireAddress) -> Result<(), EvmError> {
        let expected = self.plan.sandbox.token(self.plan.alias, symbol)?;
        if expected.address != from_wire(actual) {
            return Err(EvmError::AddressMismatch {
                chain: self.plan.alias.to_owned(),
                symbol: symbol.to_owned(),
                expected: expected.address.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(())
    }

    /// Circle's deploy script initializes the bare implementation with throwaway values so
    /// nobody can take it over; done after the fixed CREATEs so it does not use their nonces.
    async fn lock_implementation(&self, implementation: WireAddress) -> Result<(), EvmError> {
        let token = IFiatToken::new(implementation, &self.p);
        let (e, t, from) = (String::new(), THROWAWAY, self.deployer);
        self.send(
            token.initialize(e.clone(), e.clone(), e.clone(), 0, t, t, t, t),
            from,
            "lock impl initialize",
        )
        .await?;
        self.send(
            token.initializeV2(e.clone()),
            from,
            "lock impl initializeV2",
        )
        .await?;
        self.send(token.initializeV2_1(t), from, "lock impl initializeV2_1")
            .await?;
        self.send(
            token.initializeV2_2(vec![], e),
            from,
            "lock impl initializeV2_2",
        )
        .await?;
        Ok(())
    }

    /// Hands the proxy to the proxy admin, then initializes the token through it with the
    /// deployer as owner, master minter, pauser and blacklister.
    async fn setup_fiat_token(
        &self,
        proxy: WireAddress,
        name: &str,
        symbol: &str,
        currency: &str,
    ) -> Result<(), EvmError> {
        let admin = self.account(accounts::PROXY_ADMIN);
        let from = self.deployer;
        let proxy_admin_side = IFiatTokenProxy::new(proxy, &self.p);
        self.send(
            proxy_admin_side.changeAdmin(admin),
            from,
            &format!("{symbol} changeAdmin"),
        )
        .await?;
        let now_admin = proxy_admin_side.admin().from(admin).call().await?;
        if now_admin != admin {
            return Err(self.fail(format!("{symbol} proxy admin is {now_admin}, not {admin}")));
        }
        let token = IFiatToken::new(proxy, &self.p);
        let (n, s) = (name.to_owned(), symbol.to_owned());
        let init = token.initialize(
            n.clone(),
            s.clone(),
            currency.to_owned(),
            TOKEN_DECIMALS,
            from,
            from,
            from,
            from,
        );
        self.send(init, from, &format!("{symbol} initialize"))
            .await?;
        self.send(
            token.initializeV2(n),
            from,
            &format!("{symbol} initializeV2"),
        )
        .await?;
        self.send(
            token.initializeV2_1(from),
            from,
            &format!("{symbol} initializeV2_1"),
        )
        .await?;
        self.send(
            token.initializeV2_2(vec![], s),
            from,
            &format!("{symbol} initializeV2_2"),
        )
        .await?;
        let got = token.symbol().call().await?;
        if got != symbol {
            return Err(self.fail(format!("{symbol} proxy reports symbol {got}")));
        }
        Ok(())
    }

    async fn deploy_feeds(&self) -> Result<BTreeMap<String, FeedEntry>, EvmError> {
        let mut feeds = BTreeMap::new();
        for (pair, price) in FEEDS {
            let price: Decimal = price
                .parse()
                .map_err(|e| self.fail(format!("feed {pair} price: {e}")))?;
            let answer = feed_answer(price, FEED_DECIMALS)
                .ok_or_else(|| self.fail(format!("feed {pair}: {price} not representable")))?;
            // A `uint8` argument is ABI-encoded as one 32-byte word, exactly like a `uint256`.
            let args = (U256::from(FEED_DECIMALS), answer).abi_encode_params();
            let address = self.deploy("MockV3Aggregator", args, &[]).await?;
            let entry = FeedEntry {
                address: from_wire(address),
                decimals: FEED_DECIMALS,
                initial_answer: price,
            };
            feeds.insert(pair.to_owned(), entry);
        }
        Ok(feeds)
    }

    /// A Chainlink L2 sequencer uptime feed stand-in: a `MockV3Aggregator` with 0 decimals whose
    /// answer is the status (0 up, 1 down) and whose `startedAt` is when it was last set. It
    /// starts "up since deployment"; tests flip it with `updateAnswer` / `updateRoundData`.
    async fn deploy_sequencer_feed(&self) -> Result<(&'static str, FeedEntry), EvmError> {
        let args = (U256::ZERO, I256::ZERO).abi_encode_params();
        let address = self.deploy("MockV3Aggregator", args, &[]).await?;
        let entry = FeedEntry {
            address: from_wire(address),
            decimals: 0,
            initial_answer: Decimal::ZERO,
        };
        Ok((SEQUENCER_UPTIME_FEED, entry))
    }

    async fn deploy_dex(&self) -> Result<Dex, EvmError> {
        let weth = self.deploy("WETH9", vec![], &[]).await?;
        let factory = self
            .deploy(
                "UniswapV2Factory",
                (self.deployer,).abi_encode_params(),
                &[],
            )
            .await?;
        let router = self
            .deploy(
                "UniswapV2Router02",
                (factory, weth).abi_encode_params(),
                &[],
            )
            .await?;
        let router_factory = IUniswapV2Router02::new(router, &self.p)
            .factory()
            .call()
            .await?;
        if router_factory != factory {
            return Err(self.fail(format!("router points at factory {router_factory}")));
        }
        Ok(Dex {
            weth,
            factory,
            router,
        })
    }

    /// Gives every payer each token, and the deployer what the pools need. USDC/EURC are minted
    /// by the configured minter (not the master minter), as on a real FiatToken.
    async fn fund(&self, fixed: &FixedContracts) -> Result<(), EvmError> {
        let minter = self.account(accounts::MINTER);
        let payers: Vec<WireAddress> = accounts::PAYERS.iter().map(|i| self.account(*i)).collect();
        let per_payer = units(PAYER_FUNDING)?;
        for (symbol, proxy) in [("USDC", fixed.usdc), ("EURC", fixed.eurc)] {
            let token = IFiatToken::new(proxy, &self.p);
            let allowance = units(MINTER_ALLOWANCE)?;
            self.send(
                token.configureMinter(minter, allowance),
                self.deployer,
                &format!("{symbol} configureMinter"),
            )
            .await?;
            let mut recipients: Vec<(WireAddress, U256)> =
                payers.iter().map(|p| (*p, per_payer)).collect();
            recipients.push((self.deployer, pool_needs(symbol)?));
            for (to, amount) in recipients {
                self.send(token.mint(to, amount), minter, &format!("{symbol} mint"))
                    .await?;
            }
        }
        let usdt = ITetherLike::new(fixed.usdt, &self.p);
        let pyusd = IPayPalUsdLike::new(fixed.pyusd, &self.p);
        for payer in &payers {
            self.send(
                usdt.transfer(*payer, per_payer),
                self.deployer,
                "USDT transfer",
            )
            .await?;
            self.send(pyusd.mint(*payer, per_payer), self.deployer, "PYUSD mint")
                .await?;
        }
        Ok(())
    }

    async fn seed_pools(
        &self,
        fixed: &FixedContracts,
        dex: &Dex,
    ) -> Result<BTreeMap<String, Address>, EvmError> {
        let factory = IUniswapV2Factory::new(dex.factory, &self.p);
        let router = IUniswapV2Router02::new(dex.router, &self.p);
        let mut pairs = BTreeMap::new();
        for (a, b, whole_a, whole_b) in POOLS {
            let token = |s: &str| {
                fixed
                    .token(s)
                    .ok_or_else(|| self.fail(format!("no token {s}")))
            };
            let (ta, tb) = (token(a)?, token(b)?);
            let (amount_a, amount_b) = (units(whole_a)?, units(whole_b)?);
            self.send(
                factory.createPair(ta, tb),
                self.deployer,
                &format!("createPair {a}/{b}"),
            )
            .await?;
            self.approve(a, ta, dex.router, amount_a).await?;
            self.approve(b, tb, dex.router, amount_b).await?;
            // An empty pool takes exactly what is offered, so the minimums can equal it.
            let add = router.addLiquidity(
                ta,
                tb,
                amount_a,
                amount_b,
                amount_a,
                amount_b,
                self.deployer,
                U256::MAX,
            );
            self.send(add, self.deployer, &format!("addLiquidity {a}/{b}"))
                .await?;
            let pair = factory.getPair(ta, tb).call().await?;
            pairs.insert(format!("{a}/{b}"), from_wire(pair));
        }
        Ok(pairs)
    }

    /// Exact-amount approvals: USDT refuses to move an allowance from non-zero to non-zero,
    /// and `addLiquidity` spends all of it, so each approval starts from zero.
    async fn approve(
        &self,
        symbol: &str,
        token: WireAddress,
        spender: WireAddress,
        amount: U256,
    ) -> Result<(), EvmError> {
        let label = format!("{symbol} approve router");
        if symbol == "USDT" {
            self.send(
                ITetherLike::new(token, &self.p).approve(spender, amount),
                self.deployer,
                &label,
            )
            .await?;
        } else {
            self.send(
                IERC20::new(token, &self.p).approve(spender, amount),
                self.deployer,
                &label,
            )
            .await?;
        }
        Ok(())
    }

    fn manifest(
        &self,
        fixed: &FixedContracts,
        feeds: BTreeMap<String, FeedEntry>,
        dex: Dex,
        pairs: BTreeMap<String, Address>,
    ) -> Result<ChainManifest, EvmError> {
        let tokens = ["USDC", "EURC", "USDT", "PYUSD"]
            .into_iter()
            .filter_map(|s| {
                fixed.token(s).map(|a| {
                    (
                        s.to_owned(),
                        TokenEntry {
                            address: from_wire(a),
                            decimals: TOKEN_DECIMALS,
                        },
                    )
                })
            })
            .collect();
        let accounts = self.plan.accounts;
        let chain_id = format!("eip155:{}", self.plan.chain_id)
            .parse()
            .map_err(|e| self.fail(format!("chain id: {e}")))?;
        Ok(ChainManifest {
            chain_id,
            alias: self.plan.alias.to_owned(),
            rpc_url: self.plan.rpc_url.to_owned(),
            tokens,
            feeds,
            dex: DexEntry {
                weth: from_wire(dex.weth),
                factory: from_wire(dex.factory),
                router: from_wire(dex.router),
                pairs,
            },
            payers: accounts::PAYERS
                .iter()
                .map(|i| account_entry(accounts.get(*i)))
                .collect(),
            deployer: from_wire(self.deployer),
            proxy_admin: from_wire(self.account(accounts::PROXY_ADMIN)),
            minter: account_entry(accounts.get(accounts::MINTER)),
            gateway_hot_wallet: account_entry(accounts.get(accounts::GATEWAY_HOT_WALLET)),
            institutional: None,
            relay_lanes: accounts::RELAY_LANES
                .iter()
                .map(|i| account_entry(accounts.get(*i)))
                .collect(),
            batch_relayer: None,
        })
    }
}

fn account_entry(account: &SandboxAccount) -> Account {
    Account {
        address: from_wire(account.address()),
        private_key: SecretString::from(account.key_hex),
    }
}

/// Whole units of a 6-decimal token as base units, exactly (through `Money`, which refuses
/// anything it would have to round).
pub(crate) fn units(whole: &str) -> Result<U256, EvmError> {
    let currency = Currency::new("token", u32::from(TOKEN_DECIMALS), CurrencyKind::Stablecoin);
    let money = Money::parse(whole, currency)?;
    Ok(U256::from(money.to_base_units()?))
}

/// What the deployer must hold of `symbol` to seed every pool.
fn pool_needs(symbol: &str) -> Result<U256, EvmError> {
    let mut total = U256::ZERO;
    for (a, b, whole_a, whole_b) in POOLS {
        if a == symbol {
            total += units(whole_a)?;
        }
        if b == symbol {
            total += units(whole_b)?;
        }
    }
    Ok(total)
}

/// `price * 10^decimals` as a feed's integer answer; `None` unless that is an exact integer.
pub(crate) fn feed_answer(price: Decimal, decimals: u8) -> Option<I256> {
    let scale = Decimal::from(10u64.checked_pow(u32::from(decimals))?);
    let scaled = price.checked_mul(scale)?;
    if !scaled.fract().is_zero() {
        return None;
    }
    I256::try_from(scaled.trunc().to_i128()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_answers_are_exact_eight_decimal_integers() {
        let answer = |p: &str| feed_answer(p.parse().unwrap(), 8).map(|a| a.to_string());
        assert_eq!(answer("1.08").as_deref(), Some("108000000"));
        assert_eq!(answer("3000").as_deref(), Some("300000000000"));
        assert_eq!(answer("0.000000001"), None, "would need rounding");
    }

    #[test]
    fn base_units_are_exact_and_pool_needs_add_up() {
        assert_eq!(units("10000").unwrap(), U256::from(10_000_000_000u64));
        assert!(units("0.0000001").is_err());
        assert_eq!(
            pool_needs("USDC").unwrap(),
            U256::from(2_080_000_000_000u64)
        );
        assert_eq!(
            pool_needs("EURC").unwrap(),
            U256::from(1_000_000_000_000u64)
        );
        assert_eq!(pool_needs("PYUSD").unwrap(), U256::ZERO);
    }
}
