// Errors the SDK throws: what the gateway answered (RialtoError, with its stable `code`), or
// that it could not be reached at all (RialtoConnectionError).
import type { components } from "./schema.js";

export type ErrorObject = components["schemas"]["ErrorObject"];

/** An error answered by the gateway, with its stable `code` and the offending `param`. */
export class RialtoError extends Error {
  readonly status: number;
  readonly type: ErrorObject["type"];
  readonly code: string;
  readonly param: string | null;
  readonly requestId: string | null;
  readonly retryAfterSeconds: number | null;

  constructor(status: number, error: ErrorObject, retryAfter: string | null, requestId?: string | null) {
    super(error.message);
    this.name = "RialtoError";
    this.status = status;
    this.type = error.type;
    this.code = error.code;
    this.param = error.param ?? null;
    this.requestId = error.request_id ?? requestId ?? null;
    this.retryAfterSeconds = parseRetryAfter(retryAfter);
  }
}

/** The request never got an answer (connection refused, reset, DNS...), after every retry. */
export class RialtoConnectionError extends Error {
  readonly cause: unknown;
  constructor(message: string, cause: unknown) {
    super(message);
    this.name = "RialtoConnectionError";
    this.cause = cause;
  }
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null): number | null {
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - Date.now()) / 1000);
}
