// Starts what an SDK test talks to: `rialto devnet` (real anvil chains, manifest with funded
// payers) and `rialto serve` on SQLite in sandbox mode, with a merchant made by the CLI. The
// binary comes from RIALTO_BIN (tools/test.sh sets it).
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const bin = process.env.RIALTO_BIN ?? new URL("../../target/debug/rialto", import.meta.url).pathname;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The devnet's toolchain as tools/test.sh exports it: the anvil and Solana simnet binaries. */
export function toolchainEnv() {
  const env = {};
  for (const key of ["ANVIL_BIN", "SOLANA_SIMNET_BIN"]) if (process.env[key]) env[key] = process.env[key];
  return env;
}

/**
 * A devnet and a gateway; `solana: true` waits for the devnet's Solana simnet too; `env` adds settings (e.g. `RIALTO__WEBHOOKS__ALLOW_PRIVATE_TARGETS`).
 * Returns `{ base, keys, manifest, dir, stop }`.
 */
export async function startDevnetGateway({ name, settlementAddress, env: extra = {}, solana = false }) {
  const dir = mkdtempSync(join(tmpdir(), "rialto-sdk-"));
  const manifestPath = join(dir, "devnet.json");
  const env = { PATH: process.env.PATH, ...toolchainEnv(), ...extra };
  const devnet = spawn(bin, ["--config", "/nonexistent", "devnet", "--manifest", manifestPath], { env, stdio: "ignore" });
  let server;
  const stop = () => {
    server?.kill("SIGTERM");
    devnet.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 1200 && !existsSync(manifestPath); i++) await sleep(50);
    if (!existsSync(manifestPath)) throw new Error("devnet did not write its manifest");
    let manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    // The Solana section is added once the simnet is up and funded, after the EVM chains; the
    // gateway reads the manifest once, at start.
    for (let i = 0; solana && !manifest.solana && i < 1200; i++) {
      await sleep(50);
      manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
    }
    if (solana && !manifest.solana) {
      throw new Error("the devnet has no Solana chain: build it with `cargo build -p rialto-solana-simnet` or set SOLANA_SIMNET_BIN");
    }
    const db = `sqlite://${join(dir, "r.db")}`;
    const keys = JSON.parse(execFileSync(bin, ["--config", "/nonexistent", "merchants", "create", "--name", name,
      "--settlement-asset", "usdc", "--settlement-chain", "devnet-base", "--settlement-address", settlementAddress,
      "--database-url", db, "--json"], { env }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    server = spawn(bin, ["--config", "/nonexistent", "serve", "--listen", `127.0.0.1:${port}`,
      "--database-url", db, "--devnet-manifest", manifestPath], { env, stdio: "ignore" });
    // Up to 60 s: startup loads the sanctions lists, slower on a loaded machine.
    for (let i = 0; i < 1200; i++) {
      try {
        if ((await fetch(`${base}/health`)).ok) return { base, keys, manifest, dir, stop };
      } catch {}
      await sleep(50);
    }
    throw new Error("gateway did not start");
  } catch (err) {
    stop();
    throw err;
  }
}
