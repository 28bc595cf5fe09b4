//! The L2 sequencer uptime check on a real devnet, against the `L2_SEQUENCER_UPTIME` mock feed
//! (a `MockV3Aggregator` with 0 decimals) that every devnet chain deploys last.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::{aliases::U80, I256, U256};
use common::{block_time, key, reader, start, wallet};
use rialto_evm::chainlink::read_sequencer;
use rialto_evm::contracts::{to_wire, IMockV3Aggregator};
use rialto_evm::manifest::SEQUENCER_UPTIME_FEED;
use rialto_evm::EvmError;

const GRACE: Duration = Duration::from_secs(3600);

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[tokio::test]
async fn the_sequencer_feed_reads_up_after_the_grace_period_down_when_set_and_invalid_unwritten() {
    let devnet = start().await;
    for chain in &devnet.manifest().chains {
        let feed = &chain.feeds[SEQUENCER_UPTIME_FEED].address;
        let p = reader(chain).await;
        let deployed_at = block_time(&p).await;

        let fresh = read_sequencer(&p, feed, GRACE, at(deployed_at))
            .await
            .unwrap_err();
        assert!(
            matches!(
                fresh,
                EvmError::SequencerGracePeriod {
                    grace_secs: 3600,
                    ..
                }
            ),
            "{fresh}"
        );
        read_sequencer(&p, feed, GRACE, at(deployed_at + 3601))
            .await
            .unwrap();

        let owner = wallet(chain, key(&chain.payers[0])).await;
        let mock = IMockV3Aggregator::new(to_wire(feed).unwrap(), &owner);
        let set = |answer: i64| {
            let call = mock.updateAnswer(I256::try_from(answer).unwrap());
            async move {
                let receipt = call.send().await.unwrap().get_receipt().await.unwrap();
                assert!(receipt.status());
            }
        };
        set(1).await;
        let went_down = block_time(&p).await;
        let down = read_sequencer(&p, feed, GRACE, at(went_down + 86_400))
            .await
            .unwrap_err();
        assert!(
            matches!(down, EvmError::SequencerDown { since, .. } if since == went_down),
            "{down}"
        );

        set(0).await;
        let came_back = block_time(&p).await;
        let recovering = read_sequencer(&p, feed, GRACE, at(came_back + 60))
            .await
            .unwrap_err();
        assert!(
            matches!(
                recovering,
                EvmError::SequencerGracePeriod {
                    elapsed_secs: 60,
                    ..
                }
            ),
            "{recovering}"
        );
        read_sequencer(&p, feed, GRACE, at(came_back + 3601))
            .await
            .unwrap();

        let unwritten = mock.updateRoundData(U80::from(9), I256::ZERO, U256::from(1), U256::ZERO);
        assert!(unwritten
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap()
            .status());
        let invalid = read_sequencer(&p, feed, GRACE, at(came_back + 3601))
            .await
            .unwrap_err();
        assert!(
            matches!(invalid, EvmError::SequencerRoundInvalid { .. }),
            "{invalid}"
        );
    }
}
