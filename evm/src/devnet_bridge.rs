//! [`DevnetBurnMint`]: the bridge role of `rialto-connectors` ([`Bridge`]) on the devnet.
//!
//! **A devnet burn/mint stand-in, not a real bridge protocol.** The devnet has no Circle
//! `TokenMessenger`/`MessageTransmitter` and no attestation service, so the devnet FiatToken's
//! configured minter (its key is in the devnet manifest) plays both: on the source chain the hot
//! wallet transfers `amount` to the minter (`route_burn <leg>:deliver`) and the minter burns it
//! (`route_burn <leg>`); once that burn is confirmed, the minter mints `amount − fee` to the hot
//! wallet on the destination chain (`route_mint <leg>`). Every one of those is a rail leg,
//! recorded in the caller's journal and signed before it is sent. It exists in sandbox mode
//! only (the gateway builds it from the devnet manifest). A live CCTP driver (`depositForBurn`,
//! polling Iris for the attestation, `receiveMessage`) is not built.

use std::collections::BTreeMap;

use alloy::primitives::U256;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use rialto_connectors::bridge::{
    Bridge, BridgeError, BridgeLane, BridgeStatus, BridgeTransfer, BRIDGE_BURN, BRIDGE_MINT,
};
use rialto_connectors::chain::{leg_step, ChainNode, LegStep};
use rialto_connectors::rail::{
    ChainTransfer, FeeLimits, LegAction, LegRequest, RailJournal, SigningKey,
};
use rialto_core::address::Address;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::chain::EvmChain;
use crate::contracts::{to_wire, IFiatToken};
use crate::manifest::DevnetManifest;
use crate::node::EvmNode;
use crate::rail::TOKEN_GAS_HEADROOM;

fn signer_of(key: &SigningKey) -> Result<crate::sender::PrivateKeySigner, EvmError> {
    crate::sender::signer_from_key(&key.0)
}
use crate::EvmError;

/// What the devnet bridge keeps of every transfer, USDC.
pub const DEVNET_BRIDGE_FEE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Its venue, as the market and the API name it: a devnet stand-in, by name.
pub const DEVNET_BURN_MINT_VENUE: &str = "devnet-burn-mint";

/// The asset it moves.
const ASSET: &str = "USDC";

/// One chain of the devnet bridge: its node, Rialto's hot wallet, the minter and USDC.
#[derive(Debug, Clone)]
pub struct DevnetSide {
    pub node: EvmNode,
    pub hot: SigningKey,
    pub hot_address: Address,
    pub minter: SigningKey,
    pub minter_address: Address,
    pub usdc: Address,
    pub decimals: u32,
}

/// The devnet bridge (see the module docs), over every chain it was built with.
#[derive(Debug, Clone, Default)]
pub struct DevnetBurnMint {
    sides: BTreeMap<String, DevnetSide>,
}

/// One transfer, resolved against the bridge's chains.
struct Plan<'a> {
    from: &'a DevnetSide,
    to: &'a DevnetSide,
    burned: u128,
    minted: u128,
}

fn units(amount: Decimal, decimals: u32) -> Option<u128> {
    if amount.is_sign_negative() || amount.normalize().scale() > decimals {
        return None;
    }
    amount
        .checked_mul(Decimal::from(10u64.checked_pow(decimals)?))?
        .to_u128()
}

fn amount(units: u128, decimals: u32) -> Result<Decimal, BridgeError> {
    i128::try_from(units)
        .ok()
        .and_then(|u| Decimal::try_from_i128_with_scale(u, decimals).ok())
        .map(|d| d.normalize())
        .ok_or_else(|| BridgeError::Refused(format!("{units} base units is out of range")))
}

impl DevnetBurnMint {
    /// The bridge over `chains` (the gateway's sandbox chains, with their hot wallets), with
    /// the minters and USDC of `manifest`. A chain without a hot wallet or USDC is left out.
    pub fn from_manifest(manifest: &DevnetManifest, chains: &[EvmChain]) -> Result<Self, EvmError> {
        let mut sides = BTreeMap::new();
        for chain in chains {
            let (Some(entry), Some(hot)) = (manifest.chain(&chain.caip2), &chain.hot_wallet) else {
                continue;
            };
            let Some(usdc) = entry.tokens.get(ASSET) else {
                continue;
            };
            let node = EvmNode::new(chain.clone());
            let hot = SigningKey(hot.clone());
            let minter = SigningKey(entry.minter.private_key.clone());
            let side = DevnetSide {
                hot_address: crate::sender::signer_address(&signer_of(&hot)?),
                minter_address: crate::sender::signer_address(&signer_of(&minter)?),
                node,
                hot,
                minter,
                usdc: usdc.address,
                decimals: u32::from(usdc.decimals),
            };
            sides.insert(chain.caip2.clone(), side);
        }
        Ok(Self { sides })
    }

    fn side(&self, chain: &str) -> Result<&DevnetSide, BridgeError> {
        self.sides
            .values()
            .find(|s| s.node.chain.caip2 == chain || s.node.chain.alias == chain)
            .ok_or_else(|| BridgeError::Refused(format!("the devnet bridge has no chain {chain}")))
    }

    /// Resolves and checks a transfer: USDC only; two different chains; `0 ≤ fee < amount`,
    /// both within USDC's decimals.
    fn plan(&self, transfer: &BridgeTransfer) -> Result<Plan<'_>, BridgeError> {
        if !transfer.asset.eq_ignore_ascii_case(ASSET) {
            return Err(BridgeError::Refused(format!(
                "the devnet bridge moves USDC, not {}",
                transfer.asset
            )));
        }
        let from = self.side(&transfer.from_chain)?;
        let to = self.side(&transfer.to_chain)?;
        if from.node.chain.caip2 == to.node.chain.caip2 {
            return Err(BridgeError::Refused(
                "a bridge needs two different chains".into(),
            ));
        }
        let exact = |what: Decimal| {
            units(what, from.decimals)
                .ok_or_else(|| BridgeError::Refused(format!("USDC {what}: not an amount of USDC")))
        };
        let burned = exact(transfer.amount)?;
        let fee = exact(transfer.fee)?;
        let minted = burned.checked_sub(fee).filter(|m| *m > 0).ok_or_else(|| {
            BridgeError::Refused(format!(
                "fee {} leaves nothing of {}",
                transfer.fee, transfer.amount
            ))
        })?;
        Ok(Plan {
            from,
            to,
            burned,
            minted,
        })
    }

    fn refs(leg: &str) -> (String, String) {
        (format!("{leg}:deliver"), leg.to_owned())
    }
}

/// Sends a USDC call on `side` signed by `key`, as rail leg `(purpose, reference)`.
async fn send_token_call(
    journal: &dyn RailJournal,
    side: &DevnetSide,
    (purpose, reference): (&'static str, String),
    key: &SigningKey,
    data: Vec<u8>,
    units: u128,
    now_ms: i64,
) -> Result<(), BridgeError> {
    let request = LegRequest {
        purpose,
        reference,
        payment_intent_id: None,
        from: key.clone(),
        action: LegAction::Call {
            to: side.usdc,
            value: 0,
            data,
            moves: Some((side.usdc, units)),
        },
        fees: FeeLimits {
            max_fee_per_unit: None,
            extra_units: TOKEN_GAS_HEADROOM,
            pinned: false,
            fixed_units: None,
        },
    };
    side.node.rail(journal).send(&request, now_ms).await?;
    Ok(())
}

async fn step(side: &DevnetSide, leg: &ChainTransfer) -> Result<LegStep, BridgeError> {
    Ok(leg_step(&side.node, leg).await?)
}

/// Where the source side is, when nothing was minted yet.
async fn source_status(
    journal: &dyn RailJournal,
    plan: &Plan<'_>,
    leg: &str,
) -> Result<BridgeStatus, BridgeError> {
    let (deliver, burn) = DevnetBurnMint::refs(leg);
    if let Some(burnt) = journal.find(BRIDGE_BURN, &burn).await? {
        return Ok(match step(plan.from, &burnt).await? {
            LegStep::Open => BridgeStatus::Burning,
            LegStep::Confirmed => BridgeStatus::Burned,
            LegStep::Reverted(why) => BridgeStatus::Unknown {
                why: format!(
                    "burn {} reverted ({why}); the USDC sits with the devnet minter",
                    burnt.tx_hash
                ),
            },
            LegStep::Lost => BridgeStatus::Unknown {
                why: format!("burn {} is lost to the node", burnt.tx_hash),
            },
        });
    }
    let Some(delivered) = journal.find(BRIDGE_BURN, &deliver).await? else {
        return Ok(BridgeStatus::NotStarted);
    };
    Ok(match step(plan.from, &delivered).await? {
        // Confirmed: the burn is due, which `burn` sends.
        LegStep::Open | LegStep::Confirmed => BridgeStatus::Burning,
        LegStep::Reverted(why) => BridgeStatus::Failed {
            why: format!(
                "transfer to the bridge {} reverted ({why})",
                delivered.tx_hash
            ),
        },
        LegStep::Lost => BridgeStatus::Unknown {
            why: format!(
                "transfer to the bridge {} is lost to the node",
                delivered.tx_hash
            ),
        },
    })
}

#[async_trait]
impl Bridge for DevnetBurnMint {
    fn lanes(&self) -> Vec<BridgeLane> {
        let mut lanes = Vec::new();
        for from in self.sides.keys() {
            for to in self.sides.keys().filter(|to| *to != from) {
                lanes.push(BridgeLane {
                    from_chain: from.clone(),
                    to_chain: to.clone(),
                    asset: ASSET.into(),
                    fee: DEVNET_BRIDGE_FEE,
                    venue: DEVNET_BURN_MINT_VENUE.into(),
                    kind: rialto_connectors::bridge::LaneKind::FeeInAsset,
                });
            }
        }
        lanes
    }

    async fn burn(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError> {
        let plan = self.plan(transfer)?;
        let (deliver, burn) = Self::refs(leg);
        let from = plan.from;
        let Some(delivered) = journal.find(BRIDGE_BURN, &deliver).await? else {
            let data = crate::sender::erc20_transfer_data(&from.minter_address, plan.burned)
                .map_err(rialto_connectors::chain::ChainError::from)?;
            return send_token_call(
                journal,
                from,
                (BRIDGE_BURN, deliver),
                &from.hot,
                data.to_vec(),
                plan.burned,
                now_ms,
            )
            .await;
        };
        if step(from, &delivered).await? != LegStep::Confirmed {
            return Ok(());
        }
        let data = IFiatToken::burnCall {
            amount: U256::from(plan.burned),
        }
        .abi_encode();
        send_token_call(
            journal,
            from,
            (BRIDGE_BURN, burn),
            &from.minter,
            data,
            plan.burned,
            now_ms,
        )
        .await
    }

    async fn mint(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError> {
        let plan = self.plan(transfer)?;
        let (_, burn) = Self::refs(leg);
        let final_burn = match journal.find(BRIDGE_BURN, &burn).await? {
            Some(b) => step(plan.from, &b).await? == LegStep::Confirmed,
            None => false,
        };
        if !final_burn {
            return Ok(());
        }
        let to = plan.to;
        let data = IFiatToken::mintCall {
            to: to_wire(&to.hot_address).map_err(rialto_connectors::chain::ChainError::from)?,
            amount: U256::from(plan.minted),
        }
        .abi_encode();
        send_token_call(
            journal,
            to,
            (BRIDGE_MINT, leg.to_owned()),
            &to.minter,
            data,
            plan.minted,
            now_ms,
        )
        .await
    }

    async fn status(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<BridgeStatus, BridgeError> {
        let plan = self.plan(transfer)?;
        plan.from.node.rail(journal).drive(now_ms).await?;
        plan.to.node.rail(journal).drive(now_ms).await?;
        let to = plan.to;
        let Some(minted) = journal.find(BRIDGE_MINT, leg).await? else {
            return source_status(journal, &plan, leg).await;
        };
        Ok(match step(to, &minted).await? {
            LegStep::Open => BridgeStatus::Minting,
            LegStep::Confirmed => {
                let seen = to
                    .node
                    .observe_transfer(&minted.tx_hash, &to.usdc, &to.hot_address)
                    .await?;
                BridgeStatus::Minted {
                    received: amount(seen.amount_units, to.decimals)?,
                    tx_hash: minted.tx_hash.clone(),
                    block: minted.block_number,
                }
            }
            LegStep::Reverted(why) => BridgeStatus::Unknown {
                why: format!("mint {} reverted ({why}) after the burn", minted.tx_hash),
            },
            LegStep::Lost => BridgeStatus::Unknown {
                why: format!("mint {} is lost to the node", minted.tx_hash),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_to_usdc_units_exactly_or_not_at_all() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(units(d("12.5"), 6), Some(12_500_000));
        assert_eq!(units(d("1.0000001"), 6), None, "never rounded");
        assert_eq!(units(d("-1"), 6), None);
        assert_eq!(amount(49_750_000, 6).unwrap(), d("49.75"));
    }
}
