// Verifying Rialto's webhooks on a merchant's server. Rialto signs with Standard Webhooks
// (https://www.standardwebhooks.com): `webhook-signature: v1,<base64 HMAC-SHA256>` over
// `<webhook-id>.<webhook-timestamp>.<raw body>`, keyed with the base64 part of the endpoint's
// `whsec_` secret. Verify the raw bytes as received: a re-serialized JSON body will not match.
import { createHmac, timingSafeEqual } from "node:crypto";

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

export interface VerifyOptions {
  /** Seconds a delivery may be early or late (default 300), against replays of old ones. */
  toleranceSeconds?: number;
  /** Unix seconds "now", for tests. */
  now?: number;
}

/** Header lookup over a Fetch `Headers`, Node's `IncomingHttpHeaders` or a plain object. */
type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value[0] : value;
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  const key = Buffer.from(encoded, "base64");
  if (key.length === 0) throw new WebhookVerificationError("the webhook secret is empty or not base64");
  return key;
}

/** The `webhook-signature` value for one message (what Rialto sends; useful in tests). */
export function signWebhook(secret: string, id: string, timestamp: number, body: string | Uint8Array): string {
  const mac = createHmac("sha256", secretKey(secret));
  mac.update(`${id}.${timestamp}.`);
  mac.update(body);
  return `v1,${mac.digest("base64")}`;
}

/**
 * Checks a delivery and returns its parsed event. Throws {@link WebhookVerificationError} when
 * a header is missing, the timestamp is outside the tolerance, or no `v1` signature of the
 * header list matches (several are sent while a secret is being rotated).
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  body: string | Uint8Array,
  headers: HeaderSource,
  options: VerifyOptions = {},
): T {
  const id = header(headers, "webhook-id");
  const timestampText = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestampText || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature");
  }
  const timestamp = Number(timestampText);
  if (!/^\d+$/.test(timestampText) || !Number.isSafeInteger(timestamp)) {
    throw new WebhookVerificationError("webhook-timestamp is not unix seconds");
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError("webhook-timestamp is outside the tolerance window");
  }
  const expected = Buffer.from(signWebhook(secret, id, timestamp, body).slice(3), "base64");
  const matches = signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError("no signature matches");
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  return JSON.parse(text) as T;
}
