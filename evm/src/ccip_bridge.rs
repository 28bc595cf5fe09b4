//! [`CcipBridge`]: the connectors' [`Bridge`] over Chainlink CCIP, speaking the router as a
//! live client does: `approve(router, amount)`, `getFee(dest, message)`, then
//! `ccipSend{value: fee}(dest, message)` from Rialto's hot wallet to its own address on the
//! destination. The amount arrives whole; the router's fee is paid in the source chain's native
//! coin and booked as a network fee ([`Bridge::network_fees`], read from the send transaction).
//!
//! Delivery is tracked by the message id: the send's receipt carries the on-ramp's event with
//! it, and the destination's off-ramp emits `ExecutionStateChanged(..., messageId, SUCCESS)`
//! when it executes it; the received amount is the `Transfer` to the hot wallet in that
//! transaction. A message not executed within the configured delivery time is
//! [`BridgeStatus::Unknown`]: it is never sent again (the tokens left with the first send), an
//! operator reconciles it. Every transaction is a rail leg recorded before it is sent, so a
//! crash never sends twice.
//!
//! On the devnet the router is Chainlink's own `Router.sol`; the on-ramp and off-ramp behind it
//! and the DON that carries messages are devnet stand-ins (`DevnetCcipOnRamp`,
//! `DevnetCcipOffRamp`, [`crate::devnet_don::DevnetDonStandIn`]). On a live chain the send's
//! message id comes from the OnRamp's `CCIPMessageSent` event and the off-ramps are
//! Chainlink's; those addresses would be configuration, not the devnet manifest.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::primitives::{B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolCall, SolEvent};
use async_trait::async_trait;
use rialto_connectors::bridge::{
    Bridge, BridgeError, BridgeLane, BridgeNetworkFee, BridgeStatus, BridgeTransfer, LaneKind,
    BRIDGE_BURN,
};
use rialto_connectors::chain::{leg_step, ChainError, ChainNode, LegStep};
use rialto_connectors::rail::{
    ChainTransfer, FeeLimits, LegAction, LegRequest, RailJournal, SigningKey,
};
use rialto_core::address::Address;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::ccip::{token_transfer_message, ICcipRouter, IDevnetCcipOffRamp, IDevnetCcipOnRamp};
use crate::chain::EvmChain;
use crate::contracts::to_wire;
use crate::manifest::DevnetManifest;
use crate::node::EvmNode;
use crate::rail::TOKEN_GAS_HEADROOM;
use crate::EvmError;

/// The venue CCIP lanes carry, as the market and the API name it.
pub const CCIP_VENUE: &str = "ccip";

/// One chain: its node, Rialto's hot wallet, the router, its selector and what it carries.
#[derive(Debug, Clone)]
pub struct CcipSide {
    pub node: EvmNode,
    pub hot: SigningKey,
    pub hot_address: Address,
    pub router: Address,
    pub selector: u64,
    /// Carried tokens by symbol: address and decimals.
    pub tokens: BTreeMap<String, (Address, u32)>,
    /// The off-ramps on this chain by source chain (CAIP-2): where delivery is seen.
    pub off_ramps: BTreeMap<String, Address>,
    /// The router's last known fee per destination (CAIP-2), native base units: the lanes'
    /// cost for routing. Sends always quote `getFee` afresh.
    pub fee_hint: BTreeMap<String, u128>,
}

/// The CCIP bridge (see the module docs).
#[derive(Debug, Clone)]
pub struct CcipBridge {
    sides: BTreeMap<String, CcipSide>,
    delivery_timeout: Duration,
}

struct Plan<'a> {
    from: &'a CcipSide,
    to: &'a CcipSide,
    token: (Address, u32),
    dest_token: Address,
    units: u128,
}

fn refs(leg: &str) -> (String, String) {
    (format!("{leg}:ccip_approve"), format!("{leg}:ccip_send"))
}

fn chain_err(e: EvmError) -> BridgeError {
    BridgeError::Chain(ChainError::from(e))
}

fn units(amount: Decimal, decimals: u32) -> Option<u128> {
    if amount.is_sign_negative() || amount.normalize().scale() > decimals {
        return None;
    }
    amount
        .checked_mul(Decimal::from(10u64.checked_pow(decimals)?))?
        .to_u128()
}

impl CcipBridge {
    /// Over `chains` (those with a hot wallet and CCIP in `manifest`), carrying USDC and the
    /// manifest's deposit tokens; a message undelivered after `delivery_timeout` is unknown.
    pub fn from_manifest(
        manifest: &DevnetManifest,
        chains: &[EvmChain],
        delivery_timeout: Duration,
    ) -> Result<Self, EvmError> {
        let mut sides = BTreeMap::new();
        for chain in chains {
            let (Some(entry), Some(hot)) = (manifest.chain(&chain.caip2), &chain.hot_wallet) else {
                continue;
            };
            let Some(rails) = &entry.institutional else {
                continue;
            };
            let mut tokens = BTreeMap::new();
            if let Some(usdc) = entry.tokens.get("USDC") {
                tokens.insert("USDC".to_owned(), (usdc.address, u32::from(usdc.decimals)));
            }
            for (symbol, t) in &rails.deposit_tokens {
                tokens.insert(symbol.clone(), (t.address, u32::from(t.decimals)));
            }
            let (mut off_ramps, mut fee_hint) = (BTreeMap::new(), BTreeMap::new());
            for (peer, lane) in &rails.ccip.lanes {
                let Some(peer) = manifest.chain(peer) else {
                    continue;
                };
                if let Some(off_ramp) = lane.off_ramp {
                    off_ramps.insert(peer.chain_id.to_string(), off_ramp);
                }
                fee_hint.insert(peer.chain_id.to_string(), u128::from(lane.native_fee_wei));
            }
            let hot = SigningKey(hot.clone());
            let signer = crate::sender::signer_from_key(&hot.0)?;
            let side = CcipSide {
                node: EvmNode::new(chain.clone()),
                hot_address: crate::sender::signer_address(&signer),
                hot,
                router: rails.ccip.router,
                selector: rails.ccip.chain_selector,
                tokens,
                off_ramps,
                fee_hint,
            };
            sides.insert(chain.caip2.clone(), side);
        }
        Ok(Self {
            sides,
            delivery_timeout,
        })
    }

    fn side(&self, chain: &str) -> Result<&CcipSide, BridgeError> {
        self.sides
            .values()
            .find(|s| s.node.chain.caip2 == chain || s.node.chain.alias == chain)
            .ok_or_else(|| BridgeError::Refused(format!("CCIP has no chain {chain}")))
    }

    /// Resolves and checks a transfer: a carried token on two different chains, no fee in the
    /// asset (CCIP's fee is native), an exact amount.
    fn plan(&self, t: &BridgeTransfer) -> Result<Plan<'_>, BridgeError> {
        let (from, to) = (self.side(&t.from_chain)?, self.side(&t.to_chain)?);
        if from.node.chain.caip2 == to.node.chain.caip2 {
            return Err(BridgeError::Refused(
                "a bridge needs two different chains".into(),
            ));
        }
        let find = |side: &CcipSide| {
            side.tokens
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(&t.asset))
                .map(|(_, v)| *v)
                .ok_or_else(|| BridgeError::Refused(format!("CCIP does not carry {}", t.asset)))
        };
        let (token, (dest_token, _)) = (find(from)?, find(to)?);
        if !t.fee.is_zero() {
            return Err(BridgeError::Refused(
                "CCIP keeps nothing of the amount; its fee is paid in native coin".into(),
            ));
        }
        let units = units(t.amount, token.1).filter(|u| *u > 0).ok_or_else(|| {
            BridgeError::Refused(format!("{} {}: not an amount", t.asset, t.amount))
        })?;
        Ok(Plan {
            from,
            to,
            token,
            dest_token,
            units,
        })
    }
}

/// Sends one call from the hot wallet on `side` as rail leg `(BRIDGE_BURN, reference)`.
async fn send_call(
    journal: &dyn RailJournal,
    side: &CcipSide,
    reference: String,
    (to, value, data): (Address, u128, Vec<u8>),
    moves: Option<(Address, u128)>,
    now_ms: i64,
) -> Result<(), BridgeError> {
    let request = LegRequest {
        purpose: BRIDGE_BURN,
        reference,
        payment_intent_id: None,
        from: side.hot.clone(),
        action: LegAction::Call {
            to,
            value,
            data,
            moves,
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

async fn step(side: &CcipSide, leg: &ChainTransfer) -> Result<LegStep, BridgeError> {
    Ok(leg_step(&side.node, leg).await?)
}

fn hash(tx: &str) -> Result<B256, BridgeError> {
    tx.parse()
        .map_err(|_| BridgeError::Refused(format!("{tx} is not a transaction hash")))
}

/// The message id the send's receipt records (the on-ramp's event).
async fn message_id(side: &CcipSide, sent: &ChainTransfer) -> Result<Option<B256>, BridgeError> {
    let provider = crate::provider::provider(side.node.chain.rpc_url()).map_err(chain_err)?;
    let receipt = provider
        .get_transaction_receipt(hash(&sent.tx_hash)?)
        .await
        .map_err(|e| chain_err(e.into()))?;
    Ok(receipt.and_then(|r| {
        r.inner.logs().iter().find_map(|log| {
            IDevnetCcipOnRamp::DevnetCcipSendRequested::decode_log(&log.inner)
                .ok()
                .map(|e| e.messageId)
        })
    }))
}

/// The destination transaction that executed `id` successfully, if any.
async fn executed(
    to: &CcipSide,
    off_ramp: &Address,
    id: B256,
) -> Result<Option<(String, Option<i64>)>, BridgeError> {
    let provider = crate::provider::provider(to.node.chain.rpc_url()).map_err(chain_err)?;
    let filter = Filter::new()
        .address(to_wire(off_ramp).map_err(chain_err)?)
        .event_signature(IDevnetCcipOffRamp::ExecutionStateChanged::SIGNATURE_HASH)
        .topic3(id)
        .from_block(0u64);
    let logs = provider
        .get_logs(&filter)
        .await
        .map_err(|e| chain_err(e.into()))?;
    Ok(logs.into_iter().find_map(|log| {
        let event = IDevnetCcipOffRamp::ExecutionStateChanged::decode_log(&log.inner).ok()?;
        if event.state != crate::ccip::EXECUTION_SUCCESS {
            return None;
        }
        Some((
            format!("{:#x}", log.transaction_hash?),
            log.block_number.and_then(|b| i64::try_from(b).ok()),
        ))
    }))
}

#[async_trait]
impl Bridge for CcipBridge {
    fn lanes(&self) -> Vec<BridgeLane> {
        let mut lanes = Vec::new();
        for (from_id, from) in &self.sides {
            for (to_id, to) in self.sides.iter().filter(|(id, _)| *id != from_id) {
                let fee = from.fee_hint.get(to_id).copied().unwrap_or(0);
                for symbol in from.tokens.keys().filter(|s| to.tokens.contains_key(*s)) {
                    lanes.push(BridgeLane {
                        from_chain: from_id.clone(),
                        to_chain: to_id.clone(),
                        asset: symbol.clone(),
                        fee: Decimal::ZERO,
                        venue: CCIP_VENUE.into(),
                        kind: LaneKind::Ccip {
                            native_fee_units: fee,
                        },
                    });
                }
            }
        }
        lanes
    }

    /// Approves the router, then (approval confirmed) quotes `getFee` and sends `ccipSend`
    /// with exactly that fee. Each at most once per leg.
    async fn burn(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError> {
        let plan = self.plan(transfer)?;
        let (approve, send) = refs(leg);
        let from = plan.from;
        let router = to_wire(&from.router).map_err(chain_err)?;
        let Some(approved) = journal.find(BRIDGE_BURN, &approve).await? else {
            let data = crate::contracts::IERC20::approveCall {
                spender: router,
                amount: U256::from(plan.units),
            }
            .abi_encode();
            let call = (plan.token.0, 0, data);
            return send_call(journal, from, approve, call, None, now_ms).await;
        };
        if journal.find(BRIDGE_BURN, &send).await?.is_some()
            || step(from, &approved).await? != LegStep::Confirmed
        {
            return Ok(());
        }
        let message =
            token_transfer_message(&plan.to.hot_address, &plan.token.0, U256::from(plan.units))
                .map_err(chain_err)?;
        let provider = crate::provider::provider(from.node.chain.rpc_url()).map_err(chain_err)?;
        let fee = crate::ccip::get_fee(&provider, &from.router, plan.to.selector, message.clone())
            .await
            .map_err(chain_err)?;
        let fee = u128::try_from(fee)
            .map_err(|_| BridgeError::Refused(format!("CCIP fee {fee} is out of range")))?;
        let data = ICcipRouter::ccipSendCall {
            destinationChainSelector: plan.to.selector,
            message,
        }
        .abi_encode();
        let moves = Some((plan.token.0, plan.units));
        send_call(journal, from, send, (from.router, fee, data), moves, now_ms).await
    }

    /// Nothing: the DON (on the devnet its stand-in) executes on the destination.
    async fn mint(
        &self,
        _: &dyn RailJournal,
        _: &str,
        transfer: &BridgeTransfer,
        _: i64,
    ) -> Result<(), BridgeError> {
        self.plan(transfer).map(|_| ())
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
        let (approve, send) = refs(leg);
        let Some(sent) = journal.find(BRIDGE_BURN, &send).await? else {
            let Some(approved) = journal.find(BRIDGE_BURN, &approve).await? else {
                return Ok(BridgeStatus::NotStarted);
            };
            return Ok(match step(plan.from, &approved).await? {
                LegStep::Open | LegStep::Confirmed => BridgeStatus::Burning,
                LegStep::Reverted(why) => BridgeStatus::Failed {
                    why: format!("approval {} reverted ({why})", approved.tx_hash),
                },
                // An approval moves nothing, but the leg's next step cannot be told.
                LegStep::Lost => BridgeStatus::Unknown {
                    why: format!("approval {} is lost to the node", approved.tx_hash),
                },
            });
        };
        match step(plan.from, &sent).await? {
            LegStep::Open => return Ok(BridgeStatus::Burning),
            LegStep::Reverted(why) => {
                return Ok(BridgeStatus::Failed {
                    why: format!("ccipSend {} reverted ({why}); nothing left", sent.tx_hash),
                })
            }
            LegStep::Lost => {
                return Ok(BridgeStatus::Unknown {
                    why: format!("ccipSend {} is lost to the node", sent.tx_hash),
                })
            }
            LegStep::Confirmed => {}
        }
        delivery(self, &plan, &sent, now_ms).await
    }

    /// The message id the confirmed `ccipSend`'s receipt records.
    async fn message_id(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
    ) -> Result<Option<String>, BridgeError> {
        let plan = self.plan(transfer)?;
        let Some(sent) = journal.find(BRIDGE_BURN, &refs(leg).1).await? else {
            return Ok(None);
        };
        if step(plan.from, &sent).await? != LegStep::Confirmed {
            return Ok(None);
        }
        Ok(message_id(plan.from, &sent)
            .await?
            .map(|id| format!("{id:#x}")))
    }

    async fn network_fees(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
    ) -> Result<Vec<BridgeNetworkFee>, BridgeError> {
        let plan = self.plan(transfer)?;
        let Some(sent) = journal.find(BRIDGE_BURN, &refs(leg).1).await? else {
            return Ok(Vec::new());
        };
        if step(plan.from, &sent).await? != LegStep::Confirmed {
            return Ok(Vec::new());
        }
        let provider =
            crate::provider::provider(plan.from.node.chain.rpc_url()).map_err(chain_err)?;
        let tx = provider
            .get_transaction_by_hash(hash(&sent.tx_hash)?)
            .await
            .map_err(|e| chain_err(e.into()))?
            .ok_or_else(|| BridgeError::Refused(format!("{} not found", sent.tx_hash)))?;
        let value = alloy::consensus::Transaction::value(&tx);
        let units = u128::try_from(value)
            .map_err(|_| BridgeError::Refused(format!("fee {value} is out of range")))?;
        Ok(vec![BridgeNetworkFee {
            chain: plan.from.node.chain.caip2.clone(),
            units,
            tx_hash: sent.tx_hash.clone(),
        }])
    }
}

/// A confirmed send: delivered (with the exact amount), still in flight, or past the delivery
/// time and so unknown (never sent again).
async fn delivery(
    bridge: &CcipBridge,
    plan: &Plan<'_>,
    sent: &ChainTransfer,
    now_ms: i64,
) -> Result<BridgeStatus, BridgeError> {
    let Some(id) = message_id(plan.from, sent).await? else {
        return Ok(BridgeStatus::Unknown {
            why: format!("ccipSend {} recorded no CCIP message", sent.tx_hash),
        });
    };
    let off_ramp = plan.to.off_ramps.get(&plan.from.node.chain.caip2);
    if let Some(off_ramp) = off_ramp {
        if let Some((tx, block)) = executed(plan.to, off_ramp, id).await? {
            let seen = plan
                .to
                .node
                .observe_transfer(&tx, &plan.dest_token, &plan.to.hot_address)
                .await?;
            let received = i128::try_from(seen.amount_units)
                .ok()
                .and_then(|u| Decimal::try_from_i128_with_scale(u, plan.token.1).ok())
                .ok_or_else(|| BridgeError::Refused("received amount out of range".into()))?;
            return Ok(BridgeStatus::Minted {
                received: received.normalize(),
                tx_hash: tx,
                block,
            });
        }
    }
    let waited_ms = now_ms.saturating_sub(sent.draft.created_at_ms);
    let limit_ms = i64::try_from(bridge.delivery_timeout.as_millis()).unwrap_or(i64::MAX);
    if waited_ms > limit_ms {
        return Ok(BridgeStatus::Unknown {
            why: format!(
                "CCIP message {id:#x} (ccipSend {}) not executed on {} within {} s; it is \
                 not sent again: reconcile it",
                sent.tx_hash,
                plan.to.node.chain.caip2,
                bridge.delivery_timeout.as_secs()
            ),
        });
    }
    Ok(BridgeStatus::Minting)
}
