// Latency of a Solana payment made with the SDK on the devnet simnet: `sendSolanaTransfer`
// (build, sign, send, poll to `confirmed`), the report with the payer's proof, and the wait
// until the intent is `succeeded`. A measurement, not a test.
// Usage (after `npm run build`): RIALTO_BIN=<target>/debug/rialto ANVIL_BIN=… SOLANA_SIMNET_BIN=…
//   node scripts/bench-solana.mjs [N]
import { createSolanaRpc, generateKeyPairSigner } from "@solana/kit";
import { RialtoClient } from "../dist/index.js";
import { reportSolanaPayment, sendSolanaTransfer, signerFromBase58, solanaTransferFor } from "../dist/solana.js";
import { startDevnetGateway } from "../test/harness.mjs";

const n = Number(process.argv[2] ?? 20);
const gw = await startDevnetGateway({ name: "Solana bench", settlementAddress: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", solana: true });
try {
  const rpc = createSolanaRpc(gw.manifest.solana.rpc_url);
  const rialto = new RialtoClient({ apiKey: gw.keys.secret_key, baseUrl: gw.base });
  const payer = await signerFromBase58(gw.manifest.solana.payers[0].secret_key);
  const owner = (await generateKeyPairSigner()).address;
  const times = { send: [], report: [], succeeded: [] };
  for (let i = 0; i < n; i++) {
    const intent = await rialto.createPaymentIntent({
      amount: "1.00", currency: "usd", settlement: { asset: "usdc", chain: "devnet-solana", address: owner },
    });
    const t0 = performance.now();
    const signature = await sendSolanaTransfer({ rpc, payer }, solanaTransferFor(intent));
    const t1 = performance.now();
    await reportSolanaPayment({ rialto, payer }, intent.id, signature);
    const t2 = performance.now();
    const done = await rialto.waitForIntent(intent.id, { intervalMs: 20 });
    if (done.status !== "succeeded") throw new Error(`${intent.id} ended ${done.status}`);
    times.send.push(t1 - t0);
    times.report.push(t2 - t1);
    times.succeeded.push(performance.now() - t0);
  }
  const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
  for (const [name, xs] of Object.entries(times)) {
    console.log(`${name}: p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms (n=${xs.length})`);
  }
} finally {
  gw.stop();
}
