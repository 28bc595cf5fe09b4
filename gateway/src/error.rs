//! The one place where failures become HTTP answers: Stripe-style error objects with stable
//! snake_case codes. Internal causes are logged with the request id and never shown.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// Stripe's error families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequestError,
    AuthenticationError,
    PermissionError,
    IdempotencyError,
    RateLimitError,
    ApiError,
}

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
    BalanceInsufficient,
    RefundsUnavailable,
    PayoutDestinationMissing,
    PayoutNotPending,
    ApprovalRequiresSecondKey,
    SettingsInvalid,
    OperatorKeyRequired,
    ComplianceCaseNotOpen,
    ComplianceCaseNotReleasable,
    ListEntryExists,
    TestHelpersUnavailable,
    ComplianceListsUnavailable,
    ChainUnavailable,
    TransactionInvalid,
    TransactionNotFound,
    TransactionFailed,
    TransactionMismatch,
    TransactionAmountTooLow,
    TransactionUnconfirmed,
    TransactionAlreadyUsed,
    TransactionPredatesIntent,
    AuthorizationInvalidSignature,
    AuthorizationSignerMismatch,
    AuthorizationWrongRecipient,
    AuthorizationAmountTooLow,
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
    NoRoute,
    QuoteExpired,
    QuoteAlreadyAccepted,
    RouteExecutionUnexpectedState,
    OracleUnavailable,
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
            ErrorCode::BalanceInsufficient => "balance_insufficient",
            ErrorCode::RefundsUnavailable => "refunds_unavailable",
            ErrorCode::PayoutDestinationMissing => "payout_destination_missing",
            ErrorCode::PayoutNotPending => "payout_not_pending",
            ErrorCode::ApprovalRequiresSecondKey => "approval_requires_second_key",
            ErrorCode::SettingsInvalid => "settings_invalid",
            ErrorCode::OperatorKeyRequired => "operator_key_required",
            ErrorCode::ComplianceCaseNotOpen => "compliance_case_not_open",
            ErrorCode::ComplianceCaseNotReleasable => "compliance_case_not_releasable",
            ErrorCode::ListEntryExists => "list_entry_exists",
            ErrorCode::TestHelpersUnavailable => "test_helpers_unavailable",
            ErrorCode::ComplianceListsUnavailable => "compliance_lists_unavailable",
            ErrorCode::ChainUnavailable => "chain_unavailable",
            ErrorCode::TransactionInvalid => "transaction_invalid",
            ErrorCode::TransactionNotFound => "transaction_not_found",
            ErrorCode::TransactionFailed => "transaction_failed",
            ErrorCode::TransactionMismatch => "transaction_mismatch",
            ErrorCode::TransactionAmountTooLow => "transaction_amount_too_low",
            ErrorCode::TransactionUnconfirmed => "transaction_unconfirmed",
            ErrorCode::TransactionAlreadyUsed => "transaction_already_used",
            ErrorCode::TransactionPredatesIntent => "transaction_predates_intent",
            ErrorCode::AuthorizationInvalidSignature => "authorization_invalid_signature",
            ErrorCode::AuthorizationSignerMismatch => "authorization_signer_mismatch",
            ErrorCode::AuthorizationWrongRecipient => "authorization_wrong_recipient",
            ErrorCode::AuthorizationAmountTooLow => "authorization_amount_too_low",
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
            ErrorCode::NoRoute => "no_route",
            ErrorCode::QuoteExpired => "quote_expired",
            ErrorCode::QuoteAlreadyAccepted => "quote_already_accepted",
            ErrorCode::RouteExecutionUnexpectedState => "route_execution_unexpected_state",
            ErrorCode::OracleUnavailable => "oracle_unavailable",
            ErrorCode::ApiError => "api_error",
        }
    }

    fn status_and_type(self) -> (StatusCode, ErrorType) {
        use ErrorCode as C;
        use ErrorType as T;
        match self {
            C::ResourceMissing | C::UrlNotFound => (StatusCode::NOT_FOUND, T::InvalidRequestError),
            C::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, T::InvalidRequestError),
            C::RequestTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, T::InvalidRequestError),
            C::ApiKeyMissing | C::ApiKeyInvalid => {
                (StatusCode::UNAUTHORIZED, T::AuthenticationError)
            }
            C::LivemodeUnavailable
            | C::SecretKeyRequired
            | C::OperatorKeyRequired
            | C::TestHelpersUnavailable => (StatusCode::FORBIDDEN, T::PermissionError),
            C::IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, T::IdempotencyError),
            C::IdempotencyKeyInUse => (StatusCode::CONFLICT, T::IdempotencyError),
            C::IdempotencyKeyInvalid => (StatusCode::BAD_REQUEST, T::IdempotencyError),
            C::RateLimited => (StatusCode::TOO_MANY_REQUESTS, T::RateLimitError),
            C::ApiError => (StatusCode::INTERNAL_SERVER_ERROR, T::ApiError),
            C::OracleUnavailable => (StatusCode::SERVICE_UNAVAILABLE, T::ApiError),
            C::QuoteAlreadyAccepted => (StatusCode::CONFLICT, T::InvalidRequestError),
            C::RouteExecutionUnexpectedState => (StatusCode::CONFLICT, T::InvalidRequestError),
            C::NoRoute | C::QuoteExpired => (StatusCode::BAD_REQUEST, T::InvalidRequestError),
            C::ComplianceListsUnavailable
            | C::ChainUnavailable
            | C::DepositAddressesUnavailable
            | C::ExchangeUnavailable => (StatusCode::SERVICE_UNAVAILABLE, T::ApiError),
            C::TransactionUnconfirmed
            | C::TransactionAlreadyUsed
            | C::AuthorizationNonceUsed
            | C::AuthorizationAlreadyRelayed
            | C::WriteOffExists
            | C::BalanceChanged => (StatusCode::CONFLICT, T::InvalidRequestError),
            C::ComplianceCaseNotOpen | C::ComplianceCaseNotReleasable | C::ListEntryExists => {
                (StatusCode::CONFLICT, T::InvalidRequestError)
            }
            C::InvalidJson
            | C::ParameterUnknown
            | C::ParameterMissing
            | C::ParameterInvalid
            | C::InvalidAmount
            | C::AmountTooLarge
            | C::InvalidCurrency
            | C::InvalidChain
            | C::InvalidAsset
            | C::AssetNotOnChain
            | C::InvalidAddress
            | C::AddressChecksumMismatch
            | C::MetadataInvalid
            | C::InvalidExpiresIn
            | C::InvalidCursor
            | C::InvalidUrl
            | C::SettlementAddressRefused
            | C::PayoutsUnavailable
            | C::RefundNotAllowed
            | C::RefundExceedsPayment
            | C::RefundDestinationRequired
            | C::RefundDestinationRefused
            | C::BalanceInsufficient
            | C::RefundsUnavailable
            | C::PayoutDestinationMissing
            | C::PayoutNotPending
            | C::ApprovalRequiresSecondKey
            | C::SettingsInvalid
            | C::TransactionInvalid
            | C::TransactionNotFound
            | C::TransactionFailed
            | C::TransactionMismatch
            | C::TransactionAmountTooLow
            | C::TransactionPredatesIntent
            | C::PaymentMethodUnavailable
            | C::AuthorizationInvalidSignature
            | C::AuthorizationSignerMismatch
            | C::AuthorizationWrongRecipient
            | C::AuthorizationAmountTooLow
            | C::AuthorizationNotYetValid
            | C::AuthorizationExpired
            | C::AuthorizationWrongChain
            | C::AuthorizationNonceMismatch
            | C::AuthorizationInsufficientBalance
            | C::AuthorizationWouldRevert
            | C::ExchangeInsufficientFunds
            | C::ExchangeRejected
            | C::ExchangeAuthFailed
            | C::PaymentIntentUnexpectedState => (StatusCode::BAD_REQUEST, T::InvalidRequestError),
        }
    }
}

/// A failure on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub param: Option<String>,
    /// Seconds to wait, for 429s.
    pub retry_after: Option<u64>,
}

impl ApiError {
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

    pub fn status(&self) -> StatusCode {
        self.code.status_and_type().0
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

/// The JSON body: `{"error": {...}}`, as documented in the OpenAPI file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// Stable snake_case code, e.g. `invalid_amount`.
    pub code: String,
    pub message: String,
    /// The request parameter at fault, when there is one (`settlement.address`).
    pub param: Option<String>,
    /// Filled in by the request-id layer on the way out.
    pub request_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, kind) = self.code.status_and_type();
        let body = ErrorBody {
            error: ErrorObject {
                kind,
                code: self.code.as_str().to_owned(),
                message: self.message,
                param: self.param,
                request_id: None,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response.extensions_mut().insert(ErrorMarker);
        response
    }
}

/// Marks a response as an API error so the request-id layer can stamp its body.
#[derive(Debug, Clone, Copy)]
pub struct ErrorMarker;
