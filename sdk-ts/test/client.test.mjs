// End-to-end: the SDK against a real `rialto serve` on SQLite (binary from RIALTO_BIN, built by
// tools/test.sh), with a merchant created through the CLI.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RialtoClient, RialtoError } from "../dist/index.js";

const bin = process.env.RIALTO_BIN ?? new URL("../../target/debug/rialto", import.meta.url).pathname;
const ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
let server, dir, base, keys;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "rialto-sdk-"));
  const db = `sqlite://${join(dir, "r.db")}`;
  const env = { PATH: process.env.PATH };
  keys = JSON.parse(
    execFileSync(bin, ["--config", "/nonexistent", "merchants", "create", "--name", "SDK shop",
      "--settlement-asset", "usdc", "--settlement-chain", "base", "--settlement-address", ADDRESS,
      "--database-url", db, "--json"], { env }),
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["--config", "/nonexistent", "serve", "--listen", `127.0.0.1:${port}`,
    "--database-url", db], { env, stdio: "ignore" });
  // Up to 30 s: startup loads the sanctions lists, slower on a loaded machine.
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("gateway did not start");
});

after(() => {
  server?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

test("a merchant creates an intent and a wallet reads it with the client secret", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const intent = await merchant.createPaymentIntent(
    { amount: "25.00", currency: "usd", metadata: { order: "1" } },
    { idempotencyKey: "sdk-order-1" },
  );
  assert.equal(intent.object, "payment_intent");
  assert.equal(intent.amount, "25.00");
  assert.equal(intent.settlement.chain_id, "eip155:8453");
  const wallet = new RialtoClient({ apiKey: keys.publishable_key, baseUrl: base });
  const seen = await wallet.retrievePaymentIntent(intent.id, { client_secret: intent.client_secret });
  assert.equal(seen.id, intent.id);
  assert.equal(seen.metadata, undefined);
  const replay = await merchant.createPaymentIntent(
    { amount: "25.00", currency: "usd", metadata: { order: "1" } },
    { idempotencyKey: "sdk-order-1" },
  );
  assert.deepEqual(replay, intent);
});

test("gateway errors arrive as RialtoError with code, param and request id", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  await assert.rejects(
    merchant.createPaymentIntent({ amount: "1.001", currency: "usd" }),
    (err) => {
      assert.ok(err instanceof RialtoError);
      assert.equal(err.status, 400);
      assert.equal(err.code, "invalid_amount");
      assert.equal(err.param, "amount");
      assert.match(err.requestId, /^req_/);
      return true;
    },
  );
  const wallet = new RialtoClient({ apiKey: keys.publishable_key, baseUrl: base });
  await assert.rejects(wallet.listPaymentIntents(), (err) => err.code === "secret_key_required");
});

test("lists page through intents and cancel moves one to canceled", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const created = [];
  for (let i = 0; i < 3; i++) {
    created.push(await merchant.createPaymentIntent({ amount: `${i + 1}.00`, currency: "eur" }));
  }
  const page = await merchant.listPaymentIntents({ limit: 2 });
  assert.equal(page.data.length, 2);
  assert.equal(page.has_more, true);
  const canceled = await merchant.cancelPaymentIntent(created[0].id, {
    cancellation_reason: "abandoned",
  });
  assert.equal(canceled.status, "canceled");
  // Iterating walks every page with the cursor: all three, newest first, two per request.
  const seen = [];
  for await (const intent of merchant.listPaymentIntents({ limit: 2 })) seen.push(intent.id);
  assert.deepEqual(seen.slice(0, 3), created.map((i) => i.id).reverse());
  const filtered = await merchant.listPaymentIntents({ status: "canceled" });
  assert.deepEqual(filtered.data.map((i) => i.id), [created[0].id]);
});

test("a merchant screens addresses and a sanctioned payer's funds are frozen", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const tornado = "0xd90e2f925da726b50c4ed8d0fb90ad053324f31b";
  const blocked = await merchant.createComplianceScreening({ address: tornado, chain: "ethereum" });
  assert.equal(blocked.decision, "block");
  assert.equal(blocked.reasons, undefined, "merchants never see which list matched");
  assert.equal((await merchant.createComplianceScreening({ address: ADDRESS, chain: "base" })).decision, "clear");
  const intent = await merchant.createPaymentIntent({ amount: "5.00", currency: "usd" });
  const funded = await merchant.fundPaymentIntentTestHelper(intent.id, {
    chain: "base",
    payer_address: tornado,
  });
  assert.equal(funded.status, "blocked");
  await assert.rejects(
    merchant.createPaymentIntent({
      amount: "5.00",
      currency: "usd",
      settlement: { asset: "usdc", chain: "base", address: tornado },
    }),
    (e) => e instanceof RialtoError && e.code === "settlement_address_refused",
  );
});
