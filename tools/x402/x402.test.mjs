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
import { createPublicClient, http, parseAbi } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { RialtoClient } from "../../sdk-ts/dist/index.js";
import { startDevnetGateway, freePort } from "../../sdk-ts/test/harness.mjs";

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
