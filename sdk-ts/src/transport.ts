// The HTTP core every operation goes through: authentication, JSON, an `Idempotency-Key` on
// every write (so a retry can never pay, refund or create twice), retries that are safe by
// construction, and cursor pagination as the API does it (`starting_after` = last id seen).
import { RialtoConnectionError, RialtoError, type ErrorObject } from "./errors.js";

/** Per-call options. */
export interface RequestOptions {
  /** Reuse a key to make a write idempotent across your own retries (e.g. an order id). */
  idempotencyKey?: string;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
  signal?: AbortSignal;
}

export interface TransportOptions {
  apiKey: string;
  baseUrl: string;
  fetch?: typeof fetch;
  /** Retries after the first attempt (default 2). */
  maxRetries?: number;
  /** First backoff in milliseconds (default 500), doubled per retry, capped at 8 s. */
  initialBackoffMs?: number;
  /** How to wait between attempts (tests pass one that records the delays). */
  sleep?: (ms: number) => Promise<void>;
}

// Typing helpers over the generated `paths` operations.
type Json<C> = C extends { content: { "application/json": infer T } } ? T : Record<string, unknown>;
/** The operation's success body (200, 201 or 202). */
export type Ok<Op> = Op extends { responses: infer R }
  ? 200 extends keyof R ? Json<R[200]> : 201 extends keyof R ? Json<R[201]> : 202 extends keyof R ? Json<R[202]> : Record<string, unknown>
  : never;
/** The operation's JSON request body. */
export type Body<Op> = Op extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
/** The operation's query parameters (numbers accepted where the API reads a decimal string). */
export type Query<Op> = Op extends { parameters: { query?: infer Q } }
  ? { [K in keyof NonNullable<Q>]?: NonNullable<Q>[K] | number }
  : never;

type ItemOf<L> = L extends { data: (infer I)[] } ? I : unknown;

/**
 * A list call: await it for one page, or iterate it with `for await` to walk every item
 * across pages.
 */
export type ListPromise<L> = Promise<L> & AsyncIterable<ItemOf<L>>;

/** A report or list without a cursor answered `has_more`: narrow the query instead. */
export class ListTruncatedError extends Error {
  constructor(path: string) {
    super(`${path} has more rows than one answer holds and takes no cursor: narrow the period.`);
    this.name = "ListTruncatedError";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function idempotencyKey(): string {
  return `sdk_${globalThis.crypto.randomUUID()}`;
}

/**
 * Whether an answer may be retried with the same idempotency key: too many requests, the
 * same key still in flight (409 `idempotency_key_in_use`), or a server-side failure. Every
 * other 4xx is an answer about the request itself and would only repeat.
 */
export function retryable(status: number, code: string | undefined): boolean {
  if (status === 429 || status >= 500) return true;
  return status === 409 && code === "idempotency_key_in_use";
}

export class Transport {
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly maxRetries: number;
  private readonly initialBackoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: TransportOptions) {
    this.apiKey = options.apiKey;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.fetchImpl = options.fetch ?? fetch;
    this.maxRetries = options.maxRetries ?? 2;
    this.initialBackoffMs = options.initialBackoffMs ?? 500;
    this.sleep = options.sleep ?? sleep;
  }

  /** One call, retried when safe: every attempt of a write carries the same key. */
  async request<T>(
    method: string,
    path: string,
    parts: { query?: Record<string, unknown>; body?: unknown },
    options: RequestOptions = {},
  ): Promise<T> {
    const url = `${this.baseUrl}${path}${queryString(parts.query)}`;
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}` };
    const write = method !== "GET";
    // POST always carries a JSON object (an empty one when the operation takes no fields).
    const body = method === "POST" ? JSON.stringify(parts.body ?? {}) : undefined;
    if (body !== undefined) headers["content-type"] = "application/json";
    if (write) {
      headers["idempotency-key"] = options.idempotencyKey ?? idempotencyKey();
    }
    const retries = options.maxRetries ?? this.maxRetries;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(url, { method, headers, body, signal: options.signal });
      } catch (err) {
        if (options.signal?.aborted || attempt >= retries) {
          throw new RialtoConnectionError(`${method} ${path}: ${(err as Error).message}`, err);
        }
        await this.sleep(this.backoff(attempt, null));
        continue;
      }
      const text = await response.text();
      if (response.ok) return (text ? JSON.parse(text) : {}) as T;
      const error = errorOf(text, response.statusText);
      const failure = new RialtoError(response.status, error, response.headers.get("retry-after"),
        response.headers.get("request-id") ?? response.headers.get("x-request-id"));
      if (attempt >= retries || !retryable(response.status, error.code)) throw failure;
      await this.sleep(this.backoff(attempt, failure.retryAfterSeconds));
    }
  }

  /** A list call that is also an async iterator over every item of every page. */
  list<L>(
    path: string,
    query: Record<string, unknown>,
    cursor: boolean,
    options: RequestOptions = {},
  ): ListPromise<L> {
    let first: Promise<L> | undefined;
    const page = () => (first ??= this.request<L>("GET", path, { query }, options));
    const iterate = async function* (this: Transport): AsyncGenerator<ItemOf<L>> {
      let current = (await page()) as { data: ItemOf<L>[]; has_more: boolean };
      for (;;) {
        yield* current.data;
        if (!current.has_more) return;
        if (!cursor) throw new ListTruncatedError(path);
        const last = current.data[current.data.length - 1] as { id?: string } | undefined;
        if (!last?.id) return;
        current = await this.request(
          "GET", path, { query: { ...query, ending_before: undefined, starting_after: last.id } }, options);
      }
    }.bind(this);
    const promise = {
      then: (ok?: (v: L) => unknown, fail?: (e: unknown) => unknown) => page().then(ok, fail),
      catch: (fail?: (e: unknown) => unknown) => page().catch(fail),
      finally: (f?: () => void) => page().finally(f),
      [Symbol.toStringTag]: "ListPromise",
      [Symbol.asyncIterator]: iterate,
    };
    return promise as unknown as ListPromise<L>;
  }

  private backoff(attempt: number, retryAfterSeconds: number | null): number {
    if (retryAfterSeconds !== null) return Math.min(retryAfterSeconds * 1000, 60_000);
    const base = Math.min(this.initialBackoffMs * 2 ** attempt, 8_000);
    return base / 2 + Math.random() * (base / 2);
  }
}

function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  return params.size > 0 ? `?${params}` : "";
}

function errorOf(text: string, statusText: string): ErrorObject {
  try {
    const parsed = JSON.parse(text) as { error?: ErrorObject };
    if (parsed.error?.code) return parsed.error;
  } catch {
    // Not JSON: a proxy's page, say. Reported as an api_error below.
  }
  return { type: "api_error", code: "api_error", message: text || statusText } as ErrorObject;
}
