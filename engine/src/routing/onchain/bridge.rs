//! Bridging USDC between chains: the [`Bridge`] role and its one implementation,
//! [`DevnetBurnMint`].
//!
//! **`DevnetBurnMint` stands in for CCTP; it is not CCTP.** The devnet has no Circle
//! `TokenMessenger`/`MessageTransmitter` and no attestation service, so the devnet FiatToken's
//! configured minter (its key is in the devnet manifest) plays both: on the source chain the hot
//! wallet transfers `amount` to the minter (`route_burn <leg>:deliver`) and the minter burns it
//! (`route_burn <leg>`); once that burn is confirmed, the minter mints `amount − fee` to the hot
//! wallet on the destination chain (`route_mint <leg>`). Every one of those is a rail leg,
//! recorded and signed before it is sent. It refuses live mode. A live CCTP driver
//! (`depositForBurn`, polling Iris for the attestation, `receiveMessage`) is not built.

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use rialto_core::address::Address;
use rialto_core::id::LegId;
use rialto_evm::contracts::{to_wire, IFiatToken};
use rialto_evm::sender;

use crate::chain::rail::SigningKey;
use rust_decimal::Decimal;

use super::{
    drive, hot_wallet, received, request, send, step, stored, token, ChainLeg, HotWallet,
    LegProgress, Step, Token, ROUTE_BURN, ROUTE_MINT,
};
use crate::services::Engine;

/// One bridge transfer, as a route leg asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeTransfer {
    pub from_chain: String,
    pub to_chain: String,
    pub asset: String,
    pub amount: Decimal,
    /// Kept by the bridge: `amount − fee` arrives.
    pub fee: Decimal,
}

/// Where a bridge transfer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeStatus {
    /// Nothing recorded for the leg.
    NotStarted,
    /// The source side is in flight (or its next transaction is due: call [`Bridge::burn`]).
    Burning,
    /// Burned and final on the source chain; the mint is due ([`Bridge::mint`]).
    Burned,
    Minting,
    /// Minted: `received` is exact, from the `Transfer` log of the mint `tx_hash` (mined in
    /// `block`).
    Minted {
        received: Decimal,
        tx_hash: String,
        block: Option<i64>,
    },
    /// Nothing left the hot wallet.
    Failed {
        why: String,
    },
    /// The funds left the hot wallet and the transfer cannot complete or be told: reconcile.
    Unknown {
        why: String,
    },
}

/// A way to move a stablecoin from Rialto's address on one chain to its address on another.
/// Every method is idempotent per leg and safe to call again after a crash.
#[async_trait]
pub trait Bridge: Send + Sync {
    /// Sends the source side's next due transaction, if any (the first call starts the
    /// transfer). Err: nothing was sent.
    async fn burn(&self, leg: &LegId, transfer: &BridgeTransfer, now_ms: i64)
        -> Result<(), String>;
    /// Sends the destination side once the burn is final; nothing before that or after it.
    async fn mint(&self, leg: &LegId, transfer: &BridgeTransfer, now_ms: i64)
        -> Result<(), String>;
    /// Where the transfer is, from the stored legs and receipts (drives both chains' legs).
    async fn status(
        &self,
        leg: &LegId,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<BridgeStatus, String>;
}

/// Advances a bridge leg one step and reports it as a route leg.
pub async fn progress(
    bridge: &dyn Bridge,
    leg: &LegId,
    transfer: &BridgeTransfer,
    now_ms: i64,
) -> Result<LegProgress, String> {
    Ok(match bridge.status(leg, transfer, now_ms).await? {
        BridgeStatus::NotStarted => {
            return Err(format!("nothing recorded for {leg}; submit it first"))
        }
        BridgeStatus::Burning => {
            bridge.burn(leg, transfer, now_ms).await?;
            LegProgress::Pending
        }
        BridgeStatus::Burned => {
            bridge.mint(leg, transfer, now_ms).await?;
            LegProgress::Pending
        }
        BridgeStatus::Minting => LegProgress::Pending,
        BridgeStatus::Minted {
            received,
            tx_hash,
            block,
        } => LegProgress::Confirmed {
            received,
            tx_hash,
            block,
        },
        BridgeStatus::Failed { why } => LegProgress::Failed {
            reverted: true,
            why,
        },
        BridgeStatus::Unknown { why } => {
            tracing::warn!(%leg, %why, "bridge leg cannot be told; reconcile it");
            LegProgress::Unknown
        }
    })
}

/// The bridge for a [`ChainLeg::Bridge`] in this mode, and the transfer it asks for.
pub fn for_leg<'a>(
    state: &'a Engine,
    livemode: bool,
    spec: &ChainLeg,
) -> Result<(Box<dyn Bridge + 'a>, BridgeTransfer), String> {
    let ChainLeg::Bridge {
        from_chain,
        to_chain,
        asset,
        amount,
        fee,
    } = spec
    else {
        return Err("not a bridge leg".into());
    };
    let transfer = BridgeTransfer {
        from_chain: from_chain.clone(),
        to_chain: to_chain.clone(),
        asset: asset.clone(),
        amount: *amount,
        fee: *fee,
    };
    Ok((
        Box::new(DevnetBurnMint::new(state, livemode, &transfer)?),
        transfer,
    ))
}

/// One side of the devnet bridge: the chain's hot wallet, the minter and the USDC token.
#[derive(Debug)]
struct Side<'a> {
    hot: HotWallet<'a>,
    minter: SigningKey,
    minter_address: Address,
    token: Token,
}

/// The sandbox bridge: burn and mint by the devnet FiatToken's minter (see the module docs).
#[derive(Debug)]
pub struct DevnetBurnMint<'a> {
    state: &'a Engine,
    from: Side<'a>,
    to: Side<'a>,
    /// Burned on the source chain.
    burned: u128,
    /// Minted on the destination chain: `amount − fee`.
    minted: u128,
}

impl<'a> DevnetBurnMint<'a> {
    /// Sandbox only; USDC only; `0 ≤ fee < amount`, both within USDC's decimals.
    pub fn new(
        state: &'a Engine,
        livemode: bool,
        transfer: &BridgeTransfer,
    ) -> Result<Self, String> {
        if livemode {
            return Err(
                "no bridge in live mode: the CCTP driver (depositForBurn, attestation, \
                 receiveMessage) is not built"
                    .into(),
            );
        }
        if !transfer.asset.eq_ignore_ascii_case("USDC") {
            return Err(format!(
                "the devnet bridge moves USDC, not {}",
                transfer.asset
            ));
        }
        let from = side(state, &transfer.from_chain)?;
        let to = side(state, &transfer.to_chain)?;
        if from.hot.chain.caip2 == to.hot.chain.caip2 {
            return Err("a bridge needs two different chains".into());
        }
        let burned = from.token.units(transfer.amount)?;
        let fee = from.token.units(transfer.fee)?;
        let minted = burned
            .checked_sub(fee)
            .filter(|m| *m > 0)
            .ok_or_else(|| format!("fee {} leaves nothing of {}", transfer.fee, transfer.amount))?;
        Ok(Self {
            state,
            from,
            to,
            burned,
            minted,
        })
    }

    fn refs(leg: &LegId) -> (String, String) {
        (format!("{leg}:deliver"), leg.to_string())
    }

    async fn send_token_call(
        &self,
        side: &Side<'a>,
        (purpose, reference): (&'static str, String),
        key: &SigningKey,
        data: Vec<u8>,
        units: u128,
        now_ms: i64,
    ) -> Result<(), String> {
        let request = request(
            (purpose, reference),
            key,
            side.token.address,
            data,
            Some((side.token.address, units)),
        );
        send(self.state, side.hot.chain, &request, now_ms)
            .await
            .map(|_| ())
    }

    async fn source_status(&self, leg: &LegId) -> Result<BridgeStatus, String> {
        let (deliver, burn) = Self::refs(leg);
        let chain = self.from.hot.chain;
        if let Some(burnt) = stored(self.state, ROUTE_BURN, &burn).await? {
            return Ok(match step(chain, &burnt).await? {
                Step::Open => BridgeStatus::Burning,
                Step::Confirmed => BridgeStatus::Burned,
                Step::Reverted(why) => BridgeStatus::Unknown {
                    why: format!(
                        "burn {} reverted ({why}); the USDC sits with the devnet minter",
                        burnt.tx_hash
                    ),
                },
                Step::Lost => BridgeStatus::Unknown {
                    why: format!("burn {} is lost to the node", burnt.tx_hash),
                },
            });
        }
        let Some(delivered) = stored(self.state, ROUTE_BURN, &deliver).await? else {
            return Ok(BridgeStatus::NotStarted);
        };
        Ok(match step(chain, &delivered).await? {
            // Confirmed: the burn is due, which `burn` sends.
            Step::Open | Step::Confirmed => BridgeStatus::Burning,
            Step::Reverted(why) => BridgeStatus::Failed {
                why: format!(
                    "transfer to the bridge {} reverted ({why})",
                    delivered.tx_hash
                ),
            },
            Step::Lost => BridgeStatus::Unknown {
                why: format!(
                    "transfer to the bridge {} is lost to the node",
                    delivered.tx_hash
                ),
            },
        })
    }
}

fn side<'a>(state: &'a Engine, chain: &str) -> Result<Side<'a>, String> {
    let hot = hot_wallet(state, false, chain)?;
    let manifest = super::devnet_manifest(state)?;
    let entry = manifest
        .chain(&hot.chain.caip2)
        .ok_or_else(|| format!("the devnet manifest has no chain {}", hot.chain.caip2))?;
    let signer = sender::signer_from_key(&entry.minter.private_key)
        .map_err(|e| format!("{} devnet minter: {e}", hot.chain.caip2))?;
    let token = token(state, hot.chain, "USDC")?;
    Ok(Side {
        hot,
        minter: SigningKey(entry.minter.private_key.clone()),
        minter_address: sender::signer_address(&signer),
        token,
    })
}

fn wire(address: &Address) -> Result<alloy::primitives::Address, String> {
    to_wire(address).map_err(|e| e.to_string())
}

#[async_trait]
impl Bridge for DevnetBurnMint<'_> {
    async fn burn(&self, leg: &LegId, _: &BridgeTransfer, now_ms: i64) -> Result<(), String> {
        let (deliver, burn) = Self::refs(leg);
        let from = &self.from;
        let Some(delivered) = stored(self.state, ROUTE_BURN, &deliver).await? else {
            let minter = from.minter_address;
            let data =
                sender::erc20_transfer_data(&minter, self.burned).map_err(|e| e.to_string())?;
            let reference = (ROUTE_BURN, deliver);
            return self
                .send_token_call(
                    from,
                    reference,
                    &from.hot.key,
                    data.to_vec(),
                    self.burned,
                    now_ms,
                )
                .await;
        };
        if step(from.hot.chain, &delivered).await? != Step::Confirmed {
            return Ok(());
        }
        let data = IFiatToken::burnCall {
            amount: U256::from(self.burned),
        }
        .abi_encode();
        self.send_token_call(
            from,
            (ROUTE_BURN, burn),
            &from.minter,
            data,
            self.burned,
            now_ms,
        )
        .await
    }

    async fn mint(&self, leg: &LegId, _: &BridgeTransfer, now_ms: i64) -> Result<(), String> {
        let (_, burn) = Self::refs(leg);
        let burnt = stored(self.state, ROUTE_BURN, &burn).await?;
        let final_burn = match &burnt {
            Some(b) => step(self.from.hot.chain, b).await? == Step::Confirmed,
            None => false,
        };
        if !final_burn {
            return Ok(());
        }
        let to = &self.to;
        let data = IFiatToken::mintCall {
            to: wire(&to.hot.address)?,
            amount: U256::from(self.minted),
        }
        .abi_encode();
        self.send_token_call(
            to,
            (ROUTE_MINT, leg.to_string()),
            &to.minter,
            data,
            self.minted,
            now_ms,
        )
        .await
    }

    async fn status(
        &self,
        leg: &LegId,
        _: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<BridgeStatus, String> {
        drive(self.state, self.from.hot.chain, now_ms).await?;
        drive(self.state, self.to.hot.chain, now_ms).await?;
        let to = &self.to;
        let Some(minted) = stored(self.state, ROUTE_MINT, &leg.to_string()).await? else {
            return self.source_status(leg).await;
        };
        Ok(match step(to.hot.chain, &minted).await? {
            Step::Open => BridgeStatus::Minting,
            Step::Confirmed => BridgeStatus::Minted {
                received: received(to.hot.chain, &minted, &to.token, &to.hot.address).await?,
                tx_hash: minted.tx_hash.clone(),
                block: minted.block_number,
            },
            Step::Reverted(why) => BridgeStatus::Unknown {
                why: format!("mint {} reverted ({why}) after the burn", minted.tx_hash),
            },
            Step::Lost => BridgeStatus::Unknown {
                why: format!("mint {} is lost to the node", minted.tx_hash),
            },
        })
    }
}
