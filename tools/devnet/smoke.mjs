#!/usr/bin/env node
// Devnet smoke test: start anvil on a free loopback port, deploy the committed
// artifacts from contracts/artifacts/ and exercise them with raw JSON-RPC
// (node built-ins only: fetch, child_process, net). Exits non-zero on any failure.
//
//   node tools/devnet/smoke.mjs                 spawn the pinned anvil (see install.sh)
//   node tools/devnet/smoke.mjs --rpc URL       use an already running node whose
//                                               eth_accounts are unlocked (anvil)
//   ANVIL_BIN=/path/to/anvil node tools/devnet/smoke.mjs
//
// Covered: SignatureChecker + FiatTokenV2_2 (linked) behind FiatTokenProxy,
// initialize..initializeV2_2, configureMinter, mint, transfer, balanceOf;
// TetherLikeToken (no-return-value ERC-20); PayPalUsdLike; MockV3Aggregator;
// WETH9 + UniswapV2Factory + UniswapV2Router02: createPair, addLiquidity, swap;
// DepositToken (JPMD-shaped devnet stand-in) behind ERC1967Proxy: roles, allow-list, pause;
// a reserve feed; Chainlink's CCIP Router with the devnet on-ramp stand-in: getFee, ccipSend.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const artifactsDir = path.resolve(here, "..", "..", "contracts", "artifacts");

// ----------------------------------------------------------------------------- tiny test harness

let passed = 0;
let failed = 0;
function check(cond, what, detail = "") {
  if (cond) {
    passed++;
    console.log(`  ok   ${what}${detail ? ` (${detail})` : ""}`);
  } else {
    failed++;
    console.log(`  FAIL ${what}${detail ? ` (${detail})` : ""}`);
    throw new Error(`check failed: ${what}`);
  }
}
const eq = (a, b, what) => check(a === b, what, a === b ? String(a) : `got ${a}, want ${b}`);

// ----------------------------------------------------------------------------- ABI (subset)

const strip0x = (h) => h.replace(/^0x/, "");
const pad32 = (hex) => hex.padStart(64, "0");

function encodeStatic(type, v) {
  if (type === "address") return pad32(strip0x(v).toLowerCase());
  if (type === "bool") return pad32(v ? "1" : "0");
  if (type === "bytes32") return strip0x(v).padEnd(64, "0");
  if (/^uint\d*$/.test(type)) {
    const n = BigInt(v);
    if (n < 0n) throw new Error(`negative ${type}`);
    return pad32(n.toString(16));
  }
  if (/^int\d*$/.test(type)) {
    let n = BigInt(v);
    if (n < 0n) n = (1n << 256n) + n;
    return pad32(n.toString(16));
  }
  throw new Error(`unsupported static type ${type}`);
}

const isDynamic = (t) => t === "string" || t === "bytes" || t.endsWith("[]");

function encodeDynamic(type, v) {
  if (type === "string" || type === "bytes") {
    const buf = type === "string" ? Buffer.from(v, "utf8") : Buffer.from(strip0x(v), "hex");
    const hex = buf.toString("hex");
    return pad32(buf.length.toString(16)) + hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
  }
  if (type.endsWith("[]")) {
    const inner = type.slice(0, -2);
    if (isDynamic(inner)) throw new Error(`unsupported nested dynamic type ${type}`);
    return pad32(v.length.toString(16)) + v.map((x) => encodeStatic(inner, x)).join("");
  }
  throw new Error(`unsupported dynamic type ${type}`);
}

function encodeArgs(types, values) {
  if (types.length !== values.length) throw new Error(`arity: ${types.length} types, ${values.length} values`);
  let head = "";
  let tail = "";
  const headSize = 32 * types.length;
  types.forEach((t, i) => {
    if (isDynamic(t)) {
      head += pad32((headSize + tail.length / 2).toString(16));
      tail += encodeDynamic(t, values[i]);
    } else {
      head += encodeStatic(t, values[i]);
    }
  });
  return head + tail;
}

function decodeOutputs(types, data) {
  const h = strip0x(data);
  const word = (i) => h.slice(i * 64, i * 64 + 64);
  return types.map((t, i) => {
    const w = word(i);
    if (t === "address") return `0x${w.slice(24)}`;
    if (t === "bool") return BigInt(`0x${w}`) !== 0n;
    if (/^uint\d*$/.test(t)) return BigInt(`0x${w}`);
    if (/^int\d*$/.test(t)) {
      const n = BigInt(`0x${w}`);
      return n >= 1n << 255n ? n - (1n << 256n) : n;
    }
    if (t === "string") {
      const off = Number(BigInt(`0x${w}`)) / 32;
      const len = Number(BigInt(`0x${word(off)}`));
      return Buffer.from(h.slice((off + 1) * 64, (off + 1) * 64 + len * 2), "hex").toString("utf8");
    }
    throw new Error(`unsupported output type ${t}`);
  });
}

function loadArtifact(name) {
  return JSON.parse(fs.readFileSync(path.join(artifactsDir, `${name}.json`), "utf8"));
}

/** pick an ABI function by name and arity */
function fn(artifact, name, arity) {
  const cands = artifact.abi.filter((x) => x.type === "function" && x.name === name && (arity === undefined || x.inputs.length === arity));
  if (cands.length !== 1) throw new Error(`${artifact.contractName}.${name}/${arity}: ${cands.length} candidates`);
  const f = cands[0];
  const sig = `${f.name}(${f.inputs.map((i) => i.type).join(",")})`;
  const selector = artifact.methodIdentifiers[sig];
  if (!selector) throw new Error(`no selector for ${sig}`);
  return { f, sig, selector };
}

// ----------------------------------------------------------------------------- JSON-RPC

let rpcUrl;
let rpcId = 0;
async function rpc(method, params = []) {
  const res = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
  });
  const body = await res.json();
  if (body.error) {
    const e = new Error(`${method}: ${body.error.message}${body.error.data ? ` ${JSON.stringify(body.error.data)}` : ""}`);
    e.rpc = body.error;
    throw e;
  }
  return body.result;
}

async function sendTx(tx, label) {
  const hash = await rpc("eth_sendTransaction", [tx]);
  let receipt = null;
  for (let i = 0; i < 100 && !receipt; i++) {
    receipt = await rpc("eth_getTransactionReceipt", [hash]);
    if (!receipt) await new Promise((r) => setTimeout(r, 50));
  }
  if (!receipt) throw new Error(`${label}: no receipt for ${hash}`);
  if (receipt.status !== "0x1") throw new Error(`${label}: reverted (tx ${hash})`);
  return receipt;
}

/** deploy `artifact` (optionally with linked libraries) from `from`, returns address */
async function deploy(artifact, from, ctorArgs = [], libraries = {}) {
  let code = strip0x(artifact.bytecode);
  for (const [lib, info] of Object.entries(artifact.libraries || {})) {
    const addr = libraries[lib];
    if (!addr) throw new Error(`${artifact.contractName} needs library ${lib}`);
    for (const off of info.offsets) {
      const at = code.slice(off * 2, off * 2 + 40);
      if (at !== info.placeholder) throw new Error(`placeholder mismatch at ${off}: ${at}`);
      code = code.slice(0, off * 2) + strip0x(addr).toLowerCase() + code.slice(off * 2 + 40);
    }
  }
  if (code.includes("__$")) throw new Error(`${artifact.contractName}: unlinked placeholder left`);
  const ctor = artifact.abi.find((x) => x.type === "constructor");
  const types = ctor ? ctor.inputs.map((i) => i.type) : [];
  const data = `0x${code}${encodeArgs(types, ctorArgs)}`;
  const r = await sendTx({ from, data }, `deploy ${artifact.contractName}`);
  const runtime = await rpc("eth_getCode", [r.contractAddress, "latest"]);
  if (runtime.length <= 2) throw new Error(`${artifact.contractName}: no code at ${r.contractAddress}`);
  console.log(`  deployed ${artifact.contractName.padEnd(17)} at ${r.contractAddress} (gas ${BigInt(r.gasUsed)})`);
  return r.contractAddress;
}

function contract(artifact, address) {
  return {
    address,
    calldata(name, args, arity = args.length) {
      const { f, selector } = fn(artifact, name, arity);
      return `0x${selector}${encodeArgs(f.inputs.map((i) => i.type), args)}`;
    },
    async send(from, name, args = [], value) {
      const tx = { from, to: address, data: this.calldata(name, args) };
      if (value !== undefined) tx.value = `0x${BigInt(value).toString(16)}`;
      return sendTx(tx, `${artifact.contractName}.${name}`);
    },
    async rawCall(from, name, args = []) {
      return rpc("eth_call", [{ from, to: address, data: this.calldata(name, args) }, "latest"]);
    },
    async call(name, args = []) {
      const { f } = fn(artifact, name, args.length);
      const out = await rpc("eth_call", [{ to: address, data: this.calldata(name, args) }, "latest"]);
      const vals = decodeOutputs(f.outputs.map((o) => o.type), out);
      return vals.length === 1 ? vals[0] : vals;
    },
  };
}

// ----------------------------------------------------------------------------- anvil process

function resolveAnvil() {
  if (process.env.ANVIL_BIN) return process.env.ANVIL_BIN;
  const require = createRequire(path.join(here, "package.json"));
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch];
  const exe = process.platform === "win32" ? "anvil.exe" : "anvil";
  return require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/${exe}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startAnvil() {
  const bin = resolveAnvil();
  const port = await freePort();
  const args = ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "31337", "--silent"];
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code, sig) => resolve({ code, sig })));
  rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      await rpc("eth_chainId");
      break;
    } catch (e) {
      if (child.exitCode !== null) throw new Error(`anvil exited (${child.exitCode}): ${stderr}`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`anvil did not answer on ${rpcUrl} within 20s: ${e.message} ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  console.log(`anvil ${bin} (pid ${child.pid}) listening on ${rpcUrl}`);
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(t);
      }
      console.log(`anvil (pid ${child.pid}) stopped`);
    },
  };
}

// ----------------------------------------------------------------------------- scenario

const U6 = 10n ** 6n;

async function scenario() {
  const chainId = BigInt(await rpc("eth_chainId"));
  const accounts = await rpc("eth_accounts");
  check(accounts.length >= 5, "node exposes unlocked accounts", `${accounts.length} accounts, chain id ${chainId}`);
  const [deployer, proxyAdmin, alice, bob, lostAndFound] = accounts;

  const A = Object.fromEntries(
    ["SignatureChecker", "FiatTokenV2_2", "FiatTokenProxy", "TetherLikeToken", "PayPalUsdLike", "MockV3Aggregator", "WETH9", "UniswapV2Factory", "UniswapV2Router02", "UniswapV2Pair"].map((n) => [n, loadArtifact(n)]),
  );

  // ------------------------------------------------------------------ USDC: FiatToken v2.2
  console.log("FiatToken v2.2 (USDC)");
  const sigChecker = await deploy(A.SignatureChecker, deployer);
  const implAddr = await deploy(A.FiatTokenV2_2, deployer, [], { SignatureChecker: sigChecker });
  const impl = contract(A.FiatTokenV2_2, implAddr);
  // Circle's deploy script initializes the bare implementation with throwaway values
  // so nobody else can; same call sequence as for the proxy.
  const THROWAWAY = "0x0000000000000000000000000000000000000001";
  await impl.send(deployer, "initialize", ["", "", "", 0, THROWAWAY, THROWAWAY, THROWAWAY, THROWAWAY]);
  await impl.send(deployer, "initializeV2", [""]);
  await impl.send(deployer, "initializeV2_1", [THROWAWAY]);
  await impl.send(deployer, "initializeV2_2", [[], ""]);

  const proxyAddr = await deploy(A.FiatTokenProxy, deployer, [implAddr]);
  const proxy = contract(A.FiatTokenProxy, proxyAddr);
  await proxy.send(deployer, "changeAdmin", [proxyAdmin]);
  // admin() / implementation() are only callable by the admin (eth_call with from)
  const [adminNow] = decodeOutputs(["address"], await proxy.rawCall(proxyAdmin, "admin"));
  eq(adminNow.toLowerCase(), proxyAdmin.toLowerCase(), "proxy admin changed");
  const [implNow] = decodeOutputs(["address"], await proxy.rawCall(proxyAdmin, "implementation"));
  eq(implNow.toLowerCase(), implAddr.toLowerCase(), "proxy points at FiatTokenV2_2");

  const usdc = contract(A.FiatTokenV2_2, proxyAddr);
  // owner / masterMinter / pauser / blacklister = deployer (must NOT be the proxy admin)
  await usdc.send(deployer, "initialize", ["USD Coin", "USDC", "USD", 6, deployer, deployer, deployer, deployer]);
  await usdc.send(deployer, "initializeV2", ["USD Coin"]);
  await usdc.send(deployer, "initializeV2_1", [lostAndFound]);
  await usdc.send(deployer, "initializeV2_2", [[], "USDC"]);
  eq(await usdc.call("name"), "USD Coin", "USDC name()");
  eq(await usdc.call("symbol"), "USDC", "USDC symbol()");
  eq(await usdc.call("decimals"), 6n, "USDC decimals()");
  eq(await usdc.call("version"), "2", "USDC version()");
  check(/^0x[0-9a-f]{64}$/.test(await rpc("eth_call", [{ to: proxyAddr, data: usdc.calldata("DOMAIN_SEPARATOR", []) }, "latest"])), "USDC DOMAIN_SEPARATOR() readable");
  eq(await usdc.call("isBlacklisted", [proxyAddr]), true, "initializeV2_2 blacklisted the token contract itself");

  await usdc.send(deployer, "configureMinter", [deployer, 1_000_000n * U6]);
  eq(await usdc.call("isMinter", [deployer]), true, "configureMinter");
  await usdc.send(deployer, "mint", [alice, 1000n * U6]);
  eq(await usdc.call("balanceOf", [alice]), 1000n * U6, "mint 1000 USDC to alice");
  eq(await usdc.call("minterAllowance", [deployer]), 999_000n * U6, "minter allowance decreased");
  await usdc.send(alice, "transfer", [bob, 250n * U6]);
  eq(await usdc.call("balanceOf", [alice]), 750n * U6, "alice USDC after transfer");
  eq(await usdc.call("balanceOf", [bob]), 250n * U6, "bob USDC after transfer");
  eq(await usdc.call("totalSupply"), 1000n * U6, "USDC totalSupply");

  // ------------------------------------------------------------------ USDT-like
  console.log("TetherLikeToken (USDT-like)");
  const usdtAddr = await deploy(A.TetherLikeToken, deployer, [1_000_000n * U6, "Tether USD", "USDT", 6]);
  const usdt = contract(A.TetherLikeToken, usdtAddr);
  await usdt.send(deployer, "issue", [1000n * U6]);
  eq(await usdt.call("totalSupply"), 1_001_000n * U6, "issue() increases supply");
  eq(await usdt.call("decimals"), 6n, "USDT decimals (uint256)");
  const ret = await usdt.rawCall(deployer, "transfer", [alice, 500n * U6]);
  eq(ret, "0x", "transfer() returns no data (USDT quirk)");
  await usdt.send(deployer, "transfer", [alice, 500n * U6]);
  eq(await usdt.call("balanceOf", [alice]), 500n * U6, "alice USDT after transfer");
  await usdt.send(alice, "approve", [bob, 1n]);
  let approveReverted = false;
  try {
    await usdt.rawCall(alice, "approve", [bob, 2n]);
  } catch (e) {
    approveReverted = /reset allowance to 0 first|revert/i.test(e.message);
  }
  check(approveReverted, "approve non-zero -> non-zero reverts (USDT quirk)");

  // ------------------------------------------------------------------ PYUSD-like
  console.log("PayPalUsdLike (PYUSD-like)");
  const pyusd = contract(A.PayPalUsdLike, await deploy(A.PayPalUsdLike, deployer, ["PayPal USD", "PYUSD"]));
  await pyusd.send(deployer, "mint", [alice, 42n * U6]);
  const pret = decodeOutputs(["bool"], await pyusd.rawCall(alice, "transfer", [bob, 2n * U6]))[0];
  eq(pret, true, "PYUSD transfer() returns true");
  await pyusd.send(alice, "transfer", [bob, 2n * U6]);
  eq(await pyusd.call("balanceOf", [bob]), 2n * U6, "bob PYUSD after transfer");
  eq(await pyusd.call("decimals"), 6n, "PYUSD decimals");

  // ------------------------------------------------------------------ Chainlink mock
  console.log("MockV3Aggregator");
  const feed = contract(A.MockV3Aggregator, await deploy(A.MockV3Aggregator, deployer, [8, 99_990_000n]));
  let [roundId, answer, startedAt, updatedAt, answeredInRound] = await feed.call("latestRoundData");
  eq(roundId, 1n, "latestRoundData roundId");
  eq(answer, 99_990_000n, "latestRoundData answer (0.9999 USD, 8 decimals)");
  check(updatedAt > 0n && startedAt === updatedAt && answeredInRound === 1n, "latestRoundData timestamps", `updatedAt ${updatedAt}`);
  await feed.send(deployer, "updateAnswer", [100_010_000n]);
  [roundId, answer] = await feed.call("latestRoundData");
  check(roundId === 2n && answer === 100_010_000n, "updateAnswer -> round 2", `answer ${answer}`);
  await feed.send(deployer, "updateRoundData", [7, -1n, 1_700_000_000n, 1_699_999_999n]);
  [roundId, answer, startedAt, updatedAt] = await feed.call("latestRoundData");
  check(roundId === 7n && answer === -1n && startedAt === 1_699_999_999n && updatedAt === 1_700_000_000n, "updateRoundData (negative answer, explicit timestamps)");
  eq(await feed.call("decimals"), 8n, "feed decimals");

  // ------------------------------------------------------------------ Uniswap V2
  console.log("Uniswap V2");
  const weth = contract(A.WETH9, await deploy(A.WETH9, deployer));
  const factory = contract(A.UniswapV2Factory, await deploy(A.UniswapV2Factory, deployer, [deployer]));
  const router = contract(A.UniswapV2Router02, await deploy(A.UniswapV2Router02, deployer, [factory.address, weth.address]));
  eq((await router.call("factory")).toLowerCase(), factory.address.toLowerCase(), "router.factory()");
  eq((await router.call("WETH")).toLowerCase(), weth.address.toLowerCase(), "router.WETH()");
  await weth.send(deployer, "deposit", [], 10n ** 18n);
  eq(await weth.call("balanceOf", [deployer]), 10n ** 18n, "WETH deposit 1 ETH");

  // USDC / USDT-like pair: also proves TransferHelper copes with the no-return-value token
  await usdc.send(deployer, "mint", [deployer, 20_000n * U6]);
  await factory.send(deployer, "createPair", [usdc.address, usdt.address]);
  const pairAddr = await factory.call("getPair", [usdc.address, usdt.address]);
  check(pairAddr !== "0x0000000000000000000000000000000000000000", "createPair", pairAddr);
  eq(await factory.call("allPairsLength"), 1n, "factory.allPairsLength()");
  const latest = await rpc("eth_getBlockByNumber", ["latest", false]);
  const deadline = BigInt(latest.timestamp) + 3600n;
  await usdc.send(deployer, "approve", [router.address, 2n ** 256n - 1n]);
  await usdt.send(deployer, "approve", [router.address, 2n ** 256n - 1n]);
  await router.send(deployer, "addLiquidity", [usdc.address, usdt.address, 10_000n * U6, 10_000n * U6, 0, 0, deployer, deadline]);
  const pair = contract(A.UniswapV2Pair, pairAddr);
  const [r0, r1] = await pair.call("getReserves");
  check(r0 === 10_000n * U6 && r1 === 10_000n * U6, "addLiquidity reserves", `${r0} / ${r1}`);
  check((await pair.call("balanceOf", [deployer])) > 0n, "LP tokens minted");

  const amountIn = 100n * U6;
  const quoted = await rpc("eth_call", [{ to: router.address, data: router.calldata("getAmountsOut", [amountIn, [usdc.address, usdt.address]]) }, "latest"]);
  // returns uint256[]: offset, length, a0, a1
  const expectedOut = BigInt(`0x${strip0x(quoted).slice(64 * 3, 64 * 4)}`);
  const usdtBefore = await usdt.call("balanceOf", [alice]);
  await usdc.send(alice, "approve", [router.address, amountIn]);
  await router.send(alice, "swapExactTokensForTokens", [amountIn, (expectedOut * 99n) / 100n, [usdc.address, usdt.address], alice, deadline]);
  const usdtAfter = await usdt.call("balanceOf", [alice]);
  eq(usdtAfter - usdtBefore, expectedOut, "swap 100 USDC -> USDT-like matches getAmountsOut");
  eq(await usdc.call("balanceOf", [alice]), 650n * U6, "alice USDC after swap");
  console.log(`  swapped 100.000000 USDC for ${(Number(expectedOut) / 1e6).toFixed(6)} USDT-like`);

  await institutional({ accounts, deployer, alice, bob, usdc, weth });
}

// ----------------------------------------------------------------------------- institutional rails

/** true if an eth_call reverts with the custom error `signature` */
async function revertsWith(c, from, name, args, signature) {
  const require = createRequire(path.join(here, "package.json"));
  const selector = require("js-sha3").keccak256(signature).slice(0, 8);
  try {
    await c.rawCall(from, name, args);
    return false;
  } catch (e) {
    return JSON.stringify(e.rpc || e.message).includes(selector);
  }
}

/** ABI of getFee/ccipSend(uint64, EVM2AnyMessage) for one token amount and empty data */
function ccipCalldata(artifact, name, dest, { receiver, token, amount, feeToken, extraArgs }) {
  const selector = artifact.methodIdentifiers[`${name}(uint64,(bytes,bytes,(address,uint256)[],address,bytes))`];
  const bytes = (hex) => encodeDynamic("bytes", hex);
  const receiverBytes = bytes(encodeStatic("address", receiver));
  const dataBytes = bytes("0x");
  const tokens = pad32("1") + encodeStatic("address", token) + encodeStatic("uint256", amount);
  const extra = bytes(extraArgs);
  const heads = 5 * 32;
  const offsets = [heads, heads + receiverBytes.length / 2];
  offsets.push(offsets[1] + dataBytes.length / 2);
  offsets.push(offsets[2] + tokens.length / 2);
  const tuple =
    encodeStatic("uint256", offsets[0]) + encodeStatic("uint256", offsets[1]) + encodeStatic("uint256", offsets[2]) +
    encodeStatic("address", feeToken) + encodeStatic("uint256", offsets[3]) + receiverBytes + dataBytes + tokens + extra;
  return `0x${selector}${encodeStatic("uint64", dest)}${encodeStatic("uint256", 64)}${tuple}`;
}

async function institutional({ accounts, deployer, alice, bob, usdc, weth }) {
  const A = Object.fromEntries(
    ["DepositToken", "ERC1967Proxy", "MockV3Aggregator", "Router", "DevnetCcipOnRamp", "DevnetRmnStandIn"].map((n) => [n, loadArtifact(n)]),
  );
  const [bank, treasury] = [accounts[5], accounts[6]];
  console.log("DepositToken (JPMD-shaped devnet stand-in) behind ERC1967Proxy");
  const implAddr = await deploy(A.DepositToken, deployer);
  const init = contract(A.DepositToken, implAddr).calldata("initialize", ["Devnet USD Deposit Token", "JPMD-DEV", bank]);
  const token = contract(A.DepositToken, await deploy(A.ERC1967Proxy, deployer, [implAddr, init]));
  eq(await token.call("symbol"), "JPMD-DEV", "deposit token symbol() through the proxy");
  eq(await token.call("decimals"), 6n, "deposit token decimals()");
  for (const role of ["MINTER_ROLE", "BURNER_ROLE", "ALLOWLIST_ADMIN_ROLE", "PAUSER_ROLE"]) {
    await token.send(bank, "grantRole", [await rpc("eth_call", [{ to: token.address, data: token.calldata(role, []) }, "latest"]), bank]);
  }
  await token.send(bank, "setAllowed", [alice, true]);
  await token.send(bank, "setAllowed", [treasury, true]);
  eq(await token.call("isAllowed", [bob]), false, "bob is not allow-listed");
  await token.send(bank, "mint", [alice, 1000n * U6]);
  await token.send(alice, "transfer", [treasury, 10n * U6]);
  eq(await token.call("balanceOf", [treasury]), 10n * U6, "allow-listed transfer alice -> treasury");
  check(await revertsWith(token, alice, "transfer", [bob, 1n], "HolderNotAllowed(address)"), "transfer to a holder not allow-listed reverts HolderNotAllowed");
  check(await revertsWith(token, alice, "mint", [alice, 1n], "AccessControlUnauthorizedAccount(address,bytes32)"), "only the bank mints");
  await token.send(bank, "pause");
  check(await revertsWith(token, alice, "transfer", [treasury, 1n], "EnforcedPause()"), "paused: transfers revert EnforcedPause");
  await token.send(bank, "unpause");
  await token.send(alice, "transfer", [treasury, 1n]);

  console.log("Proof of Reserve (devnet reserve feed)");
  const supply = await token.call("totalSupply");
  const por = contract(A.MockV3Aggregator, await deploy(A.MockV3Aggregator, deployer, [8, supply * 100n]));
  const [, reserves, , porUpdatedAt] = await por.call("latestRoundData");
  check(reserves / 100n >= supply && porUpdatedAt > 0n, "reserves cover supply", `reserves ${reserves} (8 dp), supply ${supply} (6 dp)`);

  console.log("Chainlink CCIP Router with devnet stand-ins");
  const rmn = await deploy(A.DevnetRmnStandIn, deployer);
  const router = contract(A.Router, await deploy(A.Router, deployer, [weth.address, rmn]));
  const DEST = 31338n;
  const onRamp = contract(A.DevnetCcipOnRamp, await deploy(A.DevnetCcipOnRamp, deployer, [router.address, DEST]));
  const FEE = 10n ** 15n;
  await onRamp.send(deployer, "setFee", [weth.address, FEE]);
  await onRamp.send(deployer, "addToken", [usdc.address]);
  // applyRampUpdates([{DEST, onRamp}], [], [{DEST, relayer}]): arrays of static tuples
  const rampData =
    `0x${A.Router.methodIdentifiers["applyRampUpdates((uint64,address)[],(uint64,address)[],(uint64,address)[])"]}` +
    encodeStatic("uint256", 96) + encodeStatic("uint256", 96 + 96) + encodeStatic("uint256", 96 + 96 + 32) +
    pad32("1") + encodeStatic("uint64", DEST) + encodeStatic("address", onRamp.address) +
    pad32("0") +
    pad32("1") + encodeStatic("uint64", DEST) + encodeStatic("address", accounts[0]);
  await sendTx({ from: deployer, to: router.address, data: rampData }, "Router.applyRampUpdates");
  eq(await router.call("isChainSupported", [DEST]), true, "router supports the other devnet chain");
  const message = { receiver: bob, token: usdc.address, amount: 5n * U6, feeToken: "0x0000000000000000000000000000000000000000", extraArgs: `0x97a657c9${pad32("0")}` };
  const fee = BigInt(await rpc("eth_call", [{ to: router.address, data: ccipCalldata(A.Router, "getFee", DEST, message) }, "latest"]));
  eq(fee, FEE, "router getFee (native) = the on-ramp's flat fee");
  await usdc.send(alice, "approve", [router.address, message.amount]);
  const sent = await sendTx({ from: alice, to: router.address, data: ccipCalldata(A.Router, "ccipSend", DEST, message), value: `0x${fee.toString(16)}` }, "Router.ccipSend");
  eq(await usdc.call("balanceOf", [onRamp.address]), message.amount, "ccipSend locked the USDC in the on-ramp's pool");
  check(sent.logs.some((l) => l.address.toLowerCase() === onRamp.address.toLowerCase()), "the on-ramp recorded the message for the relayer");
}

// ----------------------------------------------------------------------------- main

async function main() {
  const argv = process.argv.slice(2);
  let anvil = null;
  const i = argv.indexOf("--rpc");
  if (i >= 0) {
    rpcUrl = argv[i + 1];
    if (!rpcUrl) throw new Error("--rpc needs a URL");
    console.log(`using existing node at ${rpcUrl}`);
  } else {
    anvil = await startAnvil();
  }
  const onSignal = async () => {
    if (anvil) await anvil.stop();
    process.exit(130);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  let error = null;
  try {
    await scenario();
  } catch (e) {
    error = e;
  } finally {
    if (anvil) await anvil.stop();
  }
  if (error) {
    if (!String(error.message).startsWith("check failed")) failed++;
    console.error(`smoke: ERROR ${error.stack || error}`);
  }
  console.log(`smoke: ${passed} passed, ${failed} failed`);
  process.exit(failed || error ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
