// Rialto API client. Request and response types come from the generated OpenAPI schema
// (src/schema.d.ts and src/operations.ts, regenerated with `npm run generate` from
// gateway/openapi.json), so a change to the API shows up here as a type error. Amounts are
// decimal strings, never numbers. Wallet helpers (viem) live in `@rialto/sdk/wallet`.
import type { components, paths } from "./schema.js";

export type { components, paths };
export { RialtoClient, FINAL_STATUSES, fundingMessage, paymentMessage } from "./client.js";
export type { ClientOptions, PaymentIntent, PersonalSign } from "./client.js";
export { RialtoError, RialtoConnectionError, parseRetryAfter } from "./errors.js";
export type { ErrorObject } from "./errors.js";
export { ListTruncatedError, retryable } from "./transport.js";
export type { ListPromise, RequestOptions } from "./transport.js";
export { verifyWebhook, signWebhook, WebhookVerificationError } from "./webhooks.js";
export type { VerifyOptions } from "./webhooks.js";

export type PaymentIntentList = components["schemas"]["PaymentIntentList"];
export type CreatePaymentIntentParams = components["schemas"]["CreatePaymentIntentParams"];
export type CancelPaymentIntentParams = components["schemas"]["CancelPaymentIntentParams"];
export type ComplianceScreening = components["schemas"]["ScreeningObject"];
export type ListEntryParams = components["schemas"]["ListEntryParams"];
export type ListEntry = components["schemas"]["ListEntryObject"];
export type FundParams = components["schemas"]["FundParams"];
export type Quote = components["schemas"]["QuoteObject"];
export type QuoteList = components["schemas"]["QuoteList"];
export type CreateQuotesParams = components["schemas"]["CreateQuotesParams"];
export type AcceptQuoteParams = components["schemas"]["AcceptQuoteParams"];
export type RouteExecution = components["schemas"]["RouteExecutionObject"];
export type FundExecutionParams = components["schemas"]["FundExecutionParams"];
export type DepositAddress = components["schemas"]["DepositAddressObject"];
export type AuthorizationParams = components["schemas"]["AuthorizationParams"];
