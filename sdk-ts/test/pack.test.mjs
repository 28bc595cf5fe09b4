// What a wallet developer and a merchant do with the published package: `npm pack`, install
// the tarball into an empty project, pay a devnet intent gaslessly in a dozen lines (pay.mjs
// below), and verify the webhook the gateway sends about it with the package's verifier.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { RialtoClient } from "../dist/index.js";
import { startDevnetGateway, freePort } from "./harness.mjs";

const MERCHANT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
let gw, project;

const PAY = `import { RialtoClient } from "@rialto/sdk";
import { payWithAuthorization } from "@rialto/sdk/wallet";
import { createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";

const [baseUrl, apiKey, intentId, clientSecret, rpc, payerKey] = process.argv.slice(2);
const rialto = new RialtoClient({ apiKey, baseUrl });
const wallet = createWalletClient({ account: privateKeyToAccount(payerKey), transport: http(rpc) });
await payWithAuthorization({ rialto, wallet, clientSecret }, intentId);
const intent = await rialto.waitForIntent(intentId, { clientSecret });
console.log(intent.status);
`;

// The merchant's server: raw body in, verified event out, 400 on a bad signature.
const MERCHANT_SERVER = `import { createServer } from "node:http";
import { verifyWebhook } from "@rialto/sdk";

export function listen(port, secret, onEvent) {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        onEvent(verifyWebhook(secret(), Buffer.concat(chunks), req.headers));
        res.writeHead(204).end();
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}
`;

before(async () => {
  gw = await startDevnetGateway({ name: "Pack shop", settlementAddress: MERCHANT,
    env: { RIALTO__WEBHOOKS__ALLOW_PRIVATE_TARGETS: "true" } });
  project = mkdtempSync(join(tmpdir(), "rialto-sdk-pack-"));
  const sdk = new URL("..", import.meta.url).pathname;
  const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", project], { cwd: sdk })
    .toString().trim().split("\n").pop();
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "shop", private: true, type: "module" }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(project, tarball), "viem@2.58.8"],
    { cwd: project, stdio: ["ignore", "ignore", "inherit"] });
  writeFileSync(join(project, "pay.mjs"), PAY);
  writeFileSync(join(project, "merchant.mjs"), MERCHANT_SERVER);
});

after(() => {
  gw?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

test("the packed SDK pays a devnet intent from an empty project and the merchant verifies its webhook", async () => {
  const { listen } = await import(pathToFileURL(join(project, "merchant.mjs")).href);
  const events = [];
  let secret = "";
  const port = await freePort();
  const hooks = await listen(port, () => secret, (event) => events.push(event));
  try {
    const merchant = new RialtoClient({ apiKey: gw.keys.secret_key, baseUrl: gw.base });
    const endpoint = await merchant.createWebhookEndpoint({ url: `http://127.0.0.1:${port}/hooks`, enabled_events: ["*"] });
    secret = endpoint.secret;
    assert.match(secret, /^whsec_/);
    const intent = await merchant.createPaymentIntent({ amount: "3.50", currency: "usd" });
    const chain = gw.manifest.chains.find((c) => c.alias === "devnet-base");
    const out = execFileSync("node", ["pay.mjs", gw.base, gw.keys.publishable_key, intent.id, intent.client_secret,
      chain.rpc_url, chain.payers[0].private_key], { cwd: project }).toString().trim();
    assert.equal(out, "succeeded");
    // The delivery worker sends it shortly after; the merchant server only keeps verified ones.
    let delivered;
    for (let i = 0; i < 600 && !delivered; i++) {
      delivered = events.find((e) => e.type === "payment_intent.succeeded" && e.data?.object?.id === intent.id);
      if (!delivered) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(delivered, `no verified payment_intent.succeeded webhook; got ${events.map((e) => e.type)}`);
    assert.equal(delivered.data.object.amount, "3.50");
  } finally {
    hooks.close();
  }
});
