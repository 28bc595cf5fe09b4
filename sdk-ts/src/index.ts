// Rialto API client. Request and response types come from the generated OpenAPI schema
// (src/schema.d.ts, regenerated with `npm run generate` from gateway/openapi.json), so a change
// to the API shows up here as a type error. Amounts are decimal strings, never numbers.
import type { components } from "./schema.js";

export type PaymentIntent = components["schemas"]["PaymentIntentObject"];
export type PaymentIntentList = components["schemas"]["PaymentIntentList"];
export type CreatePaymentIntentParams = components["schemas"]["CreatePaymentIntentParams"];
export type CancelPaymentIntentParams = components["schemas"]["CancelPaymentIntentParams"];
export type ErrorObject = components["schemas"]["ErrorObject"];
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

/**
 * The text a payer signs (EIP-191 `personal_sign`, with the key of `payer_address`) to claim
 * the transfer that funds a wallet route execution.
 */
export function fundingMessage(executionId: string, txHash: string): string {
  return `Rialto: fund ${executionId} with ${txHash.trim().toLowerCase()}`;
}

/**
 * The text the paying wallet signs to prove that transaction `txHash` pays intent `intentId`
 * (the same shape as {@link fundingMessage}): `Rialto: fund <intent id> with <tx hash, lower
 * case>`. An ordinary account signs it with EIP-191 `personal_sign`; a contract wallet returns
 * a signature its EIP-1271 `isValidSignature` accepts over the EIP-191 hash of this text.
 */
export function paymentMessage(intentId: string, txHash: string): string {
  return fundingMessage(intentId, txHash);
}

/** Signs a text with the wallet that sent the payment (EIP-191 `personal_sign`), hex `0x…`. */
export type PersonalSign = (message: string) => Promise<string>;
export type DepositAddress = components["schemas"]["DepositAddressObject"];
export type AuthorizationParams = components["schemas"]["AuthorizationParams"];

/** EIP-712 typed data for `eth_signTypedData_v4`: add `from` to `message`, then sign. */
export interface AuthorizationRequest {
  object: "authorization_request";
  payment_intent: string;
  primary_type: "TransferWithAuthorization";
  domain: { name: string; version: string; chainId: number; verifyingContract: string };
  types: Record<string, { name: string; type: string }[]>;
  message: { to: string; value: string; validAfter: string; validBefore: string; nonce: string };
}

/** A relayed EIP-3009 authorization; the intent succeeds once its transaction is confirmed. */
export interface PaymentAuthorization {
  object: "payment_authorization";
  payment_intent: string;
  chain: string;
  tx_hash: string;
  status: "relayed";
}

/** An error answered by the gateway, with its stable `code` and the offending `param`. */
export class RialtoError extends Error {
  readonly status: number;
  readonly type: ErrorObject["type"];
  readonly code: string;
  readonly param: string | null;
  readonly requestId: string | null;
  readonly retryAfterSeconds: number | null;

  constructor(status: number, error: ErrorObject, retryAfter: string | null) {
    super(error.message);
    this.name = "RialtoError";
    this.status = status;
    this.type = error.type;
    this.code = error.code;
    this.param = error.param ?? null;
    this.requestId = error.request_id ?? null;
    this.retryAfterSeconds = retryAfter === null ? null : Number.parseInt(retryAfter, 10);
  }
}

export interface ClientOptions {
  /** `sk_test_…` on servers, `pk_test_…` in wallets and browsers. */
  apiKey: string;
  /** e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  fetch?: typeof fetch;
}

export interface ListParams {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
  status?: string;
  createdGte?: number;
  createdLte?: number;
}

export class RialtoClient {
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(options: ClientOptions) {
    this.apiKey = options.apiKey;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? fetch;
  }

  /**
   * Ranked quotes for paying an intent from a funding source: an exchange account
   * (`{type: "exchange", venue, asset}`) or a wallet (`{type: "wallet", chain, asset}`).
   */
  createQuotes(intentId: string, params: CreateQuotesParams): Promise<QuoteList> {
    return this.request(
      "POST",
      `/v1/payment_intents/${encodeURIComponent(intentId)}/quotes`,
      params,
    );
  }

  /**
   * Accepts a quote: its merchant amount is locked and its execution starts. Exchange sources
   * pass `exchange_credentials`; wallet sources pass `payer_address` and then pay
   * `execution.pay_to` and call `fundRouteExecution`.
   */
  acceptQuote(
    quoteId: string,
    params: AcceptQuoteParams = {},
    options: { idempotencyKey?: string } = {},
  ): Promise<Quote> {
    return this.request(
      "POST",
      `/v1/quotes/${encodeURIComponent(quoteId)}/accept`,
      params,
      options.idempotencyKey,
    );
  }

  /** Reports the wallet transfer that funds an execution, signed over `fundingMessage`. */
  fundRouteExecution(executionId: string, params: FundExecutionParams): Promise<RouteExecution> {
    return this.request(
      "POST",
      `/v1/route_executions/${encodeURIComponent(executionId)}/fund`,
      params,
    );
  }

  /** Follows an execution leg by leg. With a publishable key, `clientSecret` is required. */
  retrieveRouteExecution(
    executionId: string,
    options: { clientSecret?: string } = {},
  ): Promise<RouteExecution> {
    const query = options.clientSecret
      ? `?client_secret=${encodeURIComponent(options.clientSecret)}`
      : "";
    return this.request(
      "GET",
      `/v1/route_executions/${encodeURIComponent(executionId)}${query}`,
    );
  }

  /** Creates an intent. Pass an idempotency key so a retry can never create a second one. */
  createPaymentIntent(
    params: CreatePaymentIntentParams,
    options: { idempotencyKey?: string } = {},
  ): Promise<PaymentIntent> {
    return this.request("POST", "/v1/payment_intents", params, options.idempotencyKey);
  }

  /** Reads an intent. With a publishable key, `clientSecret` is required. */
  retrievePaymentIntent(id: string, options: { clientSecret?: string } = {}): Promise<PaymentIntent> {
    const query = options.clientSecret
      ? `?client_secret=${encodeURIComponent(options.clientSecret)}`
      : "";
    return this.request("GET", `/v1/payment_intents/${encodeURIComponent(id)}${query}`);
  }

  listPaymentIntents(params: ListParams = {}): Promise<PaymentIntentList> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set("limit", String(params.limit));
    if (params.starting_after) query.set("starting_after", params.starting_after);
    if (params.ending_before) query.set("ending_before", params.ending_before);
    if (params.status) query.set("status", params.status);
    if (params.createdGte !== undefined) query.set("created[gte]", String(params.createdGte));
    if (params.createdLte !== undefined) query.set("created[lte]", String(params.createdLte));
    const suffix = query.size > 0 ? `?${query}` : "";
    return this.request("GET", `/v1/payment_intents${suffix}`);
  }

  cancelPaymentIntent(
    id: string,
    params: CancelPaymentIntentParams = {},
    options: { idempotencyKey?: string } = {},
  ): Promise<PaymentIntent> {
    return this.request(
      "POST",
      `/v1/payment_intents/${encodeURIComponent(id)}/cancel`,
      params,
      options.idempotencyKey,
    );
  }

  /**
   * Reports the transaction that paid an intent (payer side: publishable key + client secret),
   * with the proof that it is the payer's: pass `sign`, the sending wallet's `personal_sign`
   * (e.g. `(m) => signer.signMessage(m)` in ethers, `(message) => walletClient.signMessage({
   * message })` in viem), and it signs {@link paymentMessage}; or pass a ready `signature`.
   * Without either the gateway answers `payer_proof_required`; a signature by anyone but a
   * sender of the transaction is `payer_proof_invalid`. The gateway reads the transfer from the
   * chain; an unconfirmed one is bound now and followed until it has its confirmations.
   */
  async submitTransaction(
    id: string,
    txHash: string,
    options: { clientSecret?: string; sign?: PersonalSign; signature?: string } = {},
  ): Promise<PaymentIntent> {
    const signature = options.sign ? await options.sign(paymentMessage(id, txHash)) : options.signature;
    return this.request("POST", `/v1/payment_intents/${encodeURIComponent(id)}/transactions`, {
      tx_hash: txHash,
      ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
      ...(signature ? { signature } : {}),
    });
  }

  /** The intent's own deposit address, with an EIP-681 `uri` for a QR code. Idempotent. */
  createDepositAddress(id: string, options: { clientSecret?: string } = {}): Promise<DepositAddress> {
    return this.request(
      "POST",
      `/v1/payment_intents/${encodeURIComponent(id)}/deposit_address`,
      options.clientSecret ? { client_secret: options.clientSecret } : {},
    );
  }

  /** The EIP-3009 typed data to sign for a gasless USDC/EURC payment of the intent. */
  getAuthorizationRequest(id: string, options: { clientSecret?: string } = {}): Promise<AuthorizationRequest> {
    const query = options.clientSecret
      ? `?client_secret=${encodeURIComponent(options.clientSecret)}`
      : "";
    return this.request("GET", `/v1/payment_intents/${encodeURIComponent(id)}/authorization_request${query}`);
  }

  /**
   * Submits the signed authorization (`signature` is the 65-byte hex of
   * `eth_signTypedData_v4`); the gateway verifies it and relays it with its own gas.
   */
  submitAuthorization(id: string, params: AuthorizationParams): Promise<PaymentAuthorization> {
    return this.request("POST", `/v1/payment_intents/${encodeURIComponent(id)}/authorizations`, params);
  }

  /**
   * Screens an address before you use it (e.g. as a settlement target). The answer is neutral:
   * `clear` or `block` and a message, never which list matched.
   */
  screenAddress(address: string, chain?: string): Promise<ComplianceScreening> {
    return this.request("POST", "/v1/compliance/screenings", chain ? { address, chain } : { address });
  }

  /** Adds an address to your own block- or allow-list. */
  createListEntry(params: ListEntryParams): Promise<ListEntry> {
    return this.request("POST", "/v1/compliance/list_entries", params);
  }

  /**
   * Sandbox only (`sk_test_` keys): reports funds for an intent as a chain watcher would. The
   * payer is screened for real; the intent comes back `funds_received`, `in_review` or `blocked`.
   */
  fundPaymentIntentTestHelper(id: string, params: FundParams): Promise<PaymentIntent> {
    return this.request(
      "POST",
      `/v1/test_helpers/payment_intents/${encodeURIComponent(id)}/fund`,
      params,
    );
  }

  private async request<T>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (idempotencyKey) headers["idempotency-key"] = idempotencyKey;
    const response = await this.fetchImpl(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) {
      let error: ErrorObject;
      try {
        error = (JSON.parse(text) as { error: ErrorObject }).error;
      } catch {
        error = { type: "api_error", code: "api_error", message: text || response.statusText };
      }
      throw new RialtoError(response.status, error, response.headers.get("retry-after"));
    }
    return JSON.parse(text) as T;
  }
}
