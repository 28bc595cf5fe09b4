//! [`BridgeSet`]: several bridges behind the one [`Bridge`] role a mode has (on the devnet:
//! the EVM burn/mint stand-in between the anvil chains and the relay stand-in between Solana
//! and them). Each lane is served by the first member that carries it; a transfer goes to the
//! member that serves its lane, so a leg is always driven by the bridge that started it.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Bridge, BridgeError, BridgeLane, BridgeStatus, BridgeTransfer};
use crate::rail::RailJournal;

/// Several bridges as one (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct BridgeSet {
    members: Vec<Arc<dyn Bridge>>,
}

fn same_lane(lane: &BridgeLane, transfer: &BridgeTransfer) -> bool {
    lane.from_chain == transfer.from_chain
        && lane.to_chain == transfer.to_chain
        && lane.asset.eq_ignore_ascii_case(&transfer.asset)
        && transfer.venue.as_ref().is_none_or(|v| *v == lane.venue)
}

impl BridgeSet {
    /// The members, in order of precedence.
    pub fn new(members: Vec<Arc<dyn Bridge>>) -> Self {
        Self { members }
    }

    /// The member serving `transfer`'s lane (chains as CAIP-2, as the lanes name them).
    fn member(&self, transfer: &BridgeTransfer) -> Result<&dyn Bridge, BridgeError> {
        self.members
            .iter()
            .find(|m| m.lanes().iter().any(|l| same_lane(l, transfer)))
            .map(Arc::as_ref)
            .ok_or_else(|| {
                BridgeError::Refused(format!(
                    "no bridge carries {} from {} to {}",
                    transfer.asset, transfer.from_chain, transfer.to_chain
                ))
            })
    }
}

#[async_trait]
impl Bridge for BridgeSet {
    fn lanes(&self) -> Vec<BridgeLane> {
        let mut lanes: Vec<BridgeLane> = Vec::new();
        for lane in self.members.iter().flat_map(|m| m.lanes()) {
            let taken = lanes.iter().any(|l| {
                l.from_chain == lane.from_chain
                    && l.to_chain == lane.to_chain
                    && l.asset.eq_ignore_ascii_case(&lane.asset)
                    && l.venue == lane.venue
            });
            if !taken {
                lanes.push(lane);
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
        self.member(transfer)?
            .burn(journal, leg, transfer, now_ms)
            .await
    }

    async fn mint(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<(), BridgeError> {
        self.member(transfer)?
            .mint(journal, leg, transfer, now_ms)
            .await
    }

    async fn status(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
        now_ms: i64,
    ) -> Result<BridgeStatus, BridgeError> {
        self.member(transfer)?
            .status(journal, leg, transfer, now_ms)
            .await
    }

    async fn network_fees(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
    ) -> Result<Vec<super::BridgeNetworkFee>, BridgeError> {
        self.member(transfer)?
            .network_fees(journal, leg, transfer)
            .await
    }

    async fn message_id(
        &self,
        journal: &dyn RailJournal,
        leg: &str,
        transfer: &BridgeTransfer,
    ) -> Result<Option<String>, BridgeError> {
        self.member(transfer)?
            .message_id(journal, leg, transfer)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[derive(Debug)]
    struct Lanes(Vec<(&'static str, &'static str, &'static str)>);

    #[async_trait]
    impl Bridge for Lanes {
        fn lanes(&self) -> Vec<BridgeLane> {
            self.0
                .iter()
                .map(|(from, to, venue)| BridgeLane {
                    from_chain: (*from).into(),
                    to_chain: (*to).into(),
                    asset: "USDC".into(),
                    fee: Decimal::ONE,
                    venue: (*venue).into(),
                    kind: super::super::LaneKind::FeeInAsset,
                })
                .collect()
        }
        async fn burn(
            &self,
            _: &dyn RailJournal,
            _: &str,
            _: &BridgeTransfer,
            _: i64,
        ) -> Result<(), BridgeError> {
            Err(BridgeError::NotStarted(self.0[0].2.into()))
        }
        async fn mint(
            &self,
            _: &dyn RailJournal,
            _: &str,
            _: &BridgeTransfer,
            _: i64,
        ) -> Result<(), BridgeError> {
            Ok(())
        }
        async fn status(
            &self,
            _: &dyn RailJournal,
            _: &str,
            _: &BridgeTransfer,
            _: i64,
        ) -> Result<BridgeStatus, BridgeError> {
            Ok(BridgeStatus::NotStarted)
        }
    }

    fn transfer(from: &str, to: &str) -> BridgeTransfer {
        BridgeTransfer {
            from_chain: from.into(),
            to_chain: to.into(),
            asset: "usdc".into(),
            amount: Decimal::TEN,
            fee: Decimal::ONE,
            venue: None,
        }
    }

    #[tokio::test]
    async fn a_transfer_goes_to_the_member_of_its_venue_or_else_the_first_that_carries_its_lane() {
        let set = BridgeSet::new(vec![
            Arc::new(Lanes(vec![("a", "b", "first")])),
            Arc::new(Lanes(vec![("a", "b", "second"), ("s", "a", "second")])),
            Arc::new(Lanes(vec![("a", "b", "first")])),
        ]);
        let venues: Vec<_> = set.lanes().into_iter().map(|l| l.venue).collect();
        assert_eq!(
            venues,
            ["first", "second", "second"],
            "a lane is offered once per venue"
        );
        let journal = crate::rail::MemoryJournal::new();
        let served_by = |t| {
            let set = set.clone();
            let journal = &journal;
            async move {
                match set.burn(journal, "leg", &t, 0).await {
                    Err(BridgeError::NotStarted(venue)) => venue,
                    other => panic!("{other:?}"),
                }
            }
        };
        assert_eq!(served_by(transfer("a", "b")).await, "first");
        assert_eq!(served_by(transfer("s", "a")).await, "second");
        let mut by_venue = transfer("a", "b");
        by_venue.venue = Some("second".into());
        assert_eq!(served_by(by_venue).await, "second");
        assert!(matches!(
            set.burn(&journal, "leg", &transfer("b", "s"), 0).await,
            Err(BridgeError::Refused(_))
        ));
    }
}
