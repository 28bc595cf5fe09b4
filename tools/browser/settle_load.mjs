// Settlement throughput through the gateway (not a test; nothing is asserted): N gasless USDC
// payments of 0.01 on the devnet, each its own payment intent, their EIP-3009 authorizations
// signed by the devnet payer with viem BEFORE the clock starts, then all submitted at once to
// `POST /v1/payment_intents/{id}/authorizations` of a real `rialto serve` (screening, the
// relay queue or single relays, the chain watcher, settlement). Settled/s is N over the time
// from the first submission to the last intent `succeeded`; gas per payment is the gas of
// every transaction mined meanwhile on the chain, over N.
//
//   RIALTO_BIN=… ANVIL_BIN=… [PAYERS=K] node settle_load.mjs N single|batched [DATABASE_URL]
//
// PAYERS (default 1): how many distinct payer wallets sign the N authorizations. With 1, one
// wallet (an agent) pays every intent, and its payments are screened one after the other
// (screening serialises per merchant and payer, so that limits see every earlier payment);
// with K > 1, K fresh wallets (funded with USDC by the devnet payer before the clock starts,
// no ETH: the payments are gasless) sign in turn, as K customers would.
//
// GATEWAY_LOGS=1 passes the gateway's log lines through (the harness otherwise drops them),
// to read timings logged while investigating.
//
// Used by bench/settle_load.sh, which builds the binary and starts PostgreSQL when asked.
import { erc20Abi } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { startGateway, merchantApi, devnetBase } from "./harness.mjs";

const n = Number(process.argv[2] ?? 1000);
const mode = process.argv[3] ?? "batched";
const databaseUrl = process.argv[4];
const payerCount = Math.max(1, Number(process.env.PAYERS ?? 1));
const env = {
  RIALTO__RATE_LIMIT__PER_SECOND: "1000000",
  RIALTO__RATE_LIMIT__BURST: "1000000",
  // With GATEWAY_LOGS=1, e.g. RIALTO__LOG__LEVEL="warn,rialto_engine::chain::worker=debug".
  RIALTO__LOG__LEVEL: process.env.RIALTO__LOG__LEVEL ?? "warn",
  ...(mode === "batched" ? { RIALTO__SANDBOX__BATCH_RELAY__ENABLED: "true" } : {}),
};
const gw = await startGateway({ env, databaseUrl });
const net = devnetBase(gw);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `f` over `items` with at most `width` at once. */
async function pool(items, width, f) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) { const i = next++; out[i] = await f(items[i], i); }
  }));
  return out;
}

/** Adds to `seen` the ids of the listed intents that succeeded (every page). */
async function listSucceeded(seen) {
  let after = "";
  for (;;) {
    const page = await merchantApi(gw, "GET", `/v1/payment_intents?status=succeeded&limit=100${after}`);
    for (const intent of page.data) seen.add(intent.id);
    if (!page.has_more) return;
    after = `&starting_after=${page.data[page.data.length - 1].id}`;
  }
}

/** Adds to `seen` those of `ids` that succeeded, each read on its own. */
async function readSucceeded(ids, seen) {
  await Promise.all(ids.map(async (id) => {
    const intent = await merchantApi(gw, "GET", `/v1/payment_intents/${id}`);
    if (intent.status === "succeeded") seen.add(id);
  }));
}

try {
  const intents = await pool(Array.from({ length: n }), 16, () =>
    merchantApi(gw, "POST", "/v1/payment_intents", { amount: "0.01", currency: "usd" }));
  // The payers, funded before the clock starts (one transfer each from the devnet payer).
  const payers = payerCount === 1 ? [net.account]
    : Array.from({ length: payerCount }, () => privateKeyToAccount(generatePrivateKey()));
  if (payerCount > 1) {
    const each = 10_000n * BigInt(Math.ceil(n / payerCount)); // 0.01 USDC per payment
    let hash;
    for (const p of payers) {
      hash = await net.wallet.writeContract({ address: net.usdc, abi: erc20Abi, functionName: "transfer", args: [p.address, each] });
    }
    await net.reader.waitForTransactionReceipt({ hash });
  }
  // Sign every authorization first: the figure is the gateway's and the chain's, not viem's.
  const bodies = await pool(intents, 16, async (intent, i) => {
    const payer = payers[i % payers.length];
    const req = await merchantApi(gw, "GET", `/v1/payment_intents/${intent.id}/authorization_request`);
    const message = { ...req.message, from: payer.address };
    const signature = await payer.signTypedData({
      domain: req.domain, types: req.types, primaryType: req.primary_type, message,
    });
    return { id: intent.id, body: { from: message.from, value: message.value, valid_after: message.validAfter,
      valid_before: message.validBefore, nonce: message.nonce, signature, chain_id: req.domain.chainId } };
  });
  const startBlock = await net.reader.getBlockNumber({ cacheTime: 0 });
  const t0 = performance.now();
  const wall0 = Date.now();
  const answers = await Promise.all(bodies.map(({ id, body }) =>
    fetch(`${gw.base}/v1/payment_intents/${id}/authorizations`, {
      method: "POST",
      headers: { Authorization: `Bearer ${gw.keys.secret_key}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then((r) => r.status)));
  const answered = performance.now();
  const refused = answers.filter((s) => s >= 400 && s !== 503).length;
  // Succeeded is final, so an intent seen succeeded is not read again. While many are left
  // the succeeded ones are listed every 50 ms; with 100 or fewer left, those are read on their
  // own every 20 ms, so the end is seen within a read of it rather than a listing and a sleep.
  const seen = new Set();
  const deadline = t0 + 600_000;
  for (;;) {
    const left = intents.map((i) => i.id).filter((id) => !seen.has(id));
    if (left.length <= 100) await readSucceeded(left, seen);
    else await listSucceeded(seen);
    if (seen.size >= n - refused || performance.now() >= deadline) break;
    await sleep(n - refused - seen.size <= 100 ? 20 : 50);
  }
  const done = seen.size;
  const seconds = (performance.now() - t0) / 1000;
  const endBlock = await net.reader.getBlockNumber({ cacheTime: 0 });
  let gas = 0n, txs = 0;
  for (let b = startBlock + 1n; b <= endBlock; b++) {
    const block = await net.reader.getBlock({ blockNumber: b });
    gas += block.gasUsed;
    txs += block.transactions.length;
  }
  console.log(JSON.stringify({
    mode, n, payers: payerCount, database: databaseUrl ? databaseUrl.split(":")[0] : "sqlite", succeeded: done,
    refused, statuses: Object.fromEntries([...new Set(answers)].map((s) => [s, answers.filter((x) => x === s).length])),
    started_at_ms: wall0, all_answered_after_s: Number(((answered - t0) / 1000).toFixed(2)),
    seconds: Number(seconds.toFixed(2)), settled_per_second: Number((done / seconds).toFixed(1)),
    transactions: txs, gas_per_payment: done ? Number(gas / BigInt(done)) : null,
  }));
} finally {
  gw.stop();
}
