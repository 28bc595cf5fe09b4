//! [`SimnetRailHarness`]: the local simnet as the rail conformance suite of `rialto-connectors`
//! needs it, so `SolanaRail` runs that suite unchanged with any journal. The rail talks to the
//! simnet through a [`PausableFront`] (paused blocks, dropped transactions); the harness's own
//! setup goes to the simnet directly. Test support: it panics on any failure of the devnet
//! itself, like an assertion.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rialto_connectors::rail::conformance::RailHarness;
use rialto_connectors::rail::{MemoryJournal, RailJournal, SigningKey};
use rialto_core::address::Address;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;

use super::front::PausableFront;
use super::SolanaDevnet;
use crate::chain::{Commitment, SolanaChain, SolanaToken};
use crate::keys::{address_of, keypair_of, signing_key_of};
use crate::rail::SolanaRail;

/// What each funded key holds: 1 devnet USDC.
const UNITS: u64 = 1_000_000;
/// SOL each funded key gets for fees: 1 SOL.
const LAMPORTS: u64 = 1_000_000_000;
/// The simnet's slot time for the suite: short, yet a blockhash lives 150 slots (30 s).
pub const HARNESS_SLOT_MS: u64 = 200;

/// Makes a journal for one check of the suite.
pub type Journals = Box<dyn Fn() -> Box<dyn RailJournal> + Send + Sync>;

/// The simnet's USDC-like mint (classic SPL Token) under the suite, at `confirmed`.
pub struct SimnetRailHarness {
    devnet: SolanaDevnet,
    front: PausableFront,
    chain: SolanaChain,
    next: AtomicU64,
    journals: Journals,
}

impl std::fmt::Debug for SimnetRailHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimnetRailHarness")
            .field("chain", &self.chain.caip2)
            .finish()
    }
}

impl SimnetRailHarness {
    /// Over a started devnet, with an in-memory journal per check.
    pub async fn new(devnet: SolanaDevnet) -> Self {
        Self::with_journals(devnet, Box::new(|| Box::new(MemoryJournal::new()))).await
    }

    /// Over a started devnet, with the journals `journals` makes (the product's store).
    pub async fn with_journals(devnet: SolanaDevnet, journals: Journals) -> Self {
        let front = PausableFront::start(&devnet.rpc_url)
            .await
            .expect("the pausable front starts");
        let mut chain = SolanaChain::new(
            devnet.caip2.clone(),
            "devnet-solana".into(),
            false,
            vec![front.url().to_owned()],
            Commitment::Confirmed,
            Duration::from_secs(10),
        );
        chain.priority_fee_micro_lamports = 1_000;
        chain.tokens = vec![SolanaToken {
            symbol: "USDC".into(),
            mint: address_of(&devnet.usdc.mint),
            decimals: devnet.usdc.decimals,
        }];
        Self {
            devnet,
            front,
            chain,
            next: AtomicU64::new(1),
            journals,
        }
    }

    /// The devnet under the harness.
    pub fn devnet(&self) -> &SolanaDevnet {
        &self.devnet
    }

    async fn slot(&self) -> u64 {
        self.devnet
            .rpc()
            .get_slot_with_commitment(CommitmentConfig::processed())
            .await
            .expect("the simnet answers getSlot")
    }
}

#[async_trait]
impl RailHarness for SimnetRailHarness {
    type Rail<'a> = SolanaRail<'a>;

    fn rail<'a>(&'a self, journal: &'a dyn RailJournal) -> SolanaRail<'a> {
        SolanaRail::new(&self.chain, journal)
    }

    fn journal(&self) -> Box<dyn RailJournal> {
        (self.journals)()
    }

    async fn funded_key(&self) -> SigningKey {
        let keypair = Keypair::new();
        self.devnet
            .fund(&keypair.pubkey(), LAMPORTS, &self.devnet.usdc, UNITS)
            .await
            .unwrap_or_else(|e| panic!("funding a conformance key: {e}"));
        signing_key_of(&keypair)
    }

    fn token(&self) -> Address {
        address_of(&self.devnet.usdc.mint)
    }

    fn token_decimals(&self) -> u8 {
        self.devnet.usdc.decimals
    }

    fn token_units(&self) -> u128 {
        u128::from(UNITS)
    }

    fn recipient(&self) -> Address {
        self.next.fetch_add(1, Ordering::SeqCst);
        address_of(&Keypair::new().pubkey())
    }

    fn confirmations(&self) -> u64 {
        self.chain.commitment.confirmations()
    }

    async fn pause_blocks(&self, paused: bool) {
        self.front.set_paused(paused);
    }

    /// Hands the held transactions to the simnet, then waits for `n` slots on top of the one
    /// they land in, so they are confirmed as a block on top would make them.
    async fn produce_blocks(&self, n: u64) {
        self.front.flush().await;
        let start = self.slot().await;
        let started = Instant::now();
        while self.slot().await < start + n + 1 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the simnet stopped producing slots"
            );
            tokio::time::sleep(Duration::from_millis(HARNESS_SLOT_MS / 4)).await;
        }
    }

    async fn drop_pending(&self, tx_ref: &str) {
        self.front.drop_held(tx_ref);
    }

    async fn doom(&self, key: &SigningKey) {
        let owner = keypair_of(key).expect("a harness key").pubkey();
        self.devnet
            .freeze(&owner, &self.devnet.usdc)
            .await
            .unwrap_or_else(|e| panic!("freezing a conformance key: {e}"));
    }
}
