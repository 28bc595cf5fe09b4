//! How a payment transaction came to be bound to its intent (`payment_transactions.source`).

/// How a payment transaction came to be bound to its intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentSource {
    /// Reported by the payer, with proof.
    Transaction,
    /// An EIP-3009 authorization the gateway relayed.
    Authorization,
    /// One EIP-3009 authorization of a `BatchRelayer` transaction that carries several: the
    /// row's payer and amount are the authorization's (its `AuthorizationUsed` was in the
    /// receipt), and only that payer's transfer to the settlement address counts for it.
    BatchAuthorization,
    /// Seen arriving at the intent's deposit address.
    Deposit,
    /// A withdrawal from the payer's exchange account.
    Exchange,
    /// The settlement leg of a SmartFunding route.
    Route,
    /// Found on chain by the intent's payment reference (Solana Pay), checked against the
    /// request: the whole transfer to the settlement address is the intent's.
    Reference,
}

impl PaymentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentSource::Transaction => "transaction",
            PaymentSource::Authorization => "authorization",
            PaymentSource::BatchAuthorization => "batch_authorization",
            PaymentSource::Deposit => "deposit",
            PaymentSource::Exchange => "exchange",
            PaymentSource::Route => "route",
            PaymentSource::Reference => "reference",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            PaymentSource::Transaction,
            PaymentSource::Authorization,
            PaymentSource::BatchAuthorization,
            PaymentSource::Deposit,
            PaymentSource::Exchange,
            PaymentSource::Route,
            PaymentSource::Reference,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}
