// The Solana Pay helpers (@rialto/sdk/solana, on @solana/kit) against a real `rialto serve` on
// the devnet's Solana simnet (`rialto devnet` with rialto-solana-simnet, SOLANA_SIMNET_BIN):
// a wallet reads the intent's Solana Pay URL, pays it with `transferChecked` (creating the
// merchant's token account), proves the payment with its ed25519 key, reports the signature
// and follows the intent to `succeeded`: USDC on classic SPL Token, PYUSD on Token-2022.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createSolanaRpc, generateKeyPairSigner } from "@solana/kit";
import { findAssociatedTokenPda } from "@solana-program/token";
import { RialtoClient, RialtoError } from "../dist/index.js";
import {
  TOKEN_2022_PROGRAM_ADDRESS,
  parseSolanaPayUrl,
  payWithSolanaTransfer,
  readMint,
  reportSolanaPayment,
  sendSolanaTransfer,
  signerFromBase58,
  solanaPayUrlForIntent,
  solanaTransferFor,
} from "../dist/solana.js";
import { startDevnetGateway } from "./harness.mjs";

const EVM_MERCHANT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
let gw, rpc, merchant;

before(async () => {
  gw = await startDevnetGateway({ name: "Solana shop", settlementAddress: EVM_MERCHANT, solana: true });
  rpc = createSolanaRpc(gw.manifest.solana.rpc_url);
  merchant = new RialtoClient({ apiKey: gw.keys.secret_key, baseUrl: gw.base });
});

after(() => gw?.stop());

/** An intent of `amount` USD settled in `asset` on the simnet to `owner` (default: a fresh wallet). */
async function solanaIntent(asset, amount, owner) {
  owner ??= (await generateKeyPairSigner()).address;
  const intent = await merchant.createPaymentIntent({
    amount, currency: "usd", settlement: { asset, chain: "devnet-solana", address: owner },
  });
  return { intent, owner };
}

async function tokenBalance(owner, mint, program) {
  const [ata] = await findAssociatedTokenPda({ owner, mint, tokenProgram: program });
  return (await rpc.getTokenAccountBalance(ata).send()).value.amount;
}

test("a wallet pays a USDC intent from its Solana Pay URL, proves it, and the intent succeeds with the merchant paid exactly", async () => {
  const { intent, owner } = await solanaIntent("usdc", "25.00");
  const mint = gw.manifest.solana.tokens.USDC.mint;
  // What a wallet scans: the intent's settlement address, amount and mint, read back strictly.
  const url = solanaPayUrlForIntent(intent, { label: "Solana shop" });
  assert.equal(url, `solana:${owner}?amount=25&spl-token=${mint}&label=Solana%20shop`);
  const scanned = parseSolanaPayUrl(url, { decimals: 6 });
  assert.deepEqual(scanned, { recipient: owner, amount: "25", splToken: mint, references: [], label: "Solana shop" });
  assert.equal((await readMint(rpc, mint)).decimals, 6);
  // The merchant's wallet has no USDC account yet: the payment creates it.
  assert.equal((await rpc.getAccountInfo((await findAssociatedTokenPda({ owner, mint, tokenProgram: "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA" }))[0]).send()).value, null);

  const payer = await signerFromBase58(gw.manifest.solana.payers[0].secret_key);
  const wallet = new RialtoClient({ apiKey: gw.keys.publishable_key, baseUrl: gw.base });
  const clientSecret = intent.client_secret;
  const { intent: reported, signature } = await payWithSolanaTransfer({ rialto: wallet, clientSecret, rpc, payer }, intent.id);
  assert.match(signature, /^[1-9A-HJ-NP-Za-km-z]{64,88}$/);
  assert.ok(["awaiting_funds", "funds_received", "settling", "succeeded"].includes(reported.status), reported.status);
  const done = await wallet.waitForIntent(intent.id, { clientSecret });
  assert.equal(done.status, "succeeded");
  assert.equal(await tokenBalance(owner, mint, "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"), "25000000");

  // The signature paid this intent: it can pay no other of the same merchant, even proven again.
  const { intent: other } = await solanaIntent("usdc", "25.00", owner);
  await assert.rejects(
    reportSolanaPayment({ rialto: merchant, payer }, other.id, signature),
    (err) => err instanceof RialtoError && err.code === "transaction_already_used",
  );
});

test("a PYUSD intent is paid with transferChecked on Token-2022 and succeeds", async () => {
  const { intent, owner } = await solanaIntent("pyusd", "7.5");
  const transfer = solanaTransferFor(intent);
  assert.equal(transfer.mint, gw.manifest.solana.tokens.PYUSD.mint);
  assert.equal((await readMint(rpc, transfer.mint)).program, TOKEN_2022_PROGRAM_ADDRESS);
  const payer = await signerFromBase58(gw.manifest.solana.payers[1].secret_key);
  const { intent: reported } = await payWithSolanaTransfer({ rialto: merchant, rpc, payer }, intent.id);
  assert.equal(reported.id, intent.id);
  assert.equal((await merchant.waitForIntent(intent.id)).status, "succeeded");
  assert.equal(await tokenBalance(owner, transfer.mint, TOKEN_2022_PROGRAM_ADDRESS), "7500000");
});

test("a payment proven by a key that did not send it is refused and the intent keeps waiting", async () => {
  const { intent } = await solanaIntent("usdc", "1.00");
  const payer = await signerFromBase58(gw.manifest.solana.payers[2].secret_key);
  const signature = await sendSolanaTransfer({ rpc, payer }, solanaTransferFor(intent));
  const stranger = await generateKeyPairSigner();
  await assert.rejects(
    reportSolanaPayment({ rialto: merchant, payer: stranger }, intent.id, signature),
    (err) => err instanceof RialtoError && err.code === "payer_proof_invalid",
  );
  assert.equal((await merchant.retrievePaymentIntent(intent.id)).status, "awaiting_funds");
  // The payer's own proof is accepted for the same transfer.
  await reportSolanaPayment({ rialto: merchant, payer }, intent.id, signature);
  assert.equal((await merchant.waitForIntent(intent.id)).status, "succeeded");
});

test("Solana Pay URLs that break a rule are refused with the gateway's codes", () => {
  const to = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN";
  const cases = [
    [`solana:${to}?amount=1e3`, "amount_scientific_notation"],
    [`solana:${to}?amount=-1`, "amount_negative"],
    [`solana:${to}?amount=.5`, "amount_leading_zero_missing"],
    [`solana:${to}?amount=1&amount=1000`, "duplicate_field"],
    [`solana:${to}?amount=0.0000001&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v`, "amount_too_many_decimals"],
    [`solana:${to}?spl-token=notakey`, "spl_token_invalid"],
    [`solana:${to}?reference=0x12`, "reference_invalid"],
    [`solana:${to}?label=a b`, "character_not_encoded"],
    [`solana:${to}?label=%zz`, "percent_encoding_invalid"],
    [`solana:${to}#x`, "fragment_not_allowed"],
    ["ethereum:0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "protocol_invalid"],
    ["solana:", "recipient_missing"],
    ["solana:0OIl", "recipient_invalid"],
    ["solana:https%3A%2F%2Fshop.example%2Fpay", "transaction_request_unsupported"],
  ];
  for (const [url, code] of cases) {
    assert.throws(() => parseSolanaPayUrl(url, { decimals: 6 }), (err) => err.code === code, `${url} → ${code}`);
  }
  // The spec's own example with its query opened by `&`, and `+` read as a space.
  assert.deepEqual(parseSolanaPayUrl(`solana:${to}&label=Michael+S`), { recipient: to, references: [], label: "Michael S" });
});
