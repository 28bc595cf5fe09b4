#!/usr/bin/env bash
# Install the pinned devnet toolchain (anvil, solc-js, FiatToken v2.2 / Uniswap V2
# artifacts, Chainlink contracts) from the npm registry only.
#
# Idempotent: re-running is a no-op when node_modules/ and vendor/ already match
# package.json + package-lock.json.  Needs only `node` (>= 20) and `npm` on PATH.
#
# stdout: exactly one line, the absolute path of the anvil binary, so callers can do
#   ANVIL="$(tools/devnet/install.sh)"
# Progress messages go to stderr.
#
# Env:
#   DEVNET_FORCE=1   re-run `npm ci` and re-extract vendor packs even if up to date.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

log() { printf '[devnet/install] %s\n' "$*" >&2; }

command -v node >/dev/null 2>&1 || { log "node not found on PATH"; exit 1; }
command -v npm >/dev/null 2>&1 || { log "npm not found on PATH"; exit 1; }

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  log "node >= 20 required (found $(node --version))"
  exit 1
fi

force="${DEVNET_FORCE:-0}"

# ---------------------------------------------------------------------------
# 1. npm ci (skipped when the stamp matches package.json + package-lock.json)
# ---------------------------------------------------------------------------
want_stamp="$(node -e '
  const c = require("crypto"), fs = require("fs");
  const h = c.createHash("sha256");
  for (const f of ["package.json", "package-lock.json"]) h.update(fs.readFileSync(f));
  h.update(process.platform + "-" + process.arch + "-node" + process.versions.node.split(".")[0]);
  console.log(h.digest("hex"));
')"
stamp_file="node_modules/.rialto-devnet-stamp"
have_stamp="$(cat "$stamp_file" 2>/dev/null || true)"

if [ "$force" = "1" ] || [ "$have_stamp" != "$want_stamp" ] || [ ! -d node_modules ]; then
  log "running npm ci (pinned by package-lock.json)"
  # --ignore-scripts: the only install script is @foundry-rs/anvil's postinstall,
  # a fallback that is not needed when the platform package (which ships the
  # binary) was installed as an optional dependency.
  npm ci --ignore-scripts --no-audit --no-fund >&2
  printf '%s\n' "$want_stamp" > "$stamp_file"
else
  log "node_modules up to date (stamp ${want_stamp:0:12}), skipping npm ci"
fi

# ---------------------------------------------------------------------------
# 2. vendor packs: packages whose `npm install` is broken (e.g. git deps) are
#    fetched with `npm pack` (registry tarball, integrity-checked) and extracted.
# ---------------------------------------------------------------------------
mkdir -p vendor
node -e '
  const p = require("./package.json");
  for (const [name, v] of Object.entries(p.vendorPacks || {}))
    console.log([name, v.version, v.integrity, v.dir].join("\t"));
' | while IFS=$'\t' read -r name version integrity dir; do
  stamp="$dir/.rialto-vendor-stamp"
  if [ "$force" != "1" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$integrity" ]; then
    log "$name@$version already extracted in $dir"
    continue
  fi
  log "npm pack $name@$version -> vendor/"
  tgz="$(cd vendor && npm pack "$name@$version" --silent | tail -n 1)"
  tgz="vendor/$tgz"
  [ -f "$tgz" ] || { log "npm pack did not produce a tarball for $name@$version"; exit 1; }
  got="$(node -e '
    const c = require("crypto"), fs = require("fs");
    console.log("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
  ' "$tgz")"
  if [ "$got" != "$integrity" ]; then
    log "integrity mismatch for $tgz: want $integrity got $got"
    exit 1
  fi
  rm -rf "$dir.tmp" "$dir"
  mkdir -p "$dir.tmp"
  tar -xzf "$tgz" -C "$dir.tmp" --strip-components=1 --no-same-owner
  printf '%s\n' "$integrity" > "$dir.tmp/.rialto-vendor-stamp"
  mv "$dir.tmp" "$dir"
  log "extracted $name@$version into $dir"
done

# ---------------------------------------------------------------------------
# 3. locate and check the anvil binary
# ---------------------------------------------------------------------------
anvil_bin="$(node -e '
  const path = require("path");
  const arch = { x64: "amd64", arm64: "arm64" }[process.arch];
  const pkg = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const exe = process.platform === "win32" ? "anvil.exe" : "anvil";
  try {
    console.log(require.resolve(`${pkg}/bin/${exe}`, { paths: [process.cwd()] }));
  } catch (e) {
    console.error(`no anvil platform package ${pkg} installed: ${e.message}`);
    process.exit(1);
  }
')"
[ -x "$anvil_bin" ] || { log "anvil binary not executable: $anvil_bin"; exit 1; }
log "$("$anvil_bin" --version | head -n 1)"
printf '%s\n' "$anvil_bin"
