// Latency of the x402 facilitator's POST /v1/x402/verify and /settle against a real gateway
// on the devnet (anvil): N distinct EIP-3009 authorizations signed by one devnet payer, each
// verified, then each settled (relayed), one at a time. Prints p50/p99 in milliseconds.
// Not a test: figures go to docs/BENCHMARKS.md.
//   RIALTO_BIN=<target>/debug/rialto ANVIL_BIN=... node tools/x402/bench.mjs [N]
import { createPublicClient, http, parseAbi } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { startDevnetGateway } from "../../sdk-ts/test/harness.mjs";

const N = Number(process.argv[2] ?? 50);
const MERCHANT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const TYPES = { TransferWithAuthorization: [
  { name: "from", type: "address" }, { name: "to", type: "address" }, { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" }, { name: "validBefore", type: "uint256" }, { name: "nonce", type: "bytes32" },
] };

const gw = await startDevnetGateway({ name: "x402 bench", settlementAddress: MERCHANT });
try {
  const chain = gw.manifest.chains.find((c) => c.alias === "devnet-base");
  const usdc = chain.tokens.USDC.address;
  const client = createPublicClient({ transport: http(chain.rpc_url) });
  const chainId = await client.getChainId();
  const network = `eip155:${chainId}`;
  const abi = parseAbi(["function name() view returns (string)", "function version() view returns (string)"]);
  const domain = {
    name: await client.readContract({ address: usdc, abi, functionName: "name" }),
    version: await client.readContract({ address: usdc, abi, functionName: "version" }),
  };
  const account = privateKeyToAccount(chain.payers[chain.payers.length - 1].private_key);
  const requirements = { scheme: "exact", network, amount: "1000", asset: usdc, payTo: MERCHANT, maxTimeoutSeconds: 600, extra: domain };
  const bodies = [];
  for (let i = 0; i < N; i++) {
    const validBefore = Math.floor(Date.now() / 1000) + 600;
    const authorization = {
      from: account.address, to: MERCHANT, value: "1000", validAfter: "0", validBefore: String(validBefore),
      nonce: `0x${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}`,
    };
    const signature = await account.signTypedData({
      domain: { ...domain, chainId, verifyingContract: usdc }, types: TYPES, primaryType: "TransferWithAuthorization",
      message: { ...authorization, value: 1000n, validAfter: 0n, validBefore: BigInt(validBefore) },
    });
    bodies.push(JSON.stringify({ x402Version: 2, paymentRequirements: requirements,
      paymentPayload: { x402Version: 2, accepted: requirements, payload: { signature, authorization } } }));
  }
  const headers = { authorization: `Bearer ${gw.keys.secret_key}`, "content-type": "application/json" };
  const time = async (path, body, ok) => {
    const start = performance.now();
    const res = await fetch(`${gw.base}/v1/x402/${path}`, { method: "POST", headers, body });
    const json = await res.json();
    const ms = performance.now() - start;
    if (!ok(json)) throw new Error(`${path}: ${JSON.stringify(json)}`);
    return ms;
  };
  const verify = [], settle = [], retried = [];
  for (const body of bodies) verify.push(await time("verify", body, (j) => j.isValid === true));
  for (const body of bodies) settle.push(await time("settle", body, (j) => j.success === true));
  // The very same request again (a client retrying a lost answer): the first settlement back.
  for (const body of bodies) retried.push(await time("settle", body, (j) => j.success === true));
  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(1);
  };
  console.log(`x402 facilitator, ${N} payments, sequential, one payer, devnet anvil`);
  console.log(`verify  p50 ${pct(verify, 50)} ms  p99 ${pct(verify, 99)} ms`);
  console.log(`settle  p50 ${pct(settle, 50)} ms  p99 ${pct(settle, 99)} ms`);
  console.log(`settle retried  p50 ${pct(retried, 50)} ms  p99 ${pct(retried, 99)} ms`);
} finally {
  gw.stop();
}
