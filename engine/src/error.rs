//! The engine's one error type. A failure carries a stable snake_case [`ErrorCode`] (the public
//! contract the HTTP layer renders as a Stripe-style error object), a message meant for the
//! caller and the parameter at fault. Internal causes are logged here and never carried
//! outward: the caller sees only `api_error`.

use crate::store::StoreError;

/// Every error code the API can answer with. Codes are part of the public contract: add new
/// ones, never rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    ParameterUnknown,
    ParameterMissing,
    ParameterInvalid,
    InvalidAmount,
    AmountTooLarge,
    InvalidCurrency,
    InvalidChain,
    InvalidAsset,
    AssetNotOnChain,
    InvalidAddress,
    AddressChecksumMismatch,
    MetadataInvalid,
    InvalidExpiresIn,
    InvalidCursor,
    InvalidUrl,
    ResourceMissing,
    UrlNotFound,
    MethodNotAllowed,
    RequestTooLarge,
    PaymentIntentUnexpectedState,
    CheckoutSessionUnexpectedState,
    ApiKeyMissing,
    ApiKeyInvalid,
    LivemodeUnavailable,
    SecretKeyRequired,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    RateLimited,
    SettlementAddressRefused,
    PayoutsUnavailable,
    BalanceChanged,
    WriteOffExists,
    RefundNotAllowed,
    RefundExceedsPayment,
    RefundDestinationRequired,
    RefundDestinationRefused,
    /// The payer of a gasless payment did not pass screening (neutral words: never which list).
    PayerRefused,
    BalanceInsufficient,
    RefundsUnavailable,
    PayoutDestinationMissing,
    PayoutNotPending,
    ApprovalRequiresSecondKey,
    SettingsInvalid,
    SettingsChangeNotPending,
    RefundNotPendingApproval,
    /// Funding a refund that is not in `requires_funding`.
    RefundNotAwaitingFunding,
    /// A refund funded by a transfer whose proven sender is not the payment's settlement
    /// address.
    FundingSenderMismatch,
    /// A refund asked in another asset than the one received (not built: see docs/money.md).
    RefundAssetUnsupported,
    ApiKeyNotActive,
    ApiKeyOtherCustody,
    OperatorKeyRequired,
    ComplianceCaseNotOpen,
    ComplianceCaseNotReleasable,
    ListEntryExists,
    TestHelpersUnavailable,
    ComplianceListsUnavailable,
    /// The sanctions lists are older than `compliance.refuse_after_secs`: live payments wait
    /// for a refresh.
    ComplianceListsStale,
    ChainUnavailable,
    TransactionInvalid,
    TransactionNotFound,
    TransactionFailed,
    TransactionMismatch,
    TransactionAmountTooLow,
    TransactionUnconfirmed,
    TransactionAlreadyUsed,
    TransactionPredatesIntent,
    PayerProofRequired,
    PayerProofInvalid,
    AuthorizationInvalidSignature,
    /// Payer details whose IVMS101 travel-rule data breaks a rule of the standard.
    TravelRuleInvalid,
    AuthorizationSignerMismatch,
    AuthorizationWrongRecipient,
    AuthorizationAmountTooLow,
    /// More than the amount, made out to the merchant's own address, while the merchant's
    /// policy refunds surpluses: Rialto could not give the surplus back.
    AuthorizationAmountTooHigh,
    AuthorizationNotYetValid,
    AuthorizationExpired,
    AuthorizationWrongChain,
    AuthorizationNonceMismatch,
    AuthorizationNonceUsed,
    AuthorizationInsufficientBalance,
    AuthorizationWouldRevert,
    AuthorizationAlreadyRelayed,
    DepositAddressesUnavailable,
    PaymentMethodUnavailable,
    ExchangeInsufficientFunds,
    ExchangeRejected,
    ExchangeAuthFailed,
    ExchangeUnavailable,
    ExchangePaymentInProgress,
    NoRoute,
    /// The issuing bank's USD float (Rialto's treasury account there) cannot cover the mint a
    /// route to a deposit token needs, with its fee: no route is offered, never a partial mint.
    IssuerFloatInsufficient,
    /// A redemption names an asset the mode's issuing bank does not issue on that chain.
    IssuerRedemptionAssetUnknown,
    /// A redemption asks more than the treasury's wallet holds on chain.
    IssuerRedemptionExceedsBalance,
    /// The issuing bank cannot be reached (or answered nothing usable); nothing was redeemed.
    IssuerUnavailable,
    QuoteExpired,
    QuoteAlreadyAccepted,
    RouteExecutionUnexpectedState,
    OracleUnavailable,
    /// Proof of Reserve: the asset's reported reserves do not cover its supply.
    ReservesBreached,
    /// Proof of Reserve: the asset's reserve report is older than its heartbeat.
    ReservesStale,
    /// A live asset with no reserve feed that the operator has not accepted unguarded.
    ReservesUnverified,
    /// A deposit token's settlement address is not on the token's allow-list (read on chain).
    SettlementAddressNotAllowlisted,
    /// The payer's wallet is not on the deposit token's allow-list (read on chain).
    PayerNotAllowlisted,
    /// The chain of a deposit token cannot answer whether a holder is allow-listed; nothing
    /// proceeds unchecked.
    AllowlistUnavailable,
    /// A misdirected deposit an operator asked to resolve is not waiting for one.
    MisdirectedDepositNotResolvable,
    /// A misdirected deposit cannot be returned now (the destination is refused, or the
    /// network cost takes it all); it stays with the operators.
    MisdirectedReturnRefused,
    /// A route leg an operator asked to resolve is not `unknown` (or its execution moved).
    RouteLegNotResolvable,
    ApiError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::ParameterUnknown => "parameter_unknown",
            ErrorCode::ParameterMissing => "parameter_missing",
            ErrorCode::ParameterInvalid => "parameter_invalid",
            ErrorCode::InvalidAmount => "invalid_amount",
            ErrorCode::AmountTooLarge => "amount_too_large",
            ErrorCode::InvalidCurrency => "invalid_currency",
            ErrorCode::InvalidChain => "invalid_chain",
            ErrorCode::InvalidAsset => "invalid_asset",
            ErrorCode::AssetNotOnChain => "asset_not_on_chain",
            ErrorCode::InvalidAddress => "invalid_address",
            ErrorCode::AddressChecksumMismatch => "address_checksum_mismatch",
            ErrorCode::MetadataInvalid => "metadata_invalid",
            ErrorCode::InvalidExpiresIn => "invalid_expires_in",
            ErrorCode::InvalidCursor => "invalid_cursor",
            ErrorCode::InvalidUrl => "invalid_url",
            ErrorCode::ResourceMissing => "resource_missing",
            ErrorCode::UrlNotFound => "url_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTooLarge => "request_too_large",
            ErrorCode::PaymentIntentUnexpectedState => "payment_intent_unexpected_state",
            ErrorCode::CheckoutSessionUnexpectedState => "checkout_session_unexpected_state",
            ErrorCode::ApiKeyMissing => "api_key_missing",
            ErrorCode::ApiKeyInvalid => "api_key_invalid",
            ErrorCode::LivemodeUnavailable => "livemode_unavailable",
            ErrorCode::SecretKeyRequired => "secret_key_required",
            ErrorCode::IdempotencyKeyInvalid => "idempotency_key_invalid",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::IdempotencyKeyInUse => "idempotency_key_in_use",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::SettlementAddressRefused => "settlement_address_refused",
            ErrorCode::PayoutsUnavailable => "payouts_unavailable",
            ErrorCode::BalanceChanged => "balance_changed",
            ErrorCode::WriteOffExists => "write_off_exists",
            ErrorCode::RefundNotAllowed => "refund_not_allowed",
            ErrorCode::RefundExceedsPayment => "refund_exceeds_payment",
            ErrorCode::RefundDestinationRequired => "refund_destination_required",
            ErrorCode::RefundDestinationRefused => "refund_destination_refused",
            ErrorCode::PayerRefused => "payer_refused",
            ErrorCode::BalanceInsufficient => "balance_insufficient",
            ErrorCode::RefundsUnavailable => "refunds_unavailable",
            ErrorCode::PayoutDestinationMissing => "payout_destination_missing",
            ErrorCode::PayoutNotPending => "payout_not_pending",
            ErrorCode::ApprovalRequiresSecondKey => "approval_requires_second_key",
            ErrorCode::SettingsInvalid => "settings_invalid",
            ErrorCode::SettingsChangeNotPending => "settings_change_not_pending",
            ErrorCode::RefundNotPendingApproval => "refund_not_pending_approval",
            ErrorCode::RefundNotAwaitingFunding => "refund_not_awaiting_funding",
            ErrorCode::FundingSenderMismatch => "funding_sender_mismatch",
            ErrorCode::RefundAssetUnsupported => "refund_asset_unsupported",
            ErrorCode::ApiKeyNotActive => "api_key_not_active",
            ErrorCode::ApiKeyOtherCustody => "api_key_other_custody",
            ErrorCode::OperatorKeyRequired => "operator_key_required",
            ErrorCode::ComplianceCaseNotOpen => "compliance_case_not_open",
            ErrorCode::ComplianceCaseNotReleasable => "compliance_case_not_releasable",
            ErrorCode::ListEntryExists => "list_entry_exists",
            ErrorCode::TestHelpersUnavailable => "test_helpers_unavailable",
            ErrorCode::ComplianceListsUnavailable => "compliance_lists_unavailable",
            ErrorCode::ComplianceListsStale => "compliance_lists_stale",
            ErrorCode::ChainUnavailable => "chain_unavailable",
            ErrorCode::TransactionInvalid => "transaction_invalid",
            ErrorCode::TransactionNotFound => "transaction_not_found",
            ErrorCode::TransactionFailed => "transaction_failed",
            ErrorCode::TransactionMismatch => "transaction_mismatch",
            ErrorCode::TransactionAmountTooLow => "transaction_amount_too_low",
            ErrorCode::TransactionUnconfirmed => "transaction_unconfirmed",
            ErrorCode::TransactionAlreadyUsed => "transaction_already_used",
            ErrorCode::TransactionPredatesIntent => "transaction_predates_intent",
            ErrorCode::PayerProofRequired => "payer_proof_required",
            ErrorCode::PayerProofInvalid => "payer_proof_invalid",
            ErrorCode::AuthorizationInvalidSignature => "authorization_invalid_signature",
            ErrorCode::TravelRuleInvalid => "travel_rule_invalid",
            ErrorCode::AuthorizationSignerMismatch => "authorization_signer_mismatch",
            ErrorCode::AuthorizationWrongRecipient => "authorization_wrong_recipient",
            ErrorCode::AuthorizationAmountTooLow => "authorization_amount_too_low",
            ErrorCode::AuthorizationAmountTooHigh => "authorization_amount_too_high",
            ErrorCode::AuthorizationNotYetValid => "authorization_not_yet_valid",
            ErrorCode::AuthorizationExpired => "authorization_expired",
            ErrorCode::AuthorizationWrongChain => "authorization_wrong_chain",
            ErrorCode::AuthorizationNonceMismatch => "authorization_nonce_mismatch",
            ErrorCode::AuthorizationNonceUsed => "authorization_nonce_used",
            ErrorCode::AuthorizationInsufficientBalance => "authorization_insufficient_balance",
            ErrorCode::AuthorizationWouldRevert => "authorization_would_revert",
            ErrorCode::AuthorizationAlreadyRelayed => "authorization_already_relayed",
            ErrorCode::DepositAddressesUnavailable => "deposit_addresses_unavailable",
            ErrorCode::PaymentMethodUnavailable => "payment_method_unavailable",
            ErrorCode::ExchangeInsufficientFunds => "exchange_insufficient_funds",
            ErrorCode::ExchangeRejected => "exchange_rejected",
            ErrorCode::ExchangeAuthFailed => "exchange_auth_failed",
            ErrorCode::ExchangeUnavailable => "exchange_unavailable",
            ErrorCode::ExchangePaymentInProgress => "exchange_payment_in_progress",
            ErrorCode::NoRoute => "no_route",
            ErrorCode::IssuerFloatInsufficient => "issuer_float_insufficient",
            ErrorCode::IssuerRedemptionAssetUnknown => "issuer_redemption_asset_unknown",
            ErrorCode::IssuerRedemptionExceedsBalance => "issuer_redemption_exceeds_balance",
            ErrorCode::IssuerUnavailable => "issuer_unavailable",
            ErrorCode::QuoteExpired => "quote_expired",
            ErrorCode::QuoteAlreadyAccepted => "quote_already_accepted",
            ErrorCode::SettlementAddressNotAllowlisted => "settlement_address_not_allowlisted",
            ErrorCode::PayerNotAllowlisted => "payer_not_allowlisted",
            ErrorCode::AllowlistUnavailable => "allowlist_unavailable",
            ErrorCode::RouteExecutionUnexpectedState => "route_execution_unexpected_state",
            ErrorCode::OracleUnavailable => "oracle_unavailable",
            ErrorCode::ReservesBreached => "reserves_breached",
            ErrorCode::ReservesStale => "reserves_stale",
            ErrorCode::ReservesUnverified => "reserves_unverified",
            ErrorCode::MisdirectedDepositNotResolvable => "misdirected_deposit_not_resolvable",
            ErrorCode::MisdirectedReturnRefused => "misdirected_return_refused",
            ErrorCode::RouteLegNotResolvable => "route_leg_not_resolvable",
            ErrorCode::ApiError => "api_error",
        }
    }
}

/// A failure of an engine operation, on its way to whoever called it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct EngineError {
    pub code: ErrorCode,
    pub message: String,
    pub param: Option<String>,
    /// Seconds to wait before retrying, where that is known.
    pub retry_after: Option<u64>,
}

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn missing(kind: &str, id: &str, param: &str) -> Self {
        Self::new(
            ErrorCode::ResourceMissing,
            format!("No such {kind}: '{id}'"),
        )
        .param(param)
    }

    /// An internal failure: logged in full here, shown only as `api_error`.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            ErrorCode::ApiError,
            "Something went wrong on our side. Retry with the same Idempotency-Key; quote the \
             request id if it persists.",
        )
    }

    /// True for failures the caller caused (and may fix), false for ours.
    pub fn is_client_error(&self) -> bool {
        !matches!(
            self.code,
            ErrorCode::ApiError
                | ErrorCode::OracleUnavailable
                | ErrorCode::ComplianceListsUnavailable
                | ErrorCode::ComplianceListsStale
                | ErrorCode::ChainUnavailable
                | ErrorCode::AllowlistUnavailable
                | ErrorCode::DepositAddressesUnavailable
                | ErrorCode::ExchangeUnavailable
                | ErrorCode::IssuerUnavailable
                | ErrorCode::ReservesBreached
                | ErrorCode::ReservesStale
                | ErrorCode::ReservesUnverified
        )
    }
}

impl From<StoreError> for EngineError {
    fn from(err: StoreError) -> Self {
        EngineError::internal(&err)
    }
}
