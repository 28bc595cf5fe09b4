// The client: every generated operation (src/operations.ts) over one Transport, plus the
// hand-written payer helpers. Hand-written code calls paths, not generated names, so it
// survives an operation being renamed in the OpenAPI document.
import { Operations } from "./operations.js";
import type { components } from "./schema.js";
import { Transport, type RequestOptions, type TransportOptions } from "./transport.js";

export type PaymentIntent = components["schemas"]["PaymentIntentObject"];

export interface ClientOptions extends TransportOptions {
  /** `sk_test_…` on servers, `pk_test_…` in wallets and browsers. */
  apiKey: string;
  /** e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
}

/** Signs a text with the wallet that sent the payment (EIP-191 `personal_sign`), hex `0x…`. */
export type PersonalSign = (message: string) => Promise<string>;

/**
 * The text a payer signs (EIP-191 `personal_sign`, with the key of `payer_address`) to claim
 * the transfer that funds a wallet route execution.
 */
export function fundingMessage(executionId: string, txHash: string): string {
  return `Rialto: fund ${executionId} with ${txHash.trim().toLowerCase()}`;
}

/**
 * The text the paying wallet signs to prove that transaction `txHash` pays intent `intentId`
 * (engine/src/chain/proof.rs): `Rialto: fund <intent id> with <tx hash, lower case>`.
 */
export function paymentMessage(intentId: string, txHash: string): string {
  return fundingMessage(intentId, txHash);
}

/** Statuses after which an intent never changes again by itself. */
export const FINAL_STATUSES = ["succeeded", "blocked", "expired", "canceled", "failed"] as const;

export class RialtoClient extends Operations {
  protected readonly transport: Transport;

  constructor(options: ClientOptions) {
    super();
    this.transport = new Transport(options);
  }

  /** Any call by path, for an operation newer than this SDK. Writes get an idempotency key. */
  request<T = unknown>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    parts: { query?: Record<string, unknown>; body?: unknown } = {},
    options?: RequestOptions,
  ): Promise<T> {
    return this.transport.request<T>(method, path, parts, options);
  }

  /**
   * Reports the transaction that paid an intent, with the proof that it is the payer's: pass
   * `sign`, the sending wallet's `personal_sign` (viem: `(message) => wallet.signMessage({
   * account, message })`), and it signs {@link paymentMessage}; or pass a ready `signature`.
   */
  async submitTransaction(
    id: string,
    txHash: string,
    options: { clientSecret?: string; sign?: PersonalSign; signature?: string } & RequestOptions = {},
  ): Promise<PaymentIntent> {
    const signature = options.sign ? await options.sign(paymentMessage(id, txHash)) : options.signature;
    const body = {
      tx_hash: txHash,
      ...(options.clientSecret ? { client_secret: options.clientSecret } : {}),
      ...(signature ? { signature } : {}),
    };
    return this.request("POST", `/v1/payment_intents/${encodeURIComponent(id)}/transactions`, { body }, options);
  }

  /**
   * Polls an intent until it reaches one of `until` (default: a final status, see
   * {@link FINAL_STATUSES}) and returns it; throws after `timeoutMs` (default 120 s).
   */
  async waitForIntent(
    id: string,
    options: { clientSecret?: string; until?: readonly string[]; timeoutMs?: number; intervalMs?: number } = {},
  ): Promise<PaymentIntent> {
    const until = options.until ?? FINAL_STATUSES;
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    const query = options.clientSecret ? { client_secret: options.clientSecret } : undefined;
    for (;;) {
      const intent = await this.request<PaymentIntent>("GET", `/v1/payment_intents/${encodeURIComponent(id)}`, { query });
      if (until.includes(intent.status)) return intent;
      if (Date.now() > deadline) {
        throw new Error(`payment intent ${id} is still ${intent.status} after ${options.timeoutMs ?? 120_000} ms`);
      }
      await new Promise((r) => setTimeout(r, options.intervalMs ?? 500));
    }
  }
}
