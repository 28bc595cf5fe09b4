//! The issuing bank as the engine reaches it: [`MeteredIssuer`] wraps any `Issuer` (the HTTP
//! client, a real bank's) and counts every failed call in `rialto_issuer_errors_total` by
//! operation and stable code, so each place the gateway calls an issuer is measured the same
//! way. The gateway builds its issuers wrapped.

use async_trait::async_trait;
use rialto_connectors::issuer::{
    Issuer, IssuerError, IssuerQuote, IssuerRequest, MintGuard, MintRequest, OnboardingRequest,
    RedemptionRequest, RequestKind, UsdBalance,
};
use rust_decimal::Decimal;

/// An [`Issuer`] whose failures are counted.
#[derive(Debug)]
pub struct MeteredIssuer<I> {
    inner: I,
    /// The `issuer` label: which bank (`sandbox`, a configured name).
    name: String,
}

impl<I: Issuer> MeteredIssuer<I> {
    pub fn new(inner: I, name: &str) -> Self {
        Self {
            inner,
            name: name.to_owned(),
        }
    }

    fn count<T>(
        &self,
        operation: &'static str,
        result: Result<T, IssuerError>,
    ) -> Result<T, IssuerError> {
        if let Err(err) = &result {
            metrics::counter!("rialto_issuer_errors_total", "issuer" => self.name.clone(),
                "operation" => operation, "code" => err.code())
            .increment(1);
        }
        result
    }
}

#[async_trait]
impl<I: Issuer> Issuer for MeteredIssuer<I> {
    async fn onboard(&self, request: &OnboardingRequest) -> Result<IssuerRequest, IssuerError> {
        let result = self.inner.onboard(request).await;
        self.count("onboard", result)
    }

    async fn balance(&self) -> Result<UsdBalance, IssuerError> {
        let result = self.inner.balance().await;
        self.count("balance", result)
    }

    async fn mint(
        &self,
        request: &MintRequest,
        guard: &dyn MintGuard,
    ) -> Result<IssuerRequest, IssuerError> {
        let result = self.inner.mint(request, guard).await;
        self.count("mint", result)
    }

    async fn redeem(&self, request: &RedemptionRequest) -> Result<IssuerRequest, IssuerError> {
        let result = self.inner.redeem(request).await;
        self.count("redeem", result)
    }

    async fn request(&self, reference: &str) -> Result<IssuerRequest, IssuerError> {
        let result = self.inner.request(reference).await;
        self.count("request", result)
    }

    async fn quote(&self, kind: RequestKind, amount: Decimal) -> Result<IssuerQuote, IssuerError> {
        let result = self.inner.quote(kind, amount).await;
        self.count("quote", result)
    }
}

/// An issuing bank Rialto's treasury holds a USD account at, as routes use it: the bank (any
/// [`Issuer`], metered), its name (the route venue, `sandbox-bank`), the deposit token it
/// issues (`JPMD-DEV`) and the chains where it mints, each with the treasury's allow-listed
/// wallet (the chain's hot wallet, onboarded at start-up). Mints go to that wallet; the
/// route's settlement transfer then pays the merchant, as on every route.
#[derive(Clone)]
pub struct IssuerDesk {
    pub name: String,
    pub issuer: std::sync::Arc<dyn Issuer>,
    /// The token's symbol, upper case.
    pub asset: String,
    /// CAIP-2 → the treasury's allow-listed wallet there.
    pub treasury: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for IssuerDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerDesk")
            .field("name", &self.name)
            .field("asset", &self.asset)
            .field("treasury", &self.treasury)
            .finish()
    }
}

impl IssuerDesk {
    /// Whether this desk mints `symbol` on `caip2`.
    pub fn mints(&self, symbol: &str, caip2: &str) -> bool {
        self.asset.eq_ignore_ascii_case(symbol) && self.treasury.contains_key(caip2)
    }
}
