//! The engine's configuration sections: intents, live chains and venues, compliance, the
//! sandbox devnet and the master key. Plain data: the gateway reads `rialto.toml` and the
//! environment into them (figment) and validates them at start-up; the engine never reads a
//! file or a variable itself.

use serde::{Deserialize, Serialize};

/// The sections the engine's services read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngineConfig {
    pub intents: IntentConfig,
    pub live: LiveConfig,
    pub compliance: ComplianceConfig,
    pub sandbox: SandboxConfig,
    pub reserves: ReservesConfig,
}

/// `[reserves]`: Proof of Reserve as a guard (`docs/proof-of-reserve.md`). Sandbox feeds come
/// from the devnet manifest; live feeds are listed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReservesConfig {
    /// How often the reserves worker reads every feed, milliseconds. A halt takes effect
    /// within one interval of the feed (or the supply) changing.
    pub poll_ms: u64,
    /// `[[reserves.feeds]]`: a live asset's reserve feed on a live chain.
    pub feeds: Vec<ReserveFeedConfig>,
    /// Live assets accepted with no reserve feed, as `chain/asset` (`base/usdc`): the operator's
    /// explicit choice. Any other asset a live chain watches without a feed is refused
    /// (`reserves_unverified`).
    pub unguarded: Vec<String>,
}

impl Default for ReservesConfig {
    fn default() -> Self {
        Self {
            poll_ms: 15_000,
            feeds: Vec::new(),
            unguarded: Vec::new(),
        }
    }
}

/// One live reserve feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveFeedConfig {
    /// A live chain's alias or CAIP-2 id (`base`).
    pub chain: String,
    /// The asset's code on that chain (`usdc`).
    pub asset: String,
    /// The Chainlink Proof of Reserve feed's address (aggregator interface).
    pub feed: String,
    /// The feed's heartbeat: a report older than this halts the asset.
    pub heartbeat_secs: u64,
}
/// Sandbox mode's chains: the local devnet `rialto devnet --manifest …` runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// The devnet manifest (RPC URLs per chain); `--devnet-manifest`. Empty: no sandbox chains,
    /// so submitted transactions cannot be verified.
    pub devnet_manifest: String,
    /// Blocks a payment's transaction needs on top of it (its own included) before it counts.
    pub confirmations: u64,
    /// How often the chain watcher polls the sandbox chains, milliseconds.
    pub poll_ms: u64,
    /// BIP-39 phrase that per-intent deposit addresses derive from (m/44'/60'/0'/0/i). The
    /// default is the public BIP-39 test phrase: fine for the sandbox, where the coins are
    /// worthless; empty turns deposit addresses off.
    pub deposit_mnemonic: String,
    /// How the gateway's own devnet transactions left unmined are replaced. Off by default
    /// (`after_secs = 0`): the devnet mines every transaction at once, and tests that pause
    /// it and move the clock expect their legs' first hashes.
    pub replacement: ReplacementConfig,
    /// Start the sandbox issuing bank (`docs/issuer-api.md`) beside the sandbox exchange when
    /// the devnet has EVM chains.
    pub bank: bool,
    /// Whole sandbox USD the treasury's account at the sandbox bank opens with: the float
    /// issuer mints of routed payments are paid from.
    pub bank_usd: u64,
    /// Seconds a CCIP message may take from its `ccipSend` to its execution on the destination
    /// before the route leg is `unknown` (never sent again; an operator reconciles it).
    pub ccip_delivery_secs: u64,
    /// Offer the devnet burn/mint USDC bridge stand-in (`devnet-burn-mint`) between the anvil
    /// chains. Off: USDC crosses between them only through CCIP (`ccip`), the only other lane.
    pub burn_mint_bridge: bool,
    /// Run the devnet DON stand-in (`docs/ccip.md`) inside `rialto serve`, carrying CCIP
    /// messages between the devnet chains. `rialto devnet` runs it too; two running at once
    /// deliver nothing twice (the stand-in off-ramp executes a message once).
    pub don_stand_in: bool,
    /// Batched EIP-3009 relays through the devnet's `BatchRelayer` from its relay lanes
    /// (`[sandbox.batch_relay]`). Off by default: each authorization is its own transaction
    /// from the hot wallet.
    pub batch_relay: BatchRelayConfig,
}

/// How gasless payments (EIP-3009 authorizations) are relayed in batches: queued, drained per
/// chain into `BatchRelayer` transactions of at most `max_batch` items (or whatever waited
/// `max_wait_ms`), each sent from the next nonce lane (docs/evm.md, "Batched relays").
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchRelayConfig {
    /// Relay in batches; off: one transaction per authorization from the hot wallet.
    pub enabled: bool,
    /// The most authorizations in one batch transaction.
    pub max_batch: usize,
    /// How long the oldest queued authorization may wait for others before a smaller batch
    /// is sent, milliseconds.
    pub max_wait_ms: u64,
    /// How long `POST …/authorizations` waits for its batch to be mined and decided before
    /// answering with the recorded transaction alone, milliseconds.
    pub answer_within_ms: u64,
    /// Live chains only: the `BatchRelayer` contract's address (the devnet's comes from its
    /// manifest).
    pub relayer: String,
    /// Live chains only: the nonce lanes' private keys, each from `{env}` or `{file}` (the
    /// devnet's lanes come from its manifest). Each lane is its own nonce sequence.
    pub lane_keys: Vec<SecretRef>,
}

impl Default for BatchRelayConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            // About what a 30M-gas block holds (the cap applies below it on smaller
            // blocks); against 100: 3% less gas a payment, answers 0.2 s earlier under load.
            max_batch: 200,
            max_wait_ms: 100,
            answer_within_ms: 30_000,
            relayer: String::new(),
            lane_keys: Vec::new(),
        }
    }
}

impl std::fmt::Debug for BatchRelayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchRelayConfig")
            .field("enabled", &self.enabled)
            .field("max_batch", &self.max_batch)
            .field("max_wait_ms", &self.max_wait_ms)
            .field("answer_within_ms", &self.answer_within_ms)
            .field("relayer", &self.relayer)
            .field("lane_keys", &self.lane_keys)
            .finish()
    }
}

/// The BIP-39 specification's all-`abandon` test phrase: public, sandbox only.
pub const SANDBOX_DEPOSIT_MNEMONIC: &str = "abandon abandon abandon abandon abandon abandon \
    abandon abandon abandon abandon abandon about";

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            devnet_manifest: String::new(),
            confirmations: 1,
            poll_ms: 200,
            deposit_mnemonic: SANDBOX_DEPOSIT_MNEMONIC.to_owned(),
            replacement: ReplacementConfig {
                after_secs: 0,
                ..ReplacementConfig::default()
            },
            bank: true,
            bank_usd: 1_000_000,
            ccip_delivery_secs: 600,
            burn_mint_bridge: true,
            don_stand_in: true,
            batch_relay: BatchRelayConfig::default(),
        }
    }
}

/// Screening settings (see `docs/compliance.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComplianceConfig {
    /// A folder laid out like `data/ofac/` to screen against, re-read when its files change
    /// and on `rialto compliance reload`. Empty: the snapshot compiled into the binary.
    pub ofac_dir: String,
    /// How often to look for changed list files, seconds (0: only on reload).
    pub watch_secs: u64,
    /// Name similarity (basis points, 0–10000) at or above which a name match blocks…
    pub name_block_score: u16,
    /// …and at or above which it goes to review.
    pub name_review_score: u16,
    /// Names with fewer letters never block, only go to review.
    pub name_min_block_letters: usize,
    /// Jurisdiction assumed for merchants created without `--country`.
    pub default_merchant_country: String,
    /// ISO 3166-1 alpha-2 codes whose payers and merchants are blocked.
    pub blocked_countries: Vec<String>,
    /// Default limits per fiat unit (`usd`, `eur`); merchants' policies override them.
    pub limits: std::collections::BTreeMap<String, LimitConfig>,
    /// Payments one payer may make to one merchant within `velocity_window_secs` (0: off).
    pub velocity_max_count: u32,
    pub velocity_window_secs: u64,
    /// Third-party risk screener for payer addresses (disabled while its url is empty).
    pub external: crate::compliance::external_http::ExternalScreenerConfig,
    /// Lists older than this (seconds since `rialto compliance refresh` fetched them) are
    /// warned about: a log line and `rialto_compliance_lists_stale` = 1. 0: off.
    pub warn_after_secs: u64,
    /// Lists older than this refuse new live payments (`503 compliance_lists_stale`) and set
    /// `rialto_compliance_lists_stale` = 2; sandbox payments go on. 0: off. Lists of unknown
    /// age (the compiled-in snapshot, a folder written by hand) count as older than any limit.
    pub refuse_after_secs: u64,
    /// Where `rialto compliance refresh` downloads the lists from.
    pub refresh: ListsRefreshConfig,
}

/// `[compliance.refresh]`: the official files `rialto compliance refresh` downloads (HTTPS
/// only, through the gateway's one TLS configuration) into `compliance.ofac_dir`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ListsRefreshConfig {
    /// OFAC's legacy SDN CSV (`SDN.CSV`), e.g.
    /// `https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.CSV`.
    pub sdn_url: String,
    /// OFAC's `ALT.CSV` (aliases) of the same publication; empty: Remarks aliases only.
    pub alt_url: String,
    /// A folder URL serving `sanctioned_addresses_<ASSET>.txt` (one address a line), e.g.
    /// `https://raw.githubusercontent.com/0xB10C/ofac-sanctioned-digital-currency-addresses/lists/`.
    pub addresses_url: String,
    /// The assets whose address list is fetched (`ETH` → `sanctioned_addresses_ETH.txt`).
    pub assets: Vec<String>,
    /// A download with fewer SDN entries is refused (a truncated or empty file).
    pub min_sdn_entries: usize,
    /// A download with fewer distinct sanctioned addresses is refused.
    pub min_addresses: usize,
    /// Optional pins: file name (`sdn.csv`, `alt.csv`, `sanctioned_addresses_ETH.txt`) →
    /// lower-case hex SHA-256 the download must have (for a mirror that publishes them).
    pub sha256: std::collections::BTreeMap<String, String>,
    /// Largest file accepted, bytes.
    pub max_file_bytes: u64,
}

impl Default for ListsRefreshConfig {
    fn default() -> Self {
        Self {
            sdn_url: String::new(),
            alt_url: String::new(),
            addresses_url: String::new(),
            assets: [
                "ARB", "BCH", "BSC", "BSV", "BTG", "DASH", "ETC", "ETH", "LTC", "TRX", "USDC",
                "USDT", "XBT", "XMR", "XRP", "XVG", "ZEC",
            ]
            .map(String::from)
            .to_vec(),
            min_sdn_entries: 10_000,
            min_addresses: 500,
            sha256: std::collections::BTreeMap::new(),
            max_file_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Amount limits in one fiat unit; empty strings switch a limit off. Breaches go to review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitConfig {
    pub single_payment: String,
    pub daily_volume: String,
}

impl Default for ComplianceConfig {
    fn default() -> Self {
        Self {
            ofac_dir: String::new(),
            watch_secs: 30,
            name_block_score: 9_600,
            name_review_score: 9_000,
            name_min_block_letters: 8,
            default_merchant_country: "US".into(),
            blocked_countries: ["CU", "IR", "KP", "SY"].map(String::from).to_vec(),
            limits: std::collections::BTreeMap::new(),
            velocity_max_count: 0,
            velocity_window_secs: 3600,
            external: Default::default(),
            warn_after_secs: 0,
            refuse_after_secs: 0,
            refresh: ListsRefreshConfig::default(),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Base64 of 32 bytes that seal secrets stored in the database (webhook signing secrets).
    /// Prefer setting it through `RIALTO__SECRETS__MASTER_KEY`. When empty, the key is read
    /// from `master_key_file`, which is created (mode 0600) on first start.
    pub master_key: String,
    pub master_key_file: String,
    /// With live chains or venues configured, the gateway refuses to generate a new master key
    /// file (a lost or misplaced key file would otherwise be replaced silently, and every
    /// stored secret sealed under the old key lost). Set for the one first start that should
    /// create it.
    pub allow_new_key_in_live: bool,
}

impl std::fmt::Debug for SecretsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsConfig")
            .field("master_key", &"[redacted]")
            .field("master_key_file", &self.master_key_file)
            .field("allow_new_key_in_live", &self.allow_new_key_in_live)
            .finish()
    }
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            master_key: String::new(),
            master_key_file: "rialto.key".into(),
            allow_new_key_in_live: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntentConfig {
    pub default_expires_in_secs: i64,
    pub min_expires_in_secs: i64,
    pub max_expires_in_secs: i64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Exchange venues live payers can pay from (`[[live.venues]]`). While this and `chains`
    /// are both empty, `sk_live_`/`pk_live_` keys are refused with `livemode_unavailable`.
    pub venues: Vec<VenueConfig>,
    /// Real EVM chains live intents are paid and settled on (`[[live.chains]]`).
    pub chains: Vec<ChainConfig>,
    /// BIP-39 phrase live deposit addresses derive from; empty: no live deposit addresses.
    /// Prefer `RIALTO__LIVE__DEPOSIT_MNEMONIC`.
    pub deposit_mnemonic: String,
}

impl std::fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveConfig")
            .field("venues", &self.venues)
            .field("chains", &self.chains)
            .field("deposit_mnemonic", &"[redacted]")
            .finish()
    }
}

/// The exchange venues' kinds: whose wire API a `[[live.venues]]` entry speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VenueKind {
    Coinbase,
    Kraken,
    Binance,
}

impl VenueKind {
    /// The name the API and the stored exchange accounts use (`venue` in requests).
    pub fn as_str(self) -> &'static str {
        match self {
            VenueKind::Coinbase => "coinbase",
            VenueKind::Kraken => "kraken",
            VenueKind::Binance => "binance",
        }
    }
}

/// Where a secret comes from: an environment variable or a file (mode 0600), never the
/// configuration file itself, so a committed or shared `rialto.toml` carries no credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretRef {
    /// The name of an environment variable holding the value.
    pub env: String,
    /// A file holding the value (surrounding whitespace ignored); refused when group or
    /// others may read it.
    pub file: String,
}

/// One live exchange venue (`[[live.venues]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// Whose API this is: `coinbase`, `kraken` or `binance`.
    pub kind: VenueKind,
    /// The venue's REST base URL (`https://api.kraken.com`); must be https.
    pub base_url: String,
    /// CAIP-2 chain id or registry alias → the venue's own id for that network (Binance
    /// `BASE`, Coinbase `base`, Kraken's withdrawal method name such as `USDC - Base`).
    pub networks: std::collections::BTreeMap<String, String>,
    /// Rialto's own read-only key for market data (books, withdrawal terms).
    pub market_api_key: SecretRef,
    /// Its secret (Coinbase: the CDP key's EC private key, PEM).
    pub market_api_secret: SecretRef,
    /// What withdrawing costs and takes, per asset and network.
    #[serde(default)]
    pub withdrawals: Vec<WithdrawalTermsConfig>,
}

/// A venue's withdrawal terms for one asset on one network (`[[live.venues.withdrawals]]`).
/// Coinbase publishes none through its API, so they are required there; on Binance and Kraken
/// `rialto venues check` compares them with what the venue publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalTermsConfig {
    /// Asset code (`USDC`).
    pub asset: String,
    /// CAIP-2 chain id or registry alias; must be one of the venue's `networks`.
    pub chain: String,
    /// Fee the venue takes, in the asset (decimal string, `"0.10"`).
    pub fee: String,
    /// Smallest withdrawal, in the asset (decimal string).
    pub minimum: String,
    /// How long a withdrawal usually takes to land, seconds (what operators tell payers).
    #[serde(default)]
    pub typical_secs: u64,
}

/// One real EVM chain (`[[live.chains]]`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// CAIP-2 id or registry alias: `eip155:8453`, `base`.
    pub chain: String,
    /// JSON-RPC endpoints in order of preference; the next takes over when one fails. Each is
    /// checked at start to answer with this chain's id.
    pub rpc_urls: Vec<String>,
    /// Blocks a payment needs on top of it (its own included) before anything moves on it.
    pub confirmations: u64,
    /// The hot wallet's private key (`0x` hex): relays EIP-3009 authorizations, pays sweep gas,
    /// sends payouts. Prefer an environment override.
    #[serde(default)]
    pub hot_wallet_key: String,
    /// Token codes the deposit watcher follows (`["usdc"]`); empty: every registry token on
    /// the chain.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// How the gateway's own transactions left unmined are replaced (`[live.chains.replacement]`).
    #[serde(default)]
    pub replacement: ReplacementConfig,
    /// Batched EIP-3009 relays here (`[live.chains.batch_relay]`, with `relayer` and
    /// `lane_keys`); off by default.
    #[serde(default)]
    pub batch_relay: BatchRelayConfig,
}

/// When the gateway replaces one of its own transactions that stays unmined: always at the
/// same nonce (never a new one while the old can land), with both EIP-1559 fee caps raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplacementConfig {
    /// Seconds a transaction may wait unmined before the next replacement is sent; 0: never
    /// replaced, only broadcast again as it is.
    pub after_secs: u64,
    /// Percent each replacement raises both fee caps by; nodes refuse less than 10.
    pub bump_percent: u32,
    /// No replacement pays more than this per gas, in wei; 0: four times the first fee cap.
    pub max_fee_per_gas_wei: u64,
    /// Cancel a stuck transaction (a zero-value transfer to the sender at its nonce) at once,
    /// instead of speeding it up until the cap and cancelling then.
    pub cancel: bool,
}

impl Default for ReplacementConfig {
    fn default() -> Self {
        Self {
            after_secs: 180,
            bump_percent: 15,
            max_fee_per_gas_wei: 0,
            cancel: false,
        }
    }
}

impl std::fmt::Debug for ChainConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainConfig")
            .field("chain", &self.chain)
            .field(
                "rpc_urls",
                &self
                    .rpc_urls
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .field("confirmations", &self.confirmations)
            .field("hot_wallet_key", &"[redacted]")
            .field("tokens", &self.tokens)
            .field("replacement", &self.replacement)
            .field("batch_relay", &self.batch_relay)
            .finish()
    }
}

impl Default for IntentConfig {
    fn default() -> Self {
        Self {
            default_expires_in_secs: 3600,
            min_expires_in_secs: 60,
            max_expires_in_secs: 7 * 24 * 3600,
        }
    }
}

/// A URL with any password replaced, for messages and logs.
pub use rialto_connectors::chain::redact_url;
