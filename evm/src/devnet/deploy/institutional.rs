//! Issue 17's institutional rails on one devnet chain, deployed after everything else so the
//! older addresses stay put: the JPMD-shaped deposit token (a devnet stand-in), a Proof of
//! Reserve feed per stablecoin and deposit token, and Chainlink's CCIP router with the devnet
//! stand-ins behind it (on-ramp and lock pool per destination, RMN).

use std::collections::BTreeMap;

use alloy::primitives::{Address as WireAddress, Bytes, U256};
use alloy::sol_types::{SolCall, SolValue};
use rialto_core::{Currency, CurrencyKind};
use rust_decimal::Decimal;

use super::{account_entry, feed_answer, units, Deployment, FixedContracts, FEED_DECIMALS};
use crate::ccip::{ICcipRouter, IDevnetCcipOnRamp};
use crate::contracts::{from_wire, IFiatToken};
use crate::deposit_token::{total_supply, DepositTokenRole, IDepositToken};
use crate::devnet::accounts;
use crate::manifest::{
    CcipEntry, CcipLane, DepositTokenEntry, InstitutionalManifest, ReserveFeedEntry,
};
use crate::EvmError;

/// The devnet deposit token. Its name says it is a stand-in: it is not J.P. Morgan's JPMD.
pub(crate) const DEPOSIT_TOKEN_SYMBOL: &str = "JPMD-DEV";
const DEPOSIT_TOKEN_NAME: &str = "Devnet USD Deposit Token (JPMD-shaped stand-in)";
/// Whole tokens the issuing bank mints to the devnet institution at start.
const INSTITUTION_FUNDING: &str = "10000";
/// Reserves start at supply plus this, so the sandbox can mint within it (secure mint holds).
const RESERVE_HEADROOM: &str = "1000000";
/// A day, as Chainlink's Proof of Reserve feeds commonly post.
pub(crate) const RESERVE_HEARTBEAT_SECS: u64 = 86_400;
const RESERVE_FEED_KIND: &str = "devnet reserve feed (Chainlink MockV3Aggregator)";
/// The stand-in on-ramp's flat fee for a native-fee message: 0.001 ETH.
const CCIP_NATIVE_FEE_WEI: u64 = 1_000_000_000_000_000;
/// Whole tokens of each lane token every stand-in off-ramp holds to release from (its pool's
/// liquidity: the tokens a send locks on the source stay locked there, as in a lock/release
/// pool).
const CCIP_POOL_LIQUIDITY: &str = "1000000";

impl Deployment<'_> {
    pub(super) async fn deploy_institutional(
        &self,
        fixed: &FixedContracts,
        weth: WireAddress,
    ) -> Result<InstitutionalManifest, EvmError> {
        let accounts = self.plan.accounts;
        let bank = self.account(accounts::ISSUING_BANK);
        let (token, implementation) = self.deploy_deposit_token(bank).await?;
        let ccip = self.deploy_ccip(weth, &[fixed.usdc, token]).await?;
        let mut allow_listed = BTreeMap::from([
            (
                "institution_payer".to_owned(),
                from_wire(self.account(accounts::INSTITUTION_PAYER)),
            ),
            (
                "gateway_treasury".to_owned(),
                from_wire(self.account(accounts::GATEWAY_HOT_WALLET)),
            ),
        ]);
        for (peer, lane) in &ccip.lanes {
            allow_listed.insert(format!("ccip_on_ramp:{peer}"), lane.on_ramp);
            if let Some(off_ramp) = lane.off_ramp {
                allow_listed.insert(format!("ccip_off_ramp:{peer}"), off_ramp);
            }
        }
        let contract = IDepositToken::new(token, &self.p);
        for (who, address) in &allow_listed {
            let call = contract.setAllowed(crate::contracts::to_wire(address)?, true);
            self.send(call, bank, &format!("{DEPOSIT_TOKEN_SYMBOL} allow {who}"))
                .await?;
        }
        let payer = self.account(accounts::INSTITUTION_PAYER);
        let mint = contract.mint(payer, units(INSTITUTION_FUNDING)?);
        self.send(mint, bank, &format!("{DEPOSIT_TOKEN_SYMBOL} mint"))
            .await?;
        self.fund_off_ramps(&ccip, fixed.usdc, token).await?;
        let mut tokens: Vec<(&str, WireAddress)> = ["USDC", "EURC", "USDT", "PYUSD"]
            .into_iter()
            .filter_map(|s| fixed.token(s).map(|a| (s, a)))
            .collect();
        tokens.push((DEPOSIT_TOKEN_SYMBOL, token));
        let reserve_feeds = self.deploy_reserve_feeds(&tokens).await?;
        let entry = DepositTokenEntry {
            address: from_wire(token),
            implementation: from_wire(implementation),
            name: DEPOSIT_TOKEN_NAME.to_owned(),
            decimals: super::TOKEN_DECIMALS,
            allow_listed,
        };
        Ok(InstitutionalManifest {
            deposit_tokens: BTreeMap::from([(DEPOSIT_TOKEN_SYMBOL.to_owned(), entry)]),
            reserve_feeds,
            ccip,
            issuing_bank: account_entry(accounts.get(accounts::ISSUING_BANK)),
            institution_payer: account_entry(accounts.get(accounts::INSTITUTION_PAYER)),
        })
    }

    /// The implementation, then the proxy initialized in its constructor (so nobody can
    /// front-run the initializer), with the bank as admin; the bank grants itself the roles.
    async fn deploy_deposit_token(
        &self,
        bank: WireAddress,
    ) -> Result<(WireAddress, WireAddress), EvmError> {
        let implementation = self.deploy("DepositToken", vec![], &[]).await?;
        let init = IDepositToken::initializeCall {
            name_: DEPOSIT_TOKEN_NAME.to_owned(),
            symbol_: DEPOSIT_TOKEN_SYMBOL.to_owned(),
            admin: bank,
        }
        .abi_encode();
        let args = (implementation, Bytes::from(init)).abi_encode_params();
        let proxy = self.deploy("ERC1967Proxy", args, &[]).await?;
        let token = IDepositToken::new(proxy, &self.p);
        for role in DepositTokenRole::ISSUER_ROLES {
            self.send(
                token.grantRole(role.id(), bank),
                bank,
                &format!("{DEPOSIT_TOKEN_SYMBOL} grant {role:?}"),
            )
            .await?;
        }
        let symbol = token.symbol().call().await?;
        if symbol != DEPOSIT_TOKEN_SYMBOL {
            return Err(self.fail(format!("deposit token proxy reports symbol {symbol}")));
        }
        Ok((proxy, implementation))
    }

    /// A `MockV3Aggregator` per token whose answer is the token's reserves: its supply now plus
    /// [`RESERVE_HEADROOM`], in whole units at [`FEED_DECIMALS`].
    async fn deploy_reserve_feeds(
        &self,
        tokens: &[(&str, WireAddress)],
    ) -> Result<BTreeMap<String, ReserveFeedEntry>, EvmError> {
        let headroom: Decimal = RESERVE_HEADROOM
            .parse()
            .map_err(|e| self.fail(format!("reserve headroom: {e}")))?;
        let mut feeds = BTreeMap::new();
        for (symbol, token) in tokens {
            let currency = Currency::new(
                symbol,
                u32::from(super::TOKEN_DECIMALS),
                CurrencyKind::Stablecoin,
            );
            let supply = total_supply(&self.p, &from_wire(*token), currency).await?;
            let reserves = supply.amount() + headroom;
            let answer = feed_answer(reserves, FEED_DECIMALS)
                .ok_or_else(|| self.fail(format!("{symbol} reserves {reserves} too large")))?;
            let args = (U256::from(FEED_DECIMALS), answer).abi_encode_params();
            let address = self.deploy("MockV3Aggregator", args, &[]).await?;
            let entry = ReserveFeedEntry {
                address: from_wire(address),
                decimals: FEED_DECIMALS,
                heartbeat_secs: RESERVE_HEARTBEAT_SECS,
                initial_reserves: reserves,
                kind: RESERVE_FEED_KIND.to_owned(),
            };
            feeds.insert((*symbol).to_owned(), entry);
        }
        Ok(feeds)
    }

    /// Chainlink's `Router` (owner: the deployer) over the RMN stand-in and the wrapped native
    /// token, one stand-in on-ramp per other devnet chain carrying `lane_tokens`, and the
    /// relayer registered as the off-ramp of every other chain.
    async fn deploy_ccip(
        &self,
        weth: WireAddress,
        lane_tokens: &[WireAddress],
    ) -> Result<CcipEntry, EvmError> {
        let rmn = self.deploy("DevnetRmnStandIn", vec![], &[]).await?;
        let router_address = self
            .deploy("Router", (weth, rmn).abi_encode_params(), &[])
            .await?;
        let relayer = self.account(accounts::CCIP_RELAYER);
        let (mut on_ramps, mut off_ramps, mut lanes) = (vec![], vec![], BTreeMap::new());
        // Off-ramps after every on-ramp, so the on-ramps keep the addresses they had before.
        let mut pending_off_ramps = Vec::new();
        for peer in self.plan.peers {
            if peer.chain_id == self.plan.chain_id {
                continue;
            }
            let selector = peer.chain_id;
            let args = (router_address, selector).abi_encode_params();
            let on_ramp = self.deploy("DevnetCcipOnRamp", args, &[]).await?;
            let ramp = IDevnetCcipOnRamp::new(on_ramp, &self.p);
            let fee = U256::from(CCIP_NATIVE_FEE_WEI);
            self.send(ramp.setFee(weth, fee), self.deployer, "on-ramp setFee")
                .await?;
            for token in lane_tokens {
                self.send(ramp.addToken(*token), self.deployer, "on-ramp addToken")
                    .await?;
            }
            on_ramps.push(ICcipRouter::OnRamp {
                destChainSelector: selector,
                onRamp: on_ramp,
            });
            let lane = CcipLane {
                dest_chain_selector: selector,
                on_ramp: from_wire(on_ramp),
                native_fee_wei: CCIP_NATIVE_FEE_WEI,
                off_ramp: None,
            };
            lanes.insert(peer.alias.clone(), lane);
            pending_off_ramps.push((peer.alias.clone(), selector));
        }
        for (alias, selector) in pending_off_ramps {
            let args = (router_address, selector, relayer).abi_encode_params();
            let off_ramp = self.deploy("DevnetCcipOffRamp", args, &[]).await?;
            off_ramps.push(ICcipRouter::OffRamp {
                sourceChainSelector: selector,
                offRamp: off_ramp,
            });
            if let Some(lane) = lanes.get_mut(&alias) {
                lane.off_ramp = Some(from_wire(off_ramp));
            }
        }
        let router = ICcipRouter::new(router_address, &self.p);
        let update = router.applyRampUpdates(on_ramps, vec![], off_ramps);
        self.send(update, self.deployer, "CCIP router applyRampUpdates")
            .await?;
        Ok(CcipEntry {
            chain_selector: self.plan.chain_id,
            router: from_wire(router_address),
            rmn_stand_in: from_wire(rmn),
            wrapped_native: from_wire(weth),
            lanes,
            relayer: account_entry(self.plan.accounts.get(accounts::CCIP_RELAYER)),
        })
    }

    /// Every stand-in off-ramp gets [`CCIP_POOL_LIQUIDITY`] of USDC (from the devnet minter)
    /// and of the deposit token (from the issuing bank; the off-ramp is allow-listed first).
    async fn fund_off_ramps(
        &self,
        ccip: &CcipEntry,
        usdc: WireAddress,
        deposit_token: WireAddress,
    ) -> Result<(), EvmError> {
        let liquidity = units(CCIP_POOL_LIQUIDITY)?;
        let minter = self.account(accounts::MINTER);
        let bank = self.account(accounts::ISSUING_BANK);
        let usdc = IFiatToken::new(usdc, &self.p);
        let token = IDepositToken::new(deposit_token, &self.p);
        for lane in ccip.lanes.values() {
            let Some(off_ramp) = lane.off_ramp else {
                continue;
            };
            let off_ramp = crate::contracts::to_wire(&off_ramp)?;
            self.send(
                usdc.mint(off_ramp, liquidity),
                minter,
                "off-ramp USDC liquidity",
            )
            .await?;
            let mint = token.mint(off_ramp, liquidity);
            self.send(mint, bank, "off-ramp deposit token liquidity")
                .await?;
        }
        Ok(())
    }
}
