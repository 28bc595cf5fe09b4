//! [`UniswapV2`]: the DEX role of `rialto-connectors` ([`Dex`]) over a Uniswap V2 router and
//! its pairs on one EVM chain.
//!
//! The calldata of `approve` is the standard ERC-20 encoding; USDT-like tokens return nothing,
//! which does not matter: the rail never decodes return data, success is the receipt's status.

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use rialto_connectors::chain::ChainError;
use rialto_connectors::dex::{Dex, PoolReserves, PoolUnreadable};
use rialto_connectors::rail::{FeeLimits, LegAction, PlannedLeg};
use rialto_core::address::Address;

use crate::chain::EvmChain;
use crate::contracts::{to_wire, IUniswapV2Pair, IUniswapV2Router02, IERC20};
use crate::manifest::ChainManifest;
use crate::rail::{SWAP_GAS_HEADROOM, TOKEN_GAS_HEADROOM};
use crate::EvmError;

/// The fee of every Uniswap V2 pool, basis points.
pub const UNISWAP_V2_FEE_BPS: u32 = 30;

/// One pair: `A/B` by symbol, its contract and its two tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairSpec {
    pub name: String,
    pub pair: Address,
    pub token_a: (String, Address),
    pub token_b: (String, Address),
}

/// Uniswap V2 on one chain (see the module docs).
#[derive(Debug, Clone)]
pub struct UniswapV2 {
    chain: EvmChain,
    router: Address,
    pairs: Vec<PairSpec>,
}

impl UniswapV2 {
    pub fn new(chain: EvmChain, router: Address, pairs: Vec<PairSpec>) -> Self {
        Self {
            chain,
            router,
            pairs,
        }
    }

    /// The devnet deployment of `manifest`'s chain, reached through `chain`. A pair whose
    /// tokens the manifest does not list is left out.
    pub fn devnet(chain: EvmChain, manifest: &ChainManifest) -> Self {
        let pairs = manifest
            .dex
            .pairs
            .iter()
            .filter_map(|(name, pair)| {
                let (a, b) = name.split_once('/')?;
                let token_a = manifest.tokens.get(a)?.address;
                let token_b = manifest.tokens.get(b)?.address;
                Some(PairSpec {
                    name: name.clone(),
                    pair: *pair,
                    token_a: (a.to_owned(), token_a),
                    token_b: (b.to_owned(), token_b),
                })
            })
            .collect();
        Self::new(chain, manifest.dex.router, pairs)
    }

    /// One pair's reserves, in the pair's `A/B` order (Uniswap orders them by address).
    async fn reserves(&self, spec: &PairSpec) -> Result<PoolReserves, EvmError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        let contract = IUniswapV2Pair::new(to_wire(&spec.pair)?, &node);
        let token0 = contract.token0().call().await?;
        let reserves = contract.getReserves().call().await?;
        let wide = |name: &str| EvmError::Devnet {
            chain: self.chain.caip2.clone(),
            reason: format!("pool {}: {name} over 128 bits", spec.name),
        };
        let r0 = u128::try_from(reserves.reserve0).map_err(|_| wide("reserve0"))?;
        let r1 = u128::try_from(reserves.reserve1).map_err(|_| wide("reserve1"))?;
        let (reserve_a, reserve_b) = if token0 == to_wire(&spec.token_a.1)? {
            (r0, r1)
        } else if token0 == to_wire(&spec.token_b.1)? {
            (r1, r0)
        } else {
            return Err(EvmError::Devnet {
                chain: self.chain.caip2.clone(),
                reason: format!("pool {}: token0 is neither of its tokens", spec.name),
            });
        };
        Ok(PoolReserves {
            name: spec.name.clone(),
            symbol_a: spec.token_a.0.clone(),
            symbol_b: spec.token_b.0.clone(),
            reserve_a,
            reserve_b,
            fee_bps: UNISWAP_V2_FEE_BPS,
        })
    }
}

#[async_trait]
impl Dex for UniswapV2 {
    fn chain_id(&self) -> &str {
        &self.chain.caip2
    }

    fn router(&self) -> &Address {
        &self.router
    }

    async fn pools(&self) -> Vec<Result<PoolReserves, PoolUnreadable>> {
        let mut out = Vec::with_capacity(self.pairs.len());
        for spec in &self.pairs {
            out.push(self.reserves(spec).await.map_err(|error| PoolUnreadable {
                name: spec.name.clone(),
                error: error.into(),
            }));
        }
        out
    }

    async fn allowance(&self, token: &Address, owner: &Address) -> Result<u128, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        let contract = IERC20::new(to_wire(token)?, &node);
        let units = contract
            .allowance(to_wire(owner)?, to_wire(&self.router)?)
            .call()
            .await
            .map_err(EvmError::from)?;
        u128::try_from(units).map_err(|_| ChainError::Invalid("allowance over 128 bits".into()))
    }

    async fn amount_out(
        &self,
        token_in: &Address,
        token_out: &Address,
        amount_in: u128,
    ) -> Result<u128, ChainError> {
        let node = crate::provider::provider(self.chain.rpc_url())?;
        let router = IUniswapV2Router02::new(to_wire(&self.router)?, &node);
        let path = vec![to_wire(token_in)?, to_wire(token_out)?];
        let amounts = router
            .getAmountsOut(U256::from(amount_in), path)
            .call()
            .await
            .map_err(EvmError::from)?;
        let out = amounts.last().copied().unwrap_or(U256::ZERO);
        u128::try_from(out).map_err(|_| ChainError::Invalid("pool output over 128 bits".into()))
    }

    fn approve(&self, token: &Address, units: u128) -> Result<PlannedLeg, ChainError> {
        let call = IERC20::approveCall {
            spender: to_wire(&self.router)?,
            amount: U256::from(units),
        };
        Ok(PlannedLeg {
            action: LegAction::Call {
                to: *token,
                value: 0,
                data: call.abi_encode(),
                moves: None,
            },
            fees: FeeLimits {
                max_fee_per_unit: None,
                extra_units: TOKEN_GAS_HEADROOM,
                pinned: false,
                fixed_units: None,
            },
        })
    }

    fn swap(
        &self,
        (token_in, token_out): (&Address, &Address),
        (amount_in, min_out): (u128, u128),
        to: &Address,
        deadline: u64,
    ) -> Result<PlannedLeg, ChainError> {
        let call = IUniswapV2Router02::swapExactTokensForTokensCall {
            amountIn: U256::from(amount_in),
            amountOutMin: U256::from(min_out),
            path: vec![to_wire(token_in)?, to_wire(token_out)?],
            to: to_wire(to)?,
            deadline: U256::from(deadline),
        };
        Ok(PlannedLeg {
            action: LegAction::Call {
                to: self.router,
                value: 0,
                data: call.abi_encode(),
                moves: Some((*token_in, amount_in)),
            },
            fees: FeeLimits {
                max_fee_per_unit: None,
                extra_units: SWAP_GAS_HEADROOM + TOKEN_GAS_HEADROOM,
                pinned: false,
                fixed_units: None,
            },
        })
    }
}
