//! The one place where failures become HTTP answers: Stripe-style error objects with stable
//! snake_case codes. Internal causes are logged with the request id and never shown.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

pub use rialto_engine::error::{EngineError, ErrorCode};

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

/// The HTTP status and Stripe error family of each code: the one mapping.
fn status_and_type(code: ErrorCode) -> (StatusCode, ErrorType) {
    use ErrorCode as C;
    use ErrorType as T;
    match code {
        C::ResourceMissing | C::UrlNotFound => (StatusCode::NOT_FOUND, T::InvalidRequestError),
        C::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, T::InvalidRequestError),
        C::RequestTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, T::InvalidRequestError),
        C::ApiKeyMissing | C::ApiKeyInvalid => (StatusCode::UNAUTHORIZED, T::AuthenticationError),
        C::LivemodeUnavailable
        | C::SecretKeyRequired
        | C::OperatorKeyRequired
        | C::ApiKeyOtherCustody
        | C::TestHelpersUnavailable => (StatusCode::FORBIDDEN, T::PermissionError),
        C::IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, T::IdempotencyError),
        C::IdempotencyKeyInUse => (StatusCode::CONFLICT, T::IdempotencyError),
        C::IdempotencyKeyInvalid => (StatusCode::BAD_REQUEST, T::IdempotencyError),
        C::RateLimited => (StatusCode::TOO_MANY_REQUESTS, T::RateLimitError),
        C::ApiError => (StatusCode::INTERNAL_SERVER_ERROR, T::ApiError),
        C::OracleUnavailable => (StatusCode::SERVICE_UNAVAILABLE, T::ApiError),
        C::QuoteAlreadyAccepted => (StatusCode::CONFLICT, T::InvalidRequestError),
        C::RouteExecutionUnexpectedState => (StatusCode::CONFLICT, T::InvalidRequestError),
        C::ExchangePaymentInProgress => (StatusCode::CONFLICT, T::InvalidRequestError),
        C::NoRoute
        | C::QuoteExpired
        | C::IssuerFloatInsufficient
        | C::IssuerRedemptionAssetUnknown
        | C::IssuerRedemptionExceedsBalance => (StatusCode::BAD_REQUEST, T::InvalidRequestError),
        C::ComplianceListsUnavailable
        | C::ComplianceListsStale
        | C::ChainUnavailable
        | C::AllowlistUnavailable
        | C::DepositAddressesUnavailable
        | C::ExchangeUnavailable
        | C::IssuerUnavailable
        | C::ReservesBreached
        | C::ReservesStale
        | C::ReservesUnverified => (StatusCode::SERVICE_UNAVAILABLE, T::ApiError),
        C::TransactionUnconfirmed
        | C::TransactionAlreadyUsed
        | C::AuthorizationNonceUsed
        | C::AuthorizationAlreadyRelayed
        | C::WriteOffExists
        | C::BalanceChanged
        | C::MisdirectedDepositNotResolvable
        | C::MisdirectedReturnRefused
        | C::RouteLegNotResolvable => (StatusCode::CONFLICT, T::InvalidRequestError),
        C::SettingsChangeNotPending
        | C::RefundNotPendingApproval
        | C::RefundNotAwaitingFunding
        | C::ApiKeyNotActive => (StatusCode::CONFLICT, T::InvalidRequestError),
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
        | C::SettlementAddressNotAllowlisted
        | C::PayerNotAllowlisted
        | C::PayoutsUnavailable
        | C::RefundNotAllowed
        | C::RefundExceedsPayment
        | C::RefundDestinationRequired
        | C::RefundDestinationRefused
        | C::PayerRefused
        | C::FundingSenderMismatch
        | C::RefundAssetUnsupported
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
        | C::PayerProofRequired
        | C::PayerProofInvalid
        | C::PaymentMethodUnavailable
        | C::AuthorizationInvalidSignature
        | C::TravelRuleInvalid
        | C::AuthorizationSignerMismatch
        | C::AuthorizationWrongRecipient
        | C::AuthorizationAmountTooLow
        | C::AuthorizationAmountTooHigh
        | C::AuthorizationNotYetValid
        | C::AuthorizationExpired
        | C::AuthorizationWrongChain
        | C::AuthorizationNonceMismatch
        | C::AuthorizationInsufficientBalance
        | C::AuthorizationWouldRevert
        | C::ExchangeInsufficientFunds
        | C::ExchangeRejected
        | C::ExchangeAuthFailed
        | C::CheckoutSessionUnexpectedState
        | C::PaymentIntentUnexpectedState => (StatusCode::BAD_REQUEST, T::InvalidRequestError),
    }
}

/// A failure on its way to the client: the engine's error (code, message, parameter, retry
/// hint), which this layer alone turns into an HTTP status and a Stripe-style body.
#[derive(Debug)]
pub struct ApiError(pub EngineError);

impl std::ops::Deref for ApiError {
    type Target = EngineError;

    fn deref(&self) -> &EngineError {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut EngineError {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(EngineError::new(code, message))
    }

    pub fn param(self, param: impl Into<String>) -> Self {
        Self(self.0.param(param))
    }

    pub fn missing(kind: &str, id: &str, param: &str) -> Self {
        Self(EngineError::missing(kind, id, param))
    }

    /// An internal failure: logged in full, shown only as `api_error`.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        Self(EngineError::internal(cause))
    }

    pub fn status(&self) -> StatusCode {
        status_and_type(self.code).0
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> Self {
        Self(err)
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
        let Self(err) = self;
        let (status, kind) = status_and_type(err.code);
        let body = ErrorBody {
            error: ErrorObject {
                kind,
                code: err.code.as_str().to_owned(),
                message: err.message,
                param: err.param,
                request_id: None,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(secs) = err.retry_after {
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
