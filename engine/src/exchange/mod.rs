//! Paying from an exchange account: the payer links a Kraken, Binance or Coinbase account to a
//! payment with API credentials (sealed at rest, erased when the payment ends unless kept), and
//! Rialto buys the settlement stablecoin there if the account holds too little and withdraws
//! exactly what the merchant is owed (plus the venue's fee) to the settlement address on the
//! settlement chain. The withdrawal's transaction then pays the intent like any other.
//!
//! The venue clients come from the mode's [`Venues`]: its [`VenueMap`] (where each venue is)
//! and the [`VenueClients`] factory the gateway wires (the real clients; in sandbox mode all
//! pointed at the sandbox exchange, which the gateway starts). The engine never names a
//! concrete client.
//!
//! Coinbase OAuth would plug in next to the API-key credentials: an `oauth` credential kind
//! holding the sealed refresh token, a client built with a bearer token instead of the CDP JWT,
//! and a refresh before each call; the link, legs and erasure stay as they are.
//!
//! # Layout
//! - this module: [`Venues`] (the venue map and client factory of one mode), [`Conversion`] and
//!   its ledger postings, [`claim_withdrawal`], and [`exchange_error`] (a venue's refusal as
//!   the payer sees it).
//! - [`worker`]: follows submitted withdrawals and erases the credentials of ended payments.

pub mod worker;

use std::sync::Arc;

use rialto_connectors::exchange::{Exchange, ExchangeError};
use rust_decimal::Decimal;

pub use rialto_connectors::exchange::{Credentials, SettlementTarget, VenueClients, VenueMap};

/// The exchange venues payers can pay from in one mode: where they are, and the factory that
/// builds their clients.
#[derive(Debug, Clone)]
pub struct Venues {
    /// Base URLs, network names and configured terms per venue.
    pub map: VenueMap,
    /// Builds a venue's client (the gateway wires the real ones).
    pub clients: Arc<dyn VenueClients>,
}

impl Venues {
    /// The venues of `map`, their clients built by `clients`.
    pub fn new(map: VenueMap, clients: Arc<dyn VenueClients>) -> Self {
        Self { map, clients }
    }

    /// Whether `venue` is configured in this mode.
    pub fn offers(&self, venue: &str) -> bool {
        self.map.offers(venue)
    }

    /// The client of `venue` for the account `credentials` open, set up to withdraw to
    /// `settlement` (see [`VenueClients::client`]).
    pub fn client(
        &self,
        venue: &str,
        credentials: &Credentials,
        settlement: SettlementTarget<'_>,
    ) -> Result<Box<dyn Exchange>, ExchangeError> {
        self.clients
            .client(venue, credentials, &self.map, settlement)
    }

    /// A client of `venue` for public reads and terms, with Rialto's own read credentials
    /// ([`VenueClients::market_credentials`]). Never used to move money.
    pub fn market_client(
        &self,
        venue: &str,
        settlement: SettlementTarget<'_>,
    ) -> Result<Box<dyn Exchange>, ExchangeError> {
        let credentials = self.clients.market_credentials(venue)?;
        self.client(venue, &credentials, settlement)
    }
}

/// What a venue did for a payer paying from its account: recorded on the exchange account, and
/// posted to the ledger when the payment succeeds (`conversion` and `fee`, in venue-held
/// assets named `venue:{venue}/{code}`: the payer's money on the venue, outside Rialto's
/// custody, shown so every fee of the route is explained).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Conversion {
    /// The conversion trade, when the account held too little of the coin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade: Option<ConversionTrade>,
    /// The coin withdrawn and the venue's withdrawal fee in it.
    pub coin: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub withdrawal_fee: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConversionTrade {
    pub base: String,
    pub quote: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub filled_base: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub filled_quote: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub fee: Decimal,
    pub fee_asset: String,
}

/// The ledger postings of a conversion recorded on `account` (see [`Conversion`]).
pub fn conversion_postings(
    account: &crate::store::exchange::ExchangeAccount,
    now_ms: i64,
) -> Vec<crate::ledger::Posting> {
    use crate::ledger::{Entry, Posting, PAYERS};
    let Some(conversion) = account
        .conversion
        .as_deref()
        .and_then(|c| serde_json::from_str::<Conversion>(c).ok())
    else {
        return Vec::new();
    };
    let venue = crate::ledger::Account::Venue(account.venue.clone());
    let fees = crate::ledger::Account::VenueFees(account.venue.clone());
    let asset = |code: &str| format!("{venue}/{}", code.to_ascii_lowercase());
    let entry = |account: &crate::ledger::Account, asset: String, amount: Decimal| Entry {
        account: account.clone(),
        asset,
        amount,
    };
    let owner = (account.merchant_id, account.livemode);
    let mut out = Vec::new();
    let mut post = |kind: &str, reference: &str, entries: Vec<Entry>| {
        if let Ok(p) = Posting::for_merchant(owner.0, owner.1, kind, reference, entries, now_ms) {
            out.push(p);
        }
    };
    if let Some(t) = conversion
        .trade
        .as_ref()
        .filter(|t| !t.filled_base.is_zero())
    {
        post(
            "conversion",
            &account.order_leg,
            vec![
                entry(&PAYERS, asset(&t.quote), -t.filled_quote),
                entry(&venue, asset(&t.quote), t.filled_quote),
                entry(&venue, asset(&t.base), -t.filled_base),
                entry(&PAYERS, asset(&t.base), t.filled_base),
            ],
        );
        if t.fee > Decimal::ZERO {
            post(
                "fee",
                &account.order_leg,
                vec![
                    entry(&PAYERS, asset(&t.fee_asset), -t.fee),
                    entry(&fees, asset(&t.fee_asset), t.fee),
                ],
            );
        }
    }
    if conversion.withdrawal_fee > Decimal::ZERO {
        post(
            "fee",
            &account.withdrawal_leg,
            vec![
                entry(&PAYERS, asset(&conversion.coin), -conversion.withdrawal_fee),
                entry(&fees, asset(&conversion.coin), conversion.withdrawal_fee),
            ],
        );
    }
    out
}

use crate::error::EngineError;
use crate::store::exchange::ExchangeAccount;
use crate::store::PaymentTransaction;
use crate::store::{PaymentSource, PaymentTxStatus};
use rialto_core::intent::PaymentIntent;

/// Binds the withdrawal's transaction to the intent; the chain worker confirms and screens it.
/// `transaction_already_used` when another intent holds that transaction.
pub async fn claim_withdrawal(
    state: &crate::services::Engine,
    intent: &PaymentIntent,
    account: &ExchangeAccount,
    tx_hash: &str,
) -> Result<(), EngineError> {
    // Venues write hashes their own way (upper case, no 0x, or an internal-transfer note): only
    // a real transaction hash, normalised, is bound; anything else waits for an operator.
    let chain_id = intent.settlement.asset.id.chain().to_string();
    let Some(chain) = state.chains.get(intent.livemode, &chain_id) else {
        tracing::warn!(account = %account.id, chain = %chain_id, "a withdrawal landed on a chain this gateway does not serve");
        return Ok(());
    };
    let Ok(hash) = chain.node.parse_tx_ref(tx_hash.trim()) else {
        tracing::warn!(account = %account.id, tx = %tx_hash, "venue reported a withdrawal without a transaction hash");
        return Ok(());
    };
    let claim = PaymentTransaction {
        chain_id,
        tx_hash: hash,
        payment_intent_id: intent.id,
        payer: format!("exchange:{}", account.venue),
        amount: intent.amount.to_amount_string(),
        asset: intent.settlement.asset.id.to_string(),
        block_number: 0,
        block_hash: String::new(),
        log_index: 0,
        status: PaymentTxStatus::Pending,
        source: PaymentSource::Exchange,
        created_at_ms: state.clock.now_ms(),
    };
    if state.store.claim_transaction(&claim).await? != intent.id {
        // The venue named a transaction that already pays another intent: never this one's
        // payment. Left for an operator; the caller sees the refusal.
        tracing::error!(account = %account.id, intent = %intent.id, tx = %claim.tx_hash, "a venue's withdrawal transaction is bound to another intent");
        return Err(crate::chain::report::already_used());
    }
    Ok(())
}

/// How a venue's refusal reaches the payer: its own code, the venue's words only where they
/// help (never a credential).
pub fn exchange_error(err: &ExchangeError) -> EngineError {
    use ExchangeError as E;
    crate::telemetry::venue_error(err);
    let (code, message) = match err {
        E::InsufficientFunds { message, .. } | E::InsufficientLiquidity { message, .. } => (
            crate::error::ErrorCode::ExchangeInsufficientFunds,
            format!("The exchange account cannot cover this payment: {message}"),
        ),
        E::BelowMinimum { message, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("Below the venue's minimum: {message}"),
        ),
        E::AddressNotWhitelisted { message, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("Whitelist the settlement address on the exchange first: {message}"),
        ),
        E::Auth { .. } => (
            crate::error::ErrorCode::ExchangeAuthFailed,
            "The exchange refused these credentials (check the key's trade and withdraw scopes)."
                .into(),
        ),
        E::RateLimited { .. } | E::Unavailable { .. } | E::Unknown { .. } => (
            crate::error::ErrorCode::ExchangeUnavailable,
            "The exchange did not answer in time; retry with the same Idempotency-Key.".into(),
        ),
        E::InvalidSymbol { message, .. } | E::Rejected { message, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("The exchange refused: {message}"),
        ),
        E::Unsupported { what, .. } => (
            crate::error::ErrorCode::ExchangeRejected,
            format!("The exchange cannot do this: {what}"),
        ),
        E::Decode { .. } | E::Config { .. } => (
            crate::error::ErrorCode::ExchangeUnavailable,
            "The exchange answered in a way we could not read; retry shortly.".into(),
        ),
    };
    EngineError::new(code, message)
}

#[cfg(test)]
mod tests {
    use rialto_connectors::exchange::{AssetCode, Venue};
    use rialto_core::ChainId;

    use super::*;

    /// Answers every build with a refusal naming what it was given, so a test can see it.
    #[derive(Debug)]
    struct Recorder;

    impl VenueClients for Recorder {
        fn client(
            &self,
            venue: &str,
            credentials: &Credentials,
            venues: &VenueMap,
            settlement: SettlementTarget<'_>,
        ) -> Result<Box<dyn Exchange>, ExchangeError> {
            let base = venues.base_urls.get(venue).cloned().unwrap_or_default();
            Err(ExchangeError::Unsupported {
                venue: Venue::Sandbox,
                what: format!(
                    "{venue} {base} {} {}",
                    credentials.api_key, settlement.address
                ),
            })
        }

        fn market_credentials(&self, venue: &str) -> Result<Credentials, ExchangeError> {
            Ok(Credentials {
                api_key: format!("read-{venue}"),
                api_secret: String::new(),
                withdraw_key: None,
            })
        }
    }

    fn refusal(result: Result<Box<dyn Exchange>, ExchangeError>) -> String {
        match result {
            Err(ExchangeError::Unsupported { what, .. }) => what,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("the recorder builds nothing"),
        }
    }

    #[test]
    fn venue_clients_come_from_the_factory_with_the_mode_map_and_the_right_credentials() {
        let mut map = VenueMap::default();
        map.base_urls
            .insert("kraken".into(), "http://sandbox.invalid".into());
        let venues = Venues::new(map, Arc::new(Recorder));
        let coin = AssetCode::new("USDC").unwrap();
        let chain: ChainId = "eip155:31337".parse().unwrap();
        let target = SettlementTarget {
            asset: &coin,
            chain: &chain,
            address: "0xabc",
        };
        assert!(venues.offers("kraken") && !venues.offers("binance"));
        let payer = Credentials {
            api_key: "payer-key".into(),
            api_secret: "s".into(),
            withdraw_key: None,
        };
        assert_eq!(
            refusal(venues.client("kraken", &payer, target)),
            "kraken http://sandbox.invalid payer-key 0xabc"
        );
        assert_eq!(
            refusal(venues.market_client("kraken", target)),
            "kraken http://sandbox.invalid read-kraken 0xabc"
        );
    }
}
