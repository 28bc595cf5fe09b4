// What the browser tests and the bench share: a real devnet (`rialto devnet`, anvil chains), a
// real `rialto serve` on 127.0.0.1, Debian's chromium driven by playwright-core with a fresh
// profile, and a test EIP-1193 wallet injected into the page that signs, in Node, with the
// devnet's payer key (viem).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { createPublicClient, createWalletClient, http, erc20Abi, defineChain } from "viem";
import { privateKeyToAccount } from "viem/accounts";

export const MERCHANT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
export const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts the devnet and a gateway; `stop()` ends both. `options.env` adds to the gateway's
 * environment; `options.databaseUrl` replaces its throwaway SQLite file (it is migrated). */
export async function startGateway(options = {}) {
  const bin = process.env.RIALTO_BIN ?? new URL("../../target/debug/rialto", import.meta.url).pathname;
  const dir = mkdtempSync(join(tmpdir(), "rialto-browser-"));
  const manifestPath = join(dir, "devnet.json");
  const env = {
    PATH: process.env.PATH,
    ...(process.env.ANVIL_BIN ? { ANVIL_BIN: process.env.ANVIL_BIN } : {}),
    // Short-lived sessions for the expiry screen (the default floor is 60 s).
    RIALTO__INTENTS__MIN_EXPIRES_IN_SECS: "5",
    ...(options.env ?? {}),
  };
  const devnet = spawn(bin, ["--config", "/nonexistent", "devnet", "--manifest", manifestPath], { env, stdio: "ignore" });
  for (let i = 0; i < 1200 && !existsSync(manifestPath); i++) await sleep(50);
  if (!existsSync(manifestPath)) throw new Error("devnet did not write its manifest");
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
  const db = options.databaseUrl ?? `sqlite://${join(dir, "r.db")}`;
  if (options.databaseUrl) execFileSync(bin, ["--config", "/nonexistent", "migrate", "--database-url", db], { env });
  const keys = JSON.parse(execFileSync(bin, ["--config", "/nonexistent", "merchants", "create", "--name", "Kaffeerösterei Rialto",
    "--settlement-asset", "usdc", "--settlement-chain", "devnet-base", "--settlement-address", MERCHANT,
    "--database-url", db, "--json"], { env }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(bin, ["--config", "/nonexistent", "serve", "--listen", `127.0.0.1:${port}`,
    "--database-url", db, "--devnet-manifest", manifestPath], { env, stdio: process.env.GATEWAY_LOGS ? ["ignore", "inherit", "inherit"] : "ignore" });
  let up = false;
  for (let i = 0; i < 1200 && !up; i++) {
    try { up = (await fetch(`${base}/health`)).ok; } catch { await sleep(50); }
  }
  if (!up) throw new Error("gateway did not start");
  const stop = () => {
    server.kill("SIGTERM");
    devnet.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  return { base, keys, manifest, stop };
}

/** `POST`/`GET` on the merchant API with the secret key. */
export async function merchantApi(gw, method, path, body) {
  const res = await fetch(gw.base + path, {
    method,
    headers: { Authorization: `Bearer ${gw.keys.secret_key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The devnet chain `alias` (default: the one the merchant settles on), with viem clients for
 * its payer 0 (the same anvil account on every devnet chain). */
export function devnetBase(gw, alias = "devnet-base") {
  const c = gw.manifest.chains.find((x) => x.alias === alias);
  const chain = defineChain({ id: Number(String(c.chain_id).split(":").pop()), name: c.alias, nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [c.rpc_url] } } });
  const account = privateKeyToAccount(c.payers[0].private_key);
  const transport = http(c.rpc_url);
  return {
    chain, account, usdc: c.tokens.USDC.address, tokens: c.tokens,
    reader: createPublicClient({ chain, transport }),
    wallet: createWalletClient({ chain, transport, account }),
  };
}

/** `token`'s balance of `who` on `net`, in base units. */
export async function tokenBalance(net, token, who) {
  return net.reader.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [who] });
}

export async function usdcBalance(net, who) {
  return net.reader.readContract({ address: net.usdc, abi: erc20Abi, functionName: "balanceOf", args: [who] });
}

/** Chromium with a fresh profile and the test wallet, on `net` first and able to switch to
 * each of `others`: `{ context, calls, close }`. */
export async function launch(net, others = []) {
  const wallet = { current: net, nets: [net, ...others] };
  const profile = mkdtempSync(join(tmpdir(), "rialto-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    // The fresh profile is passed as --user-data-dir by playwright itself (it refuses the flag
    // in args).
    args: CHROMIUM_FLAGS,
  });
  const calls = [];
  await context.exposeFunction("__rialtoTestWallet", async (method, params) => {
    calls.push(method);
    return walletCall(wallet, method, params ?? []);
  });
  await context.addInitScript(() => {
    // A test EIP-1193 provider: every request goes to the Node side, which signs with the
    // devnet payer key.
    window.ethereum = {
      isRialtoTestWallet: true,
      request: ({ method, params }) => window.__rialtoTestWallet(method, params),
      on() {}, removeListener() {},
    };
  });
  return { context, calls, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

async function walletCall(wallet, method, params) {
  const net = wallet.current;
  switch (method) {
    case "eth_requestAccounts":
    case "eth_accounts":
      return [net.account.address];
    case "eth_chainId":
      return `0x${net.chain.id.toString(16)}`;
    case "wallet_switchEthereumChain": {
      const next = wallet.nets.find((n) => n.chain.id === Number(params[0].chainId));
      if (!next) throw new Error("unknown chain");
      wallet.current = next;
      return null;
    }
    case "eth_signTypedData_v4": {
      const typed = JSON.parse(params[1]);
      const { EIP712Domain, ...types } = typed.types;
      const m = typed.message;
      const message = { ...m, value: BigInt(m.value), validAfter: BigInt(m.validAfter), validBefore: BigInt(m.validBefore) };
      return net.account.signTypedData({ domain: typed.domain, types, primaryType: typed.primaryType, message });
    }
    case "personal_sign":
      return net.account.signMessage({ message: { raw: params[0] } });
    case "eth_sendTransaction": {
      const tx = params[0];
      const hash = await net.wallet.sendTransaction({ to: tx.to, data: tx.data, value: tx.value ? BigInt(tx.value) : undefined });
      await net.reader.waitForTransactionReceipt({ hash });
      return hash;
    }
    default:
      throw new Error(`test wallet: ${method} not supported`);
  }
}
