// The wallet-side SDK calls against a real `rialto serve` in sandbox mode on the local devnet
// (`rialto devnet`, real anvil chains): deposit addresses with their EIP-681 URI, the EIP-3009
// typed data to sign, transaction reports, and the viem helpers paying for real, with errors
// as RialtoError.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicClient, createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { RialtoClient, RialtoError, fundingMessage, paymentMessage } from "../dist/index.js";
import { payWithTransfer } from "../dist/wallet.js";
import { toolchainEnv } from "./harness.mjs";

const bin = process.env.RIALTO_BIN ?? new URL("../../target/debug/rialto", import.meta.url).pathname;
const MERCHANT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
let devnet, server, dir, base, keys, manifest;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "rialto-sdk-wallet-"));
  const manifestPath = join(dir, "devnet.json");
  const env = { PATH: process.env.PATH, ...toolchainEnv() };
  devnet = spawn(bin, ["--config", "/nonexistent", "devnet", "--manifest", manifestPath], { env, stdio: "ignore" });
  for (let i = 0; i < 600 && !existsSync(manifestPath); i++) await sleep(50);
  assert.ok(existsSync(manifestPath), "devnet did not write its manifest");
  manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const db = `sqlite://${join(dir, "r.db")}`;
  keys = JSON.parse(
    execFileSync(bin, ["--config", "/nonexistent", "merchants", "create", "--name", "Wallet shop",
      "--settlement-asset", "usdc", "--settlement-chain", "devnet-base", "--settlement-address", MERCHANT,
      "--database-url", db, "--json"], { env }),
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["--config", "/nonexistent", "serve", "--listen", `127.0.0.1:${port}`,
    "--database-url", db, "--devnet-manifest", manifestPath], { env, stdio: "ignore" });
  // Up to 30 s: startup loads the sanctions lists, slower on a loaded machine.
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {}
    await sleep(50);
  }
  throw new Error("gateway did not start");
});

after(() => {
  server?.kill("SIGTERM");
  devnet?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

test("a wallet gets the intent's deposit address and the EIP-3009 typed data to sign", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const intent = await merchant.createPaymentIntent({ amount: "25.00", currency: "usd" });
  const wallet = new RialtoClient({ apiKey: keys.publishable_key, baseUrl: base });
  const opts = { client_secret: intent.client_secret };
  const deposit = await wallet.createDepositAddress(intent.id, opts);
  assert.equal(deposit.object, "deposit_address");
  assert.equal(deposit.amount_units, "25000000");
  const base_ = manifest.chains.find((c) => c.alias === "devnet-base");
  const usdc = base_.tokens.USDC.address;
  assert.equal(deposit.uri, `ethereum:${usdc}@31338/transfer?address=${deposit.address}&uint256=25000000`);
  assert.deepEqual(await wallet.createDepositAddress(intent.id, opts), deposit, "one address per intent");

  const typed = await wallet.getAuthorizationRequest(intent.id, opts);
  assert.equal(typed.primary_type, "TransferWithAuthorization");
  assert.equal(typed.domain.chainId, 31338);
  assert.equal(typed.domain.verifyingContract, usdc);
  assert.equal(typed.message.to, MERCHANT);
  assert.equal(typed.message.value, "25000000");
  assert.match(typed.message.nonce, /^0x[0-9a-f]{64}$/);
  assert.deepEqual(typed.types.TransferWithAuthorization.map((f) => f.name),
    ["from", "to", "value", "validAfter", "validBefore", "nonce"]);

  // Without the client secret the intent does not exist for a publishable key.
  await assert.rejects(wallet.createDepositAddress(intent.id, {}), (err) => {
    assert.ok(err instanceof RialtoError);
    assert.equal(err.code, "resource_missing");
    return true;
  });
});

test("a reported transaction the chain does not know is refused with a clear code", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const intent = await merchant.createPaymentIntent({ amount: "5.00", currency: "usd" });
  const unknown = `0x${"11".repeat(32)}`;
  // Without the paying wallet's proof nothing is even looked up.
  await assert.rejects(merchant.submitTransaction(intent.id, unknown), (err) => {
    assert.ok(err instanceof RialtoError);
    assert.equal(err.status, 400);
    assert.equal(err.code, "payer_proof_required");
    assert.equal(err.param, "signature");
    return true;
  });
  // The SDK asks the wallet to sign the payment text, and sends what it signed.
  const signed = [];
  const sign = async (message) => {
    signed.push(message);
    return `0x${"00".repeat(65)}`;
  };
  await assert.rejects(merchant.submitTransaction(intent.id, unknown, { sign }), (err) => {
    assert.ok(err instanceof RialtoError);
    assert.equal(err.status, 400);
    assert.equal(err.code, "transaction_not_found");
    return true;
  });
  assert.deepEqual(signed, [`Rialto: fund ${intent.id} with ${unknown}`]);
  assert.equal(paymentMessage(intent.id, "0xABCD"), `Rialto: fund ${intent.id} with 0xabcd`);
  // An authorization that would outlive the intent could move money after it expired.
  await assert.rejects(
    merchant.submitAuthorization(intent.id, {
      from: MERCHANT, value: "5000000", valid_after: "0", valid_before: "99999999999",
      nonce: `0x${"00".repeat(32)}`, signature: `0x${"11".repeat(65)}`,
    }),
    (err) => {
      assert.equal(err.code, "parameter_invalid");
      assert.equal(err.param, "valid_before");
      return true;
    },
  );
  await assert.rejects(
    merchant.submitAuthorization(intent.id, {
      from: MERCHANT, value: "5000000", valid_after: "0", valid_before: String(intent.expires_at),
      nonce: `0x${"00".repeat(32)}`, signature: "0x1234",
    }),
    (err) => {
      assert.equal(err.code, "authorization_invalid_signature");
      return true;
    },
  );
});

test("a wallet quotes a route, accepts it, follows it and is told to sign its funding", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const intent = await merchant.createPaymentIntent({ amount: "20.00", currency: "usd" });
  const wallet = new RialtoClient({ apiKey: keys.publishable_key, baseUrl: base });
  const clientSecret = intent.client_secret;
  // USDT on the other chain: swapped on its Uniswap V2 pool and bridged to the merchant's chain.
  // Right after the devnet deploys, its blocks can be a few seconds ahead of the wall clock,
  // and the L2 sequencer feed reads as "just came up": quotes answer oracle_unavailable
  // (503) until it has been up. A wallet retries, as here.
  let quotes;
  for (let attempt = 0; ; attempt++) {
    try {
      quotes = await wallet.createQuotes(intent.id, {
        source: { type: "wallet", chain: "devnet-ethereum", asset: "usdt" },
        client_secret: clientSecret,
      });
      break;
    } catch (err) {
      if (!(err instanceof RialtoError) || err.code !== "oracle_unavailable" || attempt >= 120) throw err;
      await sleep(500);
    }
  }
  assert.equal(quotes.object, "list");
  const best = quotes.data[0];
  assert.deepEqual(best.legs.map((l) => l.kind), ["dex_swap", "bridge"]);
  assert.ok(Number(best.merchant_amount) >= 20);
  const payer = manifest.chains.find((c) => c.alias === "devnet-ethereum").payers[0].address;
  const accepted = await wallet.acceptQuote(best.id, { payer_address: payer, client_secret: clientSecret });
  assert.equal(accepted.status, "accepted");
  const exec = accepted.execution;
  assert.equal(exec.status, "awaiting_funds");
  assert.equal(exec.pay_to.asset, "USDT");
  assert.equal(exec.pay_to.amount, best.payer_amount);
  const again = await wallet.retrieveRouteExecution(exec.id, { client_secret: clientSecret });
  assert.equal(again.id, exec.id);
  // A report not signed by the payer's key is refused with a stable code.
  await assert.rejects(
    wallet.fundRouteExecution(exec.id, {
      tx_hash: `0x${"22".repeat(32)}`,
      signature: `0x${"00".repeat(65)}`,
      client_secret: clientSecret,
    }),
    (err) => {
      assert.ok(err instanceof RialtoError);
      assert.equal(err.code, "authorization_invalid_signature");
      return true;
    },
  );
  assert.equal(fundingMessage(exec.id, "0xABCD"), `Rialto: fund ${exec.id} with 0xabcd`);
});

test("a viem wallet pays by transfer, proves it with personal_sign, and the intent is followed to success", async () => {
  const merchant = new RialtoClient({ apiKey: keys.secret_key, baseUrl: base });
  const intent = await merchant.createPaymentIntent({ amount: "4.25", currency: "usd" });
  const chain = manifest.chains.find((c) => c.alias === "devnet-base");
  const account = privateKeyToAccount(chain.payers[1].private_key);
  const transport = http(chain.rpc_url);
  const wallet = createWalletClient({ account, transport });
  const publicClient = createPublicClient({ transport });
  const rialto = new RialtoClient({ apiKey: keys.publishable_key, baseUrl: base });
  const clientSecret = intent.client_secret;
  const { intent: reported, txHash } = await payWithTransfer({ rialto, wallet, publicClient, clientSecret }, intent.id);
  assert.match(txHash, /^0x[0-9a-f]{64}$/);
  assert.ok(["funds_received", "settling", "succeeded"].includes(reported.status), reported.status);
  const done = await rialto.waitForIntent(intent.id, { clientSecret });
  assert.equal(done.status, "succeeded");
  // Reporting the same transfer for another intent is refused: it paid this one.
  const other = await merchant.createPaymentIntent({ amount: "4.25", currency: "usd" });
  await assert.rejects(
    rialto.submitTransaction(other.id, txHash, {
      clientSecret: other.client_secret,
      sign: (message) => wallet.signMessage({ account, message }),
    }),
    (err) => err instanceof RialtoError && err.code === "transaction_already_used",
  );
});
