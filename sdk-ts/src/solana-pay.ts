// Solana Pay transfer request URLs (https://docs.solanapay.com/spec), read and written by the
// rules of the gateway's own parser (core/src/payment_uri/, docs/payment-uris.md), with the
// same stable error codes: a parser looser than the wallets would let a URL show one amount
// and pay another. Transaction requests (`solana:https://…`) are refused: the SDK pays
// transfer requests only.
import { isAddress, type Address } from "@solana/kit";

export interface SolanaPayTransferRequest {
  /** The wallet paid: a base58 public key (the owner, not a token account). */
  recipient: Address;
  /** Whole units as written (`"0.01"`), no trailing zeros when built; absent: the wallet asks. */
  amount?: string;
  /** The mint; absent: native SOL. */
  splToken?: Address;
  references: Address[];
  label?: string;
  message?: string;
  memo?: string;
}

/** A URL that breaks a rule; `code` names it (see docs/payment-uris.md). */
export class SolanaPayUrlError extends Error {
  constructor(readonly code: string, message: string) {
    super(`Solana Pay: ${message}`);
    this.name = "SolanaPayUrlError";
  }
}

const fail = (code: string, message: string): never => {
  throw new SolanaPayUrlError(code, message);
};

const SINGLE = ["amount", "spl-token", "label", "message", "memo"] as const;

function decode(raw: string, field: string): string {
  try {
    // As URLSearchParams reads a query: `+` is a space.
    return decodeURIComponent(raw.replace(/\+/g, " "));
  } catch {
    return fail(/%(?![0-9a-fA-F]{2})/.test(raw) ? "percent_encoding_invalid" : "not_utf8", `\`${field}\` is not valid percent-encoding`);
  }
}

function checkAmount(amount: string, decimals: number | undefined): string {
  if (/^\d+(\.\d+)?$/.test(amount)) {
    const places = amount.split(".")[1]?.length ?? 0;
    if (decimals !== undefined && places > decimals) {
      fail("amount_too_many_decimals", `\`amount\` has more than ${decimals} decimals`);
    }
    return amount;
  }
  if (amount.startsWith("-")) fail("amount_negative", "`amount` must not be negative");
  if (/[eE]/.test(amount)) fail("amount_scientific_notation", "`amount` must not use scientific notation");
  if (amount.startsWith(".")) fail("amount_leading_zero_missing", "`amount` needs a leading zero");
  return fail("amount_invalid", "`amount` must be digits with an optional decimal part");
}

/**
 * Reads a Solana Pay transfer request URL strictly. `decimals`: the mint's, when known, refuses
 * an amount finer than it (9 for SOL is always checked when there is no `spl-token`).
 */
export function parseSolanaPayUrl(url: string, options: { decimals?: number } = {}): SolanaPayTransferRequest {
  if (url.length > 2048) fail("length_invalid", "the URL is longer than 2048 characters");
  if (!url.startsWith("solana:")) fail("protocol_invalid", "the URL must start with `solana:`");
  if (url.includes("#")) fail("fragment_not_allowed", "a `#fragment` is not allowed");
  // Raw spaces, non-ASCII and the characters browsers rewrite must have been percent-encoded.
  if (/[^\x21-\x7e]|["<>\\^`{|}]/.test(url)) fail("character_not_encoded", "the URL holds a character that must be percent-encoded");
  const rest = url.slice("solana:".length);
  // The spec's own example starts its query with `&`; base58 never holds `&`.
  const cut = rest.includes("?") ? rest.indexOf("?") : rest.indexOf("&");
  const path = cut < 0 ? rest : rest.slice(0, cut);
  const query = cut < 0 ? "" : rest.slice(cut + 1);
  if (!path) fail("recipient_missing", "the URL names no recipient");
  if (path.includes(":") || path.includes("%")) {
    fail("transaction_request_unsupported", "a transaction request (a link) is not a transfer request");
  }
  if (!isAddress(path)) fail("recipient_invalid", "the recipient is not a base58 public key");
  const seen = new Map<string, string>();
  const references: Address[] = [];
  for (const pair of query.split("&").filter((p) => p !== "")) {
    const eq = pair.indexOf("=");
    const key = decode(eq < 0 ? pair : pair.slice(0, eq), "key");
    const value = decode(eq < 0 ? "" : pair.slice(eq + 1), key);
    if (key === "reference") {
      if (!isAddress(value)) fail("reference_invalid", "a `reference` is not a base58 public key");
      references.push(value as Address);
    } else if ((SINGLE as readonly string[]).includes(key)) {
      if (seen.has(key)) fail("duplicate_field", `\`${key}\` is given twice`);
      seen.set(key, value);
    }
    // Unknown fields are ignored, as the reference does: the spec may add some.
  }
  const text = (key: string) => (seen.get(key) ? seen.get(key) : undefined);
  const splToken = text("spl-token");
  if (splToken !== undefined && !isAddress(splToken)) fail("spl_token_invalid", "`spl-token` is not a base58 public key");
  const raw = text("amount");
  const amount = raw === undefined ? undefined : checkAmount(raw, splToken === undefined ? 9 : options.decimals);
  return {
    recipient: path as Address,
    ...(amount !== undefined ? { amount } : {}),
    ...(splToken !== undefined ? { splToken: splToken as Address } : {}),
    references,
    ...(text("label") !== undefined ? { label: text("label") } : {}),
    ...(text("message") !== undefined ? { message: text("message") } : {}),
    ...(text("memo") !== undefined ? { memo: text("memo") } : {}),
  };
}

/** An amount as the reference encoder writes it: no trailing zeros, no trailing point. */
function plainAmount(amount: string): string {
  checkAmount(amount, undefined);
  return amount.includes(".") ? amount.replace(/0+$/, "").replace(/\.$/, "") : amount;
}

/** Writes a transfer request URL in the reference encoder's field order; checks what it writes. */
export function buildSolanaPayUrl(request: SolanaPayTransferRequest): string {
  if (!isAddress(request.recipient)) fail("recipient_invalid", "the recipient is not a base58 public key");
  const fields: string[] = [];
  if (request.amount !== undefined) fields.push(`amount=${plainAmount(request.amount)}`);
  if (request.splToken !== undefined) {
    if (!isAddress(request.splToken)) fail("spl_token_invalid", "`spl-token` is not a base58 public key");
    fields.push(`spl-token=${request.splToken}`);
  }
  for (const reference of request.references) {
    if (!isAddress(reference)) fail("reference_invalid", "a `reference` is not a base58 public key");
    fields.push(`reference=${reference}`);
  }
  for (const key of ["label", "message", "memo"] as const) {
    const value = request[key];
    if (value) fields.push(`${key}=${encodeURIComponent(value)}`);
  }
  const url = `solana:${request.recipient}${fields.length ? `?${fields.join("&")}` : ""}`;
  if (url.length > 2048) fail("length_invalid", "the URL would be longer than 2048 characters");
  return url;
}
