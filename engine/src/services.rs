//! [`Engine`]: the services every flow and worker draws on, built once at start-up and cheap
//! to clone. Flows take `&Engine`; the HTTP layer holds one beside its own request state.

use std::collections::BTreeMap;
use std::sync::Arc;

use rialto_core::asset::AssetRegistry;

use crate::chain::Chains;
use crate::clock::Clock;
use crate::compliance::Compliance;
use crate::config::EngineConfig;
use crate::exchange::Venues;
use crate::routing::Routing;
use crate::store::Store;
use crate::webhooks::Sealer;

/// The engine's services.
#[derive(Clone, Debug)]
pub struct Engine {
    pub store: Arc<dyn Store>,
    pub registry: Arc<AssetRegistry>,
    pub config: Arc<EngineConfig>,
    pub clock: Arc<dyn Clock>,
    pub sealer: Arc<Sealer>,
    pub compliance: Arc<Compliance>,
    /// The EVM chains payments are verified, watched and settled on.
    pub chains: Arc<Chains>,
    /// Exchange venues payers can pay from, per mode (`true` = live).
    pub venues: Arc<BTreeMap<bool, Venues>>,
    /// The SmartFunding router's quotes, locks and venue health.
    pub routing: Arc<Routing>,
    /// What the Solana Pay reference watcher has already judged, per key.
    pub reference_cursors: Arc<crate::chain::reference::ReferenceCursors>,
    /// Proof of Reserve: the feeds the reserves worker reads and the per-asset halts.
    pub reserves: Arc<crate::reserves::Reserves>,
    /// Issuing banks routes mint deposit tokens at, per mode (`true` = live).
    pub issuers: Arc<BTreeMap<bool, crate::issuer::IssuerDesk>>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<AssetRegistry>,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
        sealer: Arc<Sealer>,
        compliance: Arc<Compliance>,
    ) -> Self {
        Self {
            store,
            registry,
            config: Arc::new(config),
            clock,
            sealer,
            compliance,
            chains: Arc::default(),
            venues: Arc::default(),
            routing: Arc::new(Routing::new()),
            reference_cursors: Arc::default(),
            reserves: Arc::default(),
            issuers: Arc::default(),
        }
    }

    /// The issuing bank routes of `livemode` mint at (see [`crate::issuer::IssuerDesk`]).
    pub fn with_issuer(mut self, livemode: bool, desk: crate::issuer::IssuerDesk) -> Self {
        let mut all = (*self.issuers).clone();
        all.insert(livemode, desk);
        self.issuers = Arc::new(all);
        self
    }

    /// The exchange venues of one mode.
    pub fn with_venues(mut self, livemode: bool, venues: Venues) -> Self {
        let mut all = (*self.venues).clone();
        all.insert(livemode, venues);
        self.venues = Arc::new(all);
        self
    }

    /// The reserve feeds to guard assets with (see [`crate::reserves`]).
    pub fn with_reserves(mut self, reserves: crate::reserves::Reserves) -> Self {
        self.reserves = Arc::new(reserves);
        self
    }

    /// The chains payments are verified, watched and settled on.
    pub fn with_chains(mut self, chains: Chains) -> Self {
        self.chains = Arc::new(chains);
        self
    }
}
