// The SDK's own logic with a scripted fetch: which answers are retried (with the same
// idempotency key), how long it waits, webhook signatures against the Standard Webhooks
// published vector, and paging through a list with its cursor.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  RialtoClient, RialtoConnectionError, RialtoError, ListTruncatedError, signWebhook, verifyWebhook,
  WebhookVerificationError,
} from "../dist/index.js";

function scripted(answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, init });
    const next = answers.shift();
    if (next instanceof Error) throw next;
    const { status, body, headers = {} } = next;
    return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
  };
  return { fetch, calls };
}

const error = (code, type = "api_error") => ({ error: { type, code, message: code, request_id: "req_1" } });

function client(fetch, delays = []) {
  return new RialtoClient({
    apiKey: "sk_test_x", baseUrl: "http://gw", fetch, sleep: async (ms) => { delays.push(ms); },
  });
}

test("a write that meets a 500, a reset connection and an in-flight key is retried with one key", async () => {
  const { fetch, calls } = scripted([
    { status: 500, body: error("api_error") },
    new TypeError("fetch failed"),
    { status: 409, body: error("idempotency_key_in_use", "idempotency_error") },
    { status: 200, body: { id: "pi_1", object: "payment_intent" } },
  ]);
  const intent = await client(fetch).createPaymentIntent({ amount: "1.00", currency: "usd" }, { maxRetries: 3 });
  assert.equal(intent.id, "pi_1");
  assert.equal(calls.length, 4);
  const keys = calls.map((c) => c.init.headers["idempotency-key"]);
  assert.match(keys[0], /^sdk_[0-9a-f-]{36}$/);
  assert.deepEqual(new Set(keys).size, 1, "every attempt carries the same idempotency key");
});

test("a 429 waits for its Retry-After and a request error is never retried", async () => {
  const delays = [];
  const { fetch, calls } = scripted([
    { status: 429, body: error("rate_limited", "rate_limit_error"), headers: { "retry-after": "7" } },
    { status: 400, body: { error: { type: "invalid_request_error", code: "invalid_amount", param: "amount", message: "bad", request_id: "req_9" } } },
  ]);
  await assert.rejects(client(fetch, delays).createPaymentIntent({ amount: "1.001", currency: "usd" }), (err) => {
    assert.ok(err instanceof RialtoError);
    assert.equal(err.status, 400);
    assert.equal(err.type, "invalid_request_error");
    assert.equal(err.code, "invalid_amount");
    assert.equal(err.param, "amount");
    assert.equal(err.requestId, "req_9");
    return true;
  });
  assert.equal(calls.length, 2);
  assert.deepEqual(delays, [7000]);
});

test("a reused idempotency key and other 409s are answers, not retried", async () => {
  const { fetch, calls } = scripted([{ status: 409, body: error("idempotency_key_reused", "idempotency_error") }]);
  await assert.rejects(client(fetch).createPaymentIntent({ amount: "1.00", currency: "usd" }, { idempotencyKey: "k" }),
    (err) => err.code === "idempotency_key_reused");
  assert.equal(calls.length, 1);
  assert.equal(calls[0].init.headers["idempotency-key"], "k");
});

test("an unreachable gateway ends in RialtoConnectionError after the retries", async () => {
  const { fetch, calls } = scripted([new TypeError("a"), new TypeError("b"), new TypeError("c")]);
  await assert.rejects(client(fetch).getBalance(), (err) => err instanceof RialtoConnectionError);
  assert.equal(calls.length, 3);
});

test("iterating a list follows starting_after from page to page", async () => {
  const { fetch, calls } = scripted([
    { status: 200, body: { object: "list", data: [{ id: "pi_3" }, { id: "pi_2" }], has_more: true } },
    { status: 200, body: { object: "list", data: [{ id: "pi_1" }], has_more: false } },
  ]);
  const seen = [];
  for await (const intent of client(fetch).listPaymentIntents({ limit: 2, status: "succeeded" })) seen.push(intent.id);
  assert.deepEqual(seen, ["pi_3", "pi_2", "pi_1"]);
  assert.equal(calls[0].url, "http://gw/v1/payment_intents?limit=2&status=succeeded");
  assert.equal(calls[1].url, "http://gw/v1/payment_intents?limit=2&status=succeeded&starting_after=pi_2");
});

test("a report that says has_more without a cursor stops with ListTruncatedError", async () => {
  const { fetch } = scripted([{ status: 200, body: { object: "list", data: [{ id: "r1" }], has_more: true } }]);
  const rows = [];
  await assert.rejects(async () => {
    for await (const row of client(fetch).reportPayments({ from: "0", to: "10" })) rows.push(row);
  }, (err) => err instanceof ListTruncatedError);
  assert.equal(rows.length, 1);
});

// https://github.com/standard-webhooks/standard-webhooks libraries/javascript/src/webhook.test.ts
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

test("webhook signatures reproduce the Standard Webhooks published vector", () => {
  assert.equal(signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
  const headers = { "webhook-id": VECTOR.id, "webhook-timestamp": String(VECTOR.timestamp), "webhook-signature": VECTOR.signature };
  assert.deepEqual(verifyWebhook(VECTOR.secret, VECTOR.body, headers, { now: VECTOR.timestamp }), { test: 2432232314 });
  // Without the prefix too, as the reference library accepts.
  verifyWebhook(VECTOR.secret.slice(6), VECTOR.body, new Headers(headers), { now: VECTOR.timestamp + 299 });
});

test("a webhook is refused when stale, tampered, unsigned by v1 or missing a header; one good signature of several passes", () => {
  const ok = { "webhook-id": VECTOR.id, "webhook-timestamp": String(VECTOR.timestamp), "webhook-signature": VECTOR.signature };
  const refused = (body, headers, now = VECTOR.timestamp) =>
    assert.throws(() => verifyWebhook(VECTOR.secret, body, headers, { now }), WebhookVerificationError);
  refused(VECTOR.body, ok, VECTOR.timestamp + 301);
  refused(VECTOR.body, ok, VECTOR.timestamp - 301);
  refused('{"test": 2432232315}', ok);
  refused(VECTOR.body, { ...ok, "webhook-signature": VECTOR.signature.replace("v1,", "v2,") });
  refused(VECTOR.body, { ...ok, "webhook-signature": "v1," });
  refused(VECTOR.body, { "webhook-id": VECTOR.id, "webhook-signature": VECTOR.signature });
  refused(VECTOR.body, { ...ok, "webhook-timestamp": "1614265330.5" });
  const several = `v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,abc ${VECTOR.signature}`;
  verifyWebhook(VECTOR.secret, Buffer.from(VECTOR.body), { ...ok, "webhook-signature": several }, { now: VECTOR.timestamp });
});
