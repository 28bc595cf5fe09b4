//! [`DevnetRelay`]: a **devnet stand-in** bridge that carries USDC between chains of any family
//! (Solana ↔ EVM), over the chains' own [`ChainNode`]s and rails. It is not CCTP, not
//! Wormhole, and moves no real money: on the devnet a relayer whose keys sit in the devnet
//! manifest plays the bridge at both ends.
//!
//! A transfer of `amount` (fee `fee`) from chain A to chain B, for route leg `leg`:
//! 1. `route_burn <leg>:deliver`: A's hot wallet sends `amount` to A's relayer (a plain token
//!    transfer from the chain's `ChainNode::token_transfer`).
//! 2. `route_burn <leg>`: where A's end burns ([`RelaySupply::burn`], the EVM devnet's
//!    FiatToken minter), the relayer burns what it received once the delivery is confirmed.
//!    Where A's end locks (Solana: [`LockRelease`]), there is no second transaction: the
//!    relayer keeps the USDC.
//! 3. `route_mint <leg>`: once the source side is final, B's relayer issues `amount − fee` to
//!    B's hot wallet ([`RelaySupply::issue`]: a mint, or a release from the relayer's reserve).
//!
//! Every one of those is a rail leg, recorded (signed) in the caller's journal before it is
//! sent, so each method can be called again after a crash and nothing is sent twice. What a
//! live implementation needs instead (CCTP v2: `depositForBurn`, Circle's attestation,
//! `receiveMessage` on the Solana message transmitter) is in `docs/bridges.md`.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use rialto_core::address::Address;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{
    Bridge, BridgeError, BridgeLane, BridgeStatus, BridgeTransfer, BRIDGE_BURN, BRIDGE_MINT,
};
use crate::chain::{leg_step, ChainError, ChainNode, LegStep};
use crate::rail::{ChainTransfer, LegRequest, PlannedLeg, RailJournal, SigningKey};

/// The relay's venue, as the market and the API name it: a devnet stand-in, by name.
pub const DEVNET_RELAY_VENUE: &str = "devnet-relay";

/// What the devnet relay keeps of every transfer, USDC.
pub const DEVNET_RELAY_FEE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// How one end of the relay takes USDC out of circulation and puts it back.
pub trait RelaySupply: Send + Sync + fmt::Debug {
    /// The relayer's leg that burns `units` it holds, or `None` where this end locks them
    /// (they stay with the relayer).
    fn burn(&self, units: u128) -> Option<PlannedLeg>;
    /// The relayer's leg that gives `units` to `to`: a mint, or a release from its reserve.
    fn issue(&self, to: &Address, units: u128) -> PlannedLeg;
}

/// An end that locks what arrives with the relayer and releases from the relayer's reserve:
/// plain token transfers, on any chain (the Solana devnet end).
#[derive(Debug)]
pub struct LockRelease {
    pub node: Arc<dyn ChainNode>,
    pub token: Address,
}

impl RelaySupply for LockRelease {
    fn burn(&self, _units: u128) -> Option<PlannedLeg> {
        None
    }

    fn issue(&self, to: &Address, units: u128) -> PlannedLeg {
        self.node.token_transfer(&self.token, to, units)
    }
}

/// One chain of the relay: its node, USDC there, Rialto's hot wallet and the relayer.
#[derive(Clone)]
pub struct RelayEnd {
    pub node: Arc<dyn ChainNode>,
    pub alias: String,
    pub token: Address,
    pub decimals: u32,
    pub hot: SigningKey,
    pub hot_address: Address,
    pub relayer: SigningKey,
    pub relayer_address: Address,
    pub supply: Arc<dyn RelaySupply>,
}

impl fmt::Debug for RelayEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelayEnd")
            .field("chain", &self.node.chain_id())
            .field("token", &self.token)
            .field("hot", &self.hot_address)
            .field("relayer", &self.relayer_address)
            .field("supply", &self.supply)
            .finish()
    }
}

impl RelayEnd {
    /// The end on `node`, with the addresses its keys sign as there.
    pub fn new(
        node: Arc<dyn ChainNode>,
        alias: &str,
        (token, decimals): (Address, u32),
        hot: SigningKey,
        relayer: SigningKey,
        supply: Arc<dyn RelaySupply>,
    ) -> Result<Self, ChainError> {
        Ok(Self {
            hot_address: node.address_of(&hot)?,
            relayer_address: node.address_of(&relayer)?,
            node,
            alias: alias.to_owned(),
            token,
            decimals,
            hot,
            relayer,
            supply,
        })
    }

    fn chain(&self) -> &str {
        self.node.chain_id()
    }
}

/// The relay (see the module docs) over its ends; USDC only.
#[derive(Debug, Clone, Default)]
pub struct DevnetRelay {
    ends: Vec<RelayEnd>,
}

/// One transfer, resolved against the relay's ends.
struct Plan<'a> {
    from: &'a RelayEnd,
    to: &'a RelayEnd,
    sent: u128,
    issued: u128,
}

const ASSET: &str = "USDC";

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

fn refs(leg: &str) -> (String, String) {
    (format!("{leg}:deliver"), leg.to_owned())
}

impl DevnetRelay {
    pub fn new(ends: Vec<RelayEnd>) -> Self {
        Self { ends }
    }

    fn end(&self, chain: &str) -> Result<&RelayEnd, BridgeError> {
        self.ends
            .iter()
            .find(|e| e.chain() == chain || e.alias == chain)
            .ok_or_else(|| BridgeError::Refused(format!("the devnet relay has no chain {chain}")))
    }

    /// Resolves and checks a transfer: USDC only; two different chains with the same
    /// decimals; `0 ≤ fee < amount`, both exact in USDC's decimals.
    fn plan(&self, transfer: &BridgeTransfer) -> Result<Plan<'_>, BridgeError> {
        if !transfer.asset.eq_ignore_ascii_case(ASSET) {
            return Err(BridgeError::Refused(format!(
                "the devnet relay moves USDC, not {}",
                transfer.asset
            )));
        }
        let from = self.end(&transfer.from_chain)?;
        let to = self.end(&transfer.to_chain)?;
        if from.chain() == to.chain() || from.decimals != to.decimals {
            return Err(BridgeError::Refused(
                "a bridge needs two different chains with the same USDC decimals".into(),
            ));
        }
        let exact = |what: Decimal| {
            units(what, from.decimals)
                .ok_or_else(|| BridgeError::Refused(format!("USDC {what}: not an amount of USDC")))
        };
        let sent = exact(transfer.amount)?;
        let fee = exact(transfer.fee)?;
        let issued = sent.checked_sub(fee).filter(|m| *m > 0).ok_or_else(|| {
            BridgeError::Refused(format!(
                "fee {} leaves nothing of {}",
                transfer.fee, transfer.amount
            ))
        })?;
        Ok(Plan {
            from,
            to,
            sent,
            issued,
        })
    }
}

/// Records and sends `planned` on `end`, signed by `key`, as rail leg `(purpose, reference)`.
async fn send(
    journal: &dyn RailJournal,
    end: &RelayEnd,
    (purpose, reference): (&'static str, String),
    key: &SigningKey,
    planned: PlannedLeg,
    now_ms: i64,
) -> Result<(), BridgeError> {
    let request = LegRequest {
        purpose,
        reference,
        payment_intent_id: None,
        from: key.clone(),
        action: planned.action,
        fees: planned.fees,
    };
    end.node.rail(journal).send(&request, now_ms).await?;
    Ok(())
}

async fn step(end: &RelayEnd, leg: &ChainTransfer) -> Result<LegStep, BridgeError> {
    Ok(leg_step(end.node.as_ref(), leg).await?)
}

/// Whether the source side is final: the burn confirmed, or (a locking end) the delivery.
async fn source_final(
    journal: &dyn RailJournal,
    plan: &Plan<'_>,
    leg: &str,
) -> Result<bool, BridgeError> {
    let (deliver, burn) = refs(leg);
    let last = if plan.from.supply.burn(plan.sent).is_some() {
        burn
    } else {
        deliver
    };
    Ok(match journal.find(BRIDGE_BURN, &last).await? {
        Some(sent) => step(plan.from, &sent).await? == LegStep::Confirmed,
        None => false,
    })
}

/// Where the source side is, when nothing was issued yet.
async fn source_status(
    journal: &dyn RailJournal,
    plan: &Plan<'_>,
    leg: &str,
) -> Result<BridgeStatus, BridgeError> {
    let (deliver, burn) = refs(leg);
    if let Some(burnt) = journal.find(BRIDGE_BURN, &burn).await? {
        return Ok(match step(plan.from, &burnt).await? {
            LegStep::Open => BridgeStatus::Burning,
            LegStep::Confirmed => BridgeStatus::Burned,
            LegStep::Reverted(why) => BridgeStatus::Unknown {
                why: format!(
                    "burn {} reverted ({why}); the USDC sits with the devnet relayer",
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
    let locks = plan.from.supply.burn(plan.sent).is_none();
    Ok(match step(plan.from, &delivered).await? {
        LegStep::Open => BridgeStatus::Burning,
        // Locked with the relayer: the source side is done.
        LegStep::Confirmed if locks => BridgeStatus::Burned,
        // The burn is due, which `burn` sends.
        LegStep::Confirmed => BridgeStatus::Burning,
        LegStep::Reverted(why) => BridgeStatus::Failed {
            why: format!(
                "transfer to the devnet relayer {} failed ({why})",
                delivered.tx_hash
            ),
        },
        LegStep::Lost => BridgeStatus::Unknown {
            why: format!(
                "transfer to the devnet relayer {} is lost to the node",
                delivered.tx_hash
            ),
        },
    })
}

#[async_trait]
impl Bridge for DevnetRelay {
    fn lanes(&self) -> Vec<BridgeLane> {
        let mut lanes = Vec::new();
        for from in &self.ends {
            for to in self.ends.iter().filter(|to| to.chain() != from.chain()) {
                lanes.push(BridgeLane {
                    from_chain: from.chain().to_owned(),
                    to_chain: to.chain().to_owned(),
                    asset: ASSET.into(),
                    fee: DEVNET_RELAY_FEE,
                    venue: DEVNET_RELAY_VENUE.into(),
                    kind: crate::bridge::LaneKind::FeeInAsset,
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
        let (deliver, burn) = refs(leg);
        let from = plan.from;
        let Some(delivered) = journal.find(BRIDGE_BURN, &deliver).await? else {
            let planned = from
                .node
                .token_transfer(&from.token, &from.relayer_address, plan.sent);
            let key = &from.hot;
            return send(journal, from, (BRIDGE_BURN, deliver), key, planned, now_ms).await;
        };
        let Some(burning) = from.supply.burn(plan.sent) else {
            return Ok(());
        };
        if step(from, &delivered).await? != LegStep::Confirmed {
            return Ok(());
        }
        let key = &from.relayer;
        send(journal, from, (BRIDGE_BURN, burn), key, burning, now_ms).await
    }

    async fn mint(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError> {
        let plan = self.plan(transfer)?;
        if !source_final(journal, &plan, leg).await? {
            return Ok(());
        }
        let to = plan.to;
        let planned = to.supply.issue(&to.hot_address, plan.issued);
        let reference = (BRIDGE_MINT, leg.to_owned());
        send(journal, to, reference, &to.relayer, planned, now_ms).await
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
        let Some(issued) = journal.find(BRIDGE_MINT, leg).await? else {
            return source_status(journal, &plan, leg).await;
        };
        Ok(match step(to, &issued).await? {
            LegStep::Open => BridgeStatus::Minting,
            LegStep::Confirmed => {
                let seen = to
                    .node
                    .observe_transfer(&issued.tx_hash, &to.token, &to.hot_address)
                    .await?;
                BridgeStatus::Minted {
                    received: amount(seen.amount_units, to.decimals)?,
                    tx_hash: issued.tx_hash.clone(),
                    block: issued.block_number,
                }
            }
            LegStep::Reverted(why) => BridgeStatus::Unknown {
                why: format!(
                    "issue {} failed ({why}) after the source side",
                    issued.tx_hash
                ),
            },
            LegStep::Lost => BridgeStatus::Unknown {
                why: format!("issue {} is lost to the node", issued.tx_hash),
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

    #[test]
    fn an_empty_relay_carries_nothing_and_refuses_every_transfer() {
        let relay = DevnetRelay::default();
        assert!(relay.lanes().is_empty());
        let transfer = BridgeTransfer {
            from_chain: "solana:rialto-devnet-simnet".into(),
            to_chain: "eip155:31337".into(),
            asset: "USDC".into(),
            amount: Decimal::TEN,
            fee: DEVNET_RELAY_FEE,
            venue: None,
        };
        assert!(matches!(
            relay.plan(&transfer),
            Err(BridgeError::Refused(_))
        ));
    }
}
