// Settlement throughput through the gateway (not a test; nothing is asserted): N gasless USDC
// payments of 0.01 on the devnet, each its own payment intent, their EIP-3009 authorizations
// signed by the devnet payer with viem BEFORE the clock starts, then all submitted at once to
// `POST /v1/payment_intents/{id}/authorizations` of a real `rialto serve` (screening, the
// relay queue or single relays, the chain watcher, settlement). Settled/s is how many
// succeeded over the time from the first submission until none is still on its way (awaiting
// funds, funded, converting or settling); gas per payment is the gas of every transaction
// mined meanwhile on the chain, over those that succeeded.
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
import { request } from "node:http";
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
  RIALTO__LOG__LEVEL: "warn",
  ...(mode === "batched" ? { RIALTO__SANDBOX__BATCH_RELAY__ENABLED: "true" } : {}),
  // Any other setting to measure with, e.g. RIALTO__DATABASE__MAX_CONNECTIONS=4.
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("RIALTO__"))),
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

/** How many of the merchant's intents are in `status` (every page of the list). */
async function countStatus(status) {
  let count = 0, after = "";
  for (;;) {
    const page = await merchantApi(gw, "GET", `/v1/payment_intents?status=${status}&limit=100${after}`);
    count += page.data.length;
    if (!page.has_more) return count;
    after = `&starting_after=${page.data[page.data.length - 1].id}`;
  }
}

/** Whether any of the merchant's intents is in one of `statuses` (one row asked per status). */
async function anyIn(statuses) {
  const pages = await Promise.all(statuses.map((status) =>
    merchantApi(gw, "GET", `/v1/payment_intents?status=${status}&limit=1`)));
  return pages.some((page) => page.data.length > 0);
}

/** The submitted payments not yet at an end: awaiting funds (less the refused ones, which
 * stay there), funded, converting or settling. Read in lists of these statuses only, so the
 * closer the run is to its end, the shorter the read. */
async function inFlight(refused) {
  const [awaiting, ...moving] = await Promise.all(
    ["awaiting_funds", "funds_received", "converting", "settling"].map(countStatus));
  return Math.max(0, awaiting - refused) + moving.reduce((a, b) => a + b, 0);
}

/** Whether a submitted payment is still on its way. With nothing refused, every intent left
 * in those statuses is one: one row per status answers it, and the gateway is not made to
 * list a thousand intents every poll (which costs it CPU the payments then lack). */
async function onTheirWay(refused) {
  const moving = ["awaiting_funds", "funds_received", "converting", "settling"];
  return refused === 0 ? anyIn(moving) : (await inFlight(refused)) > 0;
}

/** `POST` of an already serialised body with node's HTTP client (a connection each, as N
 * payers would have): fetch's own cost delayed the submissions by hundreds of milliseconds,
 * during which the gateway waited. Resolves to the status code. */
function submit(path, body) {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.base}${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${gw.keys.secret_key}`, "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); });
    req.on("error", reject);
    req.end(body);
  });
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
    return { id: intent.id, body: JSON.stringify({ from: message.from, value: message.value, valid_after: message.validAfter,
      valid_before: message.validBefore, nonce: message.nonce, signature, chain_id: req.domain.chainId }) };
  });
  const startBlock = await net.reader.getBlockNumber({ cacheTime: 0 });
  const t0 = performance.now();
  const wall0 = Date.now();
  const answers = await Promise.all(bodies.map(({ id, body }) =>
    submit(`/v1/payment_intents/${id}/authorizations`, body)));
  const answered = performance.now();
  const refused = answers.filter((s) => s >= 400 && s !== 503).length;
  // The clock stops when no submitted payment is still on its way (asked every 20 ms); how
  // many succeeded is counted after it stopped.
  const deadline = t0 + 600_000;
  for (;;) {
    if (!(await onTheirWay(refused)) || performance.now() >= deadline) break;
    await sleep(20);
  }
  const seconds = (performance.now() - t0) / 1000;
  const done = await countStatus("succeeded");
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
