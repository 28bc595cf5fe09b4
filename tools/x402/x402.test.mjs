// Rialto as an x402 facilitator, driven by the real x402 packages from npm on the devnet: a
// resource server built with @x402/express whose facilitator is the gateway
// (`/v1/x402`, authenticated with the merchant's secret key), and a client paying with
// @x402/fetch and a viem account. The paid request gets 200 and a PAYMENT-RESPONSE; the
// payment is a payment intent of the merchant that the chain worker takes to `succeeded`;
// the same payment header again is refused; an authorization below the price gets 402.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import express from "express";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { HTTPFacilitatorClient } from "@x402/core/server";
import { decodePaymentResponseHeader, encodePaymentSignatureHeader } from "@x402/core/http";
import { ExactEvmScheme as ExactEvmServer } from "@x402/evm/exact/server";
import { ExactEvmScheme as ExactEvmClient } from "@x402/evm/exact/client";
import { wrapFetchWithPaymentFromConfig } from "@x402/fetch";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { createPublicClient, createWalletClient, erc20Abi as erc20, http, parseAbi } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { RialtoClient } from "../../sdk-ts/dist/index.js";
import { bin, startDevnetGateway, freePort, sleep } from "../../sdk-ts/test/harness.mjs";

const MERCHANT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const PRICE = "10000"; // 0.01 USDC
let gw, server, resource, network, usdc, domain, account, rialto;

before(async () => {
  gw = await startDevnetGateway({ name: "x402 shop", settlementAddress: MERCHANT });
  const chain = gw.manifest.chains.find((c) => c.alias === "devnet-base");
  usdc = chain.tokens.USDC.address;
  const publicClient = createPublicClient({ transport: http(chain.rpc_url) });
  network = `eip155:${await publicClient.getChainId()}`;
  const abi = parseAbi(["function name() view returns (string)", "function version() view returns (string)"]);
  domain = {
    name: await publicClient.readContract({ address: usdc, abi, functionName: "name" }),
    version: await publicClient.readContract({ address: usdc, abi, functionName: "version" }),
  };
  account = privateKeyToAccount(chain.payers[2].private_key);
  rialto = new RialtoClient({ apiKey: gw.keys.secret_key, baseUrl: gw.base });

  const auth = { Authorization: `Bearer ${gw.keys.secret_key}` };
  const facilitator = new HTTPFacilitatorClient({
    url: `${gw.base}/v1/x402`,
    createAuthHeaders: async () => ({ verify: auth, settle: auth, supported: auth }),
  });
  const resourceServer = new x402ResourceServer(facilitator).register(network, new ExactEvmServer());
  const app = express();
  app.use(paymentMiddleware({
    "GET /forecast": {
      accepts: {
        scheme: "exact", network, payTo: MERCHANT, maxTimeoutSeconds: 120,
        price: { amount: PRICE, asset: usdc, extra: domain },
      },
      description: "Tomorrow's forecast",
    },
  }, resourceServer));
  app.get("/forecast", (_req, res) => res.json({ forecast: "sunny" }));
  const port = await freePort();
  resource = `http://127.0.0.1:${port}`;
  server = await new Promise((resolve) => { const s = app.listen(port, "127.0.0.1", () => resolve(s)); });
});

after(() => {
  server?.close();
  gw?.stop();
});

/** An operator key of the test's gateway (reconciliation runs are operators'), made by the CLI. */
function operatorKey() {
  const db = `sqlite://${join(gw.dir, "r.db")}`;
  const out = execFileSync(bin, ["--config", "/nonexistent", "operators", "create", "--name", "olga", "--database-url", db, "--json"], {
    env: { PATH: process.env.PATH },
  });
  return JSON.parse(out).operator_key;
}

async function waitRefund(id) {
  for (let i = 0; i < 600; i++) {
    const refund = await rialto.request("GET", `/v1/refunds/${id}`);
    if (refund.status === "succeeded" || refund.status === "failed") return refund;
    await sleep(100);
  }
  throw new Error(`refund ${id} did not finish`);
}

test("the facilitator lists exact on the devnet chain with the relaying wallet as signer", async () => {
  const res = await fetch(`${gw.base}/v1/x402/supported`, { headers: { authorization: `Bearer ${gw.keys.secret_key}` } });
  assert.equal(res.status, 200);
  const supported = await res.json();
  assert.ok(supported.kinds.some((k) => k.x402Version === 2 && k.scheme === "exact" && k.network === network));
  assert.match(supported.signers["eip155:*"][0], /^0x[0-9a-fA-F]{40}$/);
  const anonymous = await fetch(`${gw.base}/v1/x402/verify`, { method: "POST", body: "{}" });
  assert.equal(anonymous.status, 401, "only a merchant's key may use the facilitator");
});

test("a paid request gets 200 and a PAYMENT-RESPONSE, the payment is a succeeded intent, and its header cannot be replayed", async () => {
  const sent = [];
  const recording = async (input, init) => {
    const request = new Request(input, init);
    sent.push(request.headers.get("payment-signature"));
    return fetch(request);
  };
  const pay = wrapFetchWithPaymentFromConfig(recording, {
    schemes: [{ network, client: new ExactEvmClient(account) }],
    // The devnet USDC is not one of the client's default assets: allow it, capped at the price.
    spendControls: { allowedAssets: [{ network, asset: usdc, maxAmountPerPayment: PRICE }] },
  });
  const res = await pay(`${resource}/forecast`);
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { forecast: "sunny" });
  const receipt = decodePaymentResponseHeader(res.headers.get("payment-response"));
  assert.equal(receipt.success, true);
  assert.equal(receipt.network, network);
  assert.equal(receipt.payer, account.address);
  assert.match(receipt.transaction, /^0x[0-9a-f]{64}$/);

  // Recorded as the merchant's payment intent, followed to success by the chain worker.
  const page = await rialto.listPaymentIntents({ limit: 10 });
  const intent = page.data.find((i) => i.metadata?.x402_payer === account.address);
  assert.ok(intent, "no payment intent for the x402 payment");
  assert.match(intent.amount, /^0\.010*$/, "the price, 10000 base units of USDC");
  assert.equal(intent.metadata.x402_resource, `${resource}/forecast`);
  assert.equal((await rialto.waitForIntent(intent.id)).status, "succeeded");

  // The same PAYMENT-SIGNATURE again: refused, nothing settled twice.
  const header = sent.find((h) => h);
  const replay = await fetch(`${resource}/forecast`, { headers: { "PAYMENT-SIGNATURE": header } });
  assert.equal(replay.status, 402);
  const after = await rialto.listPaymentIntents({ limit: 10 });
  assert.equal(after.data.filter((i) => i.metadata?.x402_payer === account.address).length, 1);
});

test("an authorization for less than the price gets 402 and moves nothing", async () => {
  const now = Math.floor(Date.now() / 1000);
  const accepted = { scheme: "exact", network, amount: PRICE, asset: usdc, payTo: MERCHANT, maxTimeoutSeconds: 120, extra: domain };
  const authorization = {
    from: account.address, to: MERCHANT, value: "9999", validAfter: "0", validBefore: String(now + 120),
    nonce: `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}`,
  };
  const signature = await account.signTypedData({
    domain: { ...domain, chainId: Number(network.split(":")[1]), verifyingContract: usdc },
    types: { TransferWithAuthorization: [
      { name: "from", type: "address" }, { name: "to", type: "address" }, { name: "value", type: "uint256" },
      { name: "validAfter", type: "uint256" }, { name: "validBefore", type: "uint256" }, { name: "nonce", type: "bytes32" },
    ] },
    primaryType: "TransferWithAuthorization",
    message: { ...authorization, value: 9999n, validAfter: 0n, validBefore: BigInt(now + 120) },
  });
  const header = encodePaymentSignatureHeader({
    x402Version: 2, resource: { url: `${resource}/forecast` }, accepted, payload: { signature, authorization },
  });
  const before = (await rialto.listPaymentIntents({ limit: 100 })).data.length;
  const res = await fetch(`${resource}/forecast`, { headers: { "PAYMENT-SIGNATURE": header } });
  assert.equal(res.status, 402);
  // The facilitator's own verdict, asked directly.
  const verdict = await (await fetch(`${gw.base}/v1/x402/verify`, {
    method: "POST",
    headers: { authorization: `Bearer ${gw.keys.secret_key}`, "content-type": "application/json" },
    body: JSON.stringify({ x402Version: 2, paymentPayload: { x402Version: 2, accepted, payload: { signature, authorization } }, paymentRequirements: accepted }),
  })).json();
  assert.deepEqual(verdict, { isValid: false, invalidReason: "invalid_exact_evm_payload_authorization_value" });
  assert.equal((await rialto.listPaymentIntents({ limit: 100 })).data.length, before, "no intent for an underpayment");
});

test("a settled x402 payment is refunded in part and then in whole to the payer's wallet, and reconciliation finds nothing amiss", async () => {
  const chain = gw.manifest.chains.find((c) => c.alias === "devnet-base");
  const publicClient = createPublicClient({ transport: http(chain.rpc_url) });
  const usdcOf = (owner) => publicClient.readContract({ address: usdc, abi: erc20, functionName: "balanceOf", args: [owner] });
  // Refunds are paid from the balance Rialto holds for the merchant: batched settlement, and
  // one deposit payment held. The x402 payment itself goes straight to the merchant's address.
  await rialto.updateSettings({ settlement_schedule: "batched", payout_threshold: "1000000", payout_addresses: { "devnet-base": MERCHANT } });
  const held = await rialto.createPaymentIntent({ amount: "1.00", currency: "usd" });
  const deposit = await rialto.createDepositAddress(held.id);
  const depositor = createWalletClient({ account: privateKeyToAccount(chain.payers[0].private_key), transport: http(chain.rpc_url) });
  await publicClient.waitForTransactionReceipt({
    hash: await depositor.writeContract({ chain: null, address: usdc, abi: erc20, functionName: "transfer", args: [deposit.address, 1_000_000n] }),
  });
  assert.equal((await rialto.waitForIntent(held.id)).status, "succeeded");

  const pay = wrapFetchWithPaymentFromConfig(fetch, {
    schemes: [{ network, client: new ExactEvmClient(account) }],
    spendControls: { allowedAssets: [{ network, asset: usdc, maxAmountPerPayment: PRICE }] },
  });
  const x402Intents = async () =>
    (await rialto.listPaymentIntents({ limit: 100 })).data.filter((i) => i.metadata?.x402_payer === account.address).map((i) => i.id);
  const earlier = await x402Intents();
  const res = await pay(`${resource}/forecast`);
  assert.equal(res.status, 200, await res.clone().text());
  const receipt = decodePaymentResponseHeader(res.headers.get("payment-response"));
  const [intentId, ...more] = (await x402Intents()).filter((id) => !earlier.includes(id));
  assert.ok(intentId && more.length === 0, "one intent for the x402 payment");
  assert.equal((await rialto.waitForIntent(intentId)).status, "succeeded");
  const before = await usdcOf(account.address);

  const part = await rialto.createRefund({ payment_intent: intentId, amount: "0.004" });
  assert.equal(part.destination, account.address, "back to the wallet that paid");
  const rest = await rialto.createRefund({ payment_intent: intentId });
  assert.equal(Number(rest.amount), 0.006, "the rest, exactly");
  for (const refund of [part, rest]) {
    const done = await waitRefund(refund.id);
    assert.equal(done.status, "succeeded");
    assert.match(done.transaction_hash, /^0x[0-9a-f]{64}$/);
    assert.notEqual(done.transaction_hash, receipt.transaction);
  }
  assert.equal(await usdcOf(account.address) - before, 10_000n, "the payer got the whole price back on chain");
  const refunded = await rialto.retrievePaymentIntent(intentId);
  assert.equal(Number(refunded.amount_refunded), 0.01);
  await assert.rejects(rialto.createRefund({ payment_intent: intentId, amount: "0.000001" }),
    (err) => err.code === "refund_exceeds_payment");

  // The ledger balances and reconciliation ties every movement to the chain.
  const balance = await rialto.getBalance();
  const sum = (rows = []) => rows.reduce((total, row) => total + Math.round(Number(row.amount) * 1e6), 0);
  assert.equal(sum(balance.available), 990_000, `the held deposit less both refunds: ${JSON.stringify(balance)}`);
  assert.equal(sum(balance.reserved), 0, `nothing still on its way: ${JSON.stringify(balance)}`);
  const run = await (await fetch(`${gw.base}/v1/reconciliation_runs`, {
    method: "POST",
    headers: { authorization: `Bearer ${operatorKey()}`, "content-type": "application/json" },
    body: "{}",
  })).json();
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  assert.deepEqual(run.exceptions, [], JSON.stringify(run.exceptions));
});

/** A signed `exact` payment payload of `value` base units to the merchant, with `nonce`. */
async function signedPayment(value, nonce) {
  const now = Math.floor(Date.now() / 1000);
  const accepted = { scheme: "exact", network, amount: PRICE, asset: usdc, payTo: MERCHANT, maxTimeoutSeconds: 120, extra: domain };
  const authorization = { from: account.address, to: MERCHANT, value: String(value), validAfter: "0", validBefore: String(now + 120), nonce };
  const signature = await account.signTypedData({
    domain: { ...domain, chainId: Number(network.split(":")[1]), verifyingContract: usdc },
    types: { TransferWithAuthorization: [
      { name: "from", type: "address" }, { name: "to", type: "address" }, { name: "value", type: "uint256" },
      { name: "validAfter", type: "uint256" }, { name: "validBefore", type: "uint256" }, { name: "nonce", type: "bytes32" },
    ] },
    primaryType: "TransferWithAuthorization",
    message: { ...authorization, value: BigInt(value), validAfter: 0n, validBefore: BigInt(now + 120) },
  });
  return {
    x402Version: 2,
    paymentPayload: { x402Version: 2, resource: { url: `${resource}/forecast` }, accepted, payload: { signature, authorization } },
    paymentRequirements: accepted,
  };
}

const facilitator = async (path, body) => {
  const res = await fetch(`${gw.base}/v1/x402/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${gw.keys.secret_key}`, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return res.json();
};

test("a /settle retried with the very same payload gets the first settlement back, and a different payload reusing the nonce is refused", async () => {
  const nonce = `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}`;
  const request = await signedPayment(PRICE, nonce);
  const first = await facilitator("settle", request);
  assert.equal(first.success, true, JSON.stringify(first));
  // A retry after a lost answer (the x402 clients send no Idempotency-Key), even re-serialised
  // with its keys in another order: the same transaction and intent, nothing relayed twice.
  const reordered = JSON.stringify({ paymentRequirements: request.paymentRequirements, paymentPayload: request.paymentPayload, x402Version: 2 });
  for (const again of [request, reordered]) {
    assert.deepEqual(await facilitator("settle", again), first);
  }
  assert.equal((await rialto.waitForIntent(first.extra.payment_intent)).status, "succeeded");
  // Still the first answer once the relay is mined and the nonce spent on chain.
  assert.deepEqual(await facilitator("settle", request), first);

  // The same nonce in another payload (a larger authorization): refused, nothing settled.
  const other = await signedPayment(Number(PRICE) + 1, nonce);
  const refused = await facilitator("settle", other);
  assert.equal(refused.success, false);
  assert.equal(refused.errorReason, "invalid_exact_evm_payload_authorization_nonce_used");
  assert.equal(refused.transaction, "");
  // A header, once settled, is spent for /verify, whatever its payload.
  assert.equal((await facilitator("verify", request)).isValid, false);
  const intents = (await rialto.listPaymentIntents({ limit: 100 })).data.filter((i) => i.id === first.extra.payment_intent);
  assert.equal(intents.length, 1);
});
