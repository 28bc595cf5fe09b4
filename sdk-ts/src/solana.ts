// Solana Pay helpers on @solana/kit: read and write the Solana Pay transfer URL of an intent,
// pay it with a `transferChecked` on whichever token program owns the mint (classic SPL Token
// or Token-2022, creating the recipient's associated token account when it is missing), prove
// the payment is the payer's (ed25519 over `Rialto: fund <intent> with <signature>`), report
// the signature, then follow the intent with `RialtoClient.waitForIntent`. Import from
// `@rialto/sdk/solana` so nothing else loads @solana/kit.
import {
  address,
  appendTransactionMessageInstructions,
  createKeyPairSignerFromBytes,
  createSignableMessage,
  createTransactionMessage,
  getBase58Encoder,
  getBase64EncodedWireTransaction,
  getSignatureFromTransaction,
  isAddress,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
  type Address,
  type Instruction,
  type MessagePartialSigner,
  type Rpc,
  type SolanaRpcApi,
  type TransactionSigner,
} from "@solana/kit";
import {
  findAssociatedTokenPda,
  getCreateAssociatedTokenIdempotentInstruction,
  getTransferCheckedInstruction,
  TOKEN_PROGRAM_ADDRESS,
} from "@solana-program/token";

import { type PaymentIntent, RialtoClient, paymentMessage } from "./client.js";
import { SolanaPayUrlError, buildSolanaPayUrl, parseSolanaPayUrl, type SolanaPayTransferRequest } from "./solana-pay.js";

export { SolanaPayUrlError, buildSolanaPayUrl, parseSolanaPayUrl };
export type { SolanaPayTransferRequest };

/** Token-2022's program: its `transferChecked` and associated accounts are laid out as SPL Token's. */
export const TOKEN_2022_PROGRAM_ADDRESS = address("TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb");

/** What a Solana intent asks for: whole units of `mint` to `recipient` (the owner, not a token account). */
export interface SolanaTransfer {
  recipient: Address;
  mint: Address;
  /** Whole units as the intent states them, e.g. `"25.00"`. */
  amount: string;
}

/** The transfer a Solana intent asks for; throws unless it settles in a token on a Solana chain. */
export function solanaTransferFor(intent: Pick<PaymentIntent, "amount" | "settlement">): SolanaTransfer {
  const assetId = intent.settlement.asset_id;
  const mint = assetId.startsWith("solana:") ? assetId.split("/token:")[1] : undefined;
  if (!mint || !isAddress(mint)) throw new Error(`${assetId} is not a token on a Solana chain`);
  const recipient = intent.settlement.address;
  if (!isAddress(recipient)) throw new Error(`${recipient} is not a Solana address`);
  return { recipient, mint, amount: intent.amount };
}

/**
 * The Solana Pay transfer request URL a wallet scans to pay `intent`: its settlement address,
 * amount and mint (`solana:<recipient>?amount=…&spl-token=…`), with an optional label and
 * message shown to the payer. A URL-paid transfer still needs its signature reported with the
 * payer's proof ({@link reportSolanaPayment}) unless the gateway learns of it otherwise.
 */
export function solanaPayUrlForIntent(
  intent: Pick<PaymentIntent, "amount" | "settlement">,
  extra: { label?: string; message?: string; memo?: string } = {},
): string {
  const { recipient, mint, amount } = solanaTransferFor(intent);
  return buildSolanaPayUrl({ recipient, amount, splToken: mint, references: [], ...extra });
}

/** `amount` (a plain decimal string) in base units of a mint with `decimals`; exact or an error. */
export function toBaseUnits(amount: string, decimals: number): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(amount);
  if (!match) throw new Error(`${JSON.stringify(amount)} is not a plain decimal amount`);
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  if (fraction.length > decimals) throw new Error(`${amount} has more decimals than the mint's ${decimals}`);
  return BigInt(match[1] + fraction.padEnd(decimals, "0"));
}

/** The mint's token program (SPL Token or Token-2022) and decimals, read from the chain. */
export async function readMint(rpc: Rpc<SolanaRpcApi>, mint: Address): Promise<{ program: Address; decimals: number }> {
  const { value } = await rpc.getAccountInfo(mint, { encoding: "base64" }).send();
  if (!value) throw new Error(`mint ${mint} does not exist on this chain`);
  const program = value.owner;
  if (program !== TOKEN_PROGRAM_ADDRESS && program !== TOKEN_2022_PROGRAM_ADDRESS) {
    throw new Error(`${mint} is owned by ${program}, not a token program`);
  }
  const data = Buffer.from(value.data[0], "base64");
  // Both programs share the base Mint layout: authority option (36) and supply (8), then decimals.
  if (data.length < 82) throw new Error(`${mint} is not a mint account`);
  return { program, decimals: data[44] };
}

export interface SolanaPayer {
  rpc: Rpc<SolanaRpcApi>;
  /** Pays the fee, the recipient's token account rent when it is created, and signs the transfer. */
  payer: TransactionSigner;
  /** How long to wait for `confirmed` (default 60 s). */
  timeoutMs?: number;
}

/**
 * Sends `transferChecked` of `amount` of `mint` from the payer's associated token account to the
 * recipient's, creating the latter (idempotently) when missing, and waits for `confirmed`.
 * Returns the transaction signature (base58).
 */
export async function sendSolanaTransfer(ctx: SolanaPayer, transfer: SolanaTransfer): Promise<string> {
  const { rpc, payer } = ctx;
  const { program, decimals } = await readMint(rpc, transfer.mint);
  const amount = toBaseUnits(transfer.amount, decimals);
  const ata = async (owner: Address) =>
    (await findAssociatedTokenPda({ owner, mint: transfer.mint, tokenProgram: program }))[0];
  const [source, destination] = [await ata(payer.address), await ata(transfer.recipient)];
  const instructions: Instruction[] = [];
  const existing = await rpc.getAccountInfo(destination, { encoding: "base64" }).send();
  if (!existing.value) {
    instructions.push(getCreateAssociatedTokenIdempotentInstruction({
      payer, ata: destination, owner: transfer.recipient, mint: transfer.mint, tokenProgram: program,
    }));
  }
  instructions.push(getTransferCheckedInstruction(
    { source, mint: transfer.mint, destination, authority: payer, amount, decimals },
    { programAddress: program },
  ));
  const { value: blockhash } = await rpc.getLatestBlockhash({ commitment: "confirmed" }).send();
  const message = pipe(
    createTransactionMessage({ version: 0 }),
    (m) => setTransactionMessageFeePayerSigner(payer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash(blockhash, m),
    (m) => appendTransactionMessageInstructions(instructions, m),
  );
  const signed = await signTransactionMessageWithSigners(message);
  const signature = getSignatureFromTransaction(signed);
  // Preflight simulates first: a transfer the chain would refuse is never sent.
  await rpc.sendTransaction(getBase64EncodedWireTransaction(signed), {
    encoding: "base64",
    preflightCommitment: "confirmed",
  }).send();
  await waitConfirmed(rpc, signature, blockhash.lastValidBlockHeight, ctx.timeoutMs ?? 60_000);
  return signature;
}

/** Polls (no websocket needed) until `confirmed`; throws if it failed or its blockhash expired unseen. */
async function waitConfirmed(rpc: Rpc<SolanaRpcApi>, signature: string, lastValid: bigint, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  const sig = signature as Parameters<Rpc<SolanaRpcApi>["getSignatureStatuses"]>[0][number];
  for (;;) {
    const { value } = await rpc.getSignatureStatuses([sig]).send();
    const status = value[0];
    if (status?.err) throw new Error(`transaction ${signature} failed: ${JSON.stringify(status.err, (_, v) => (typeof v === "bigint" ? v.toString() : v))}`);
    if (status && (status.confirmationStatus === "confirmed" || status.confirmationStatus === "finalized")) return;
    const height = await rpc.getBlockHeight({ commitment: "confirmed" }).send();
    if (height > lastValid) throw new Error(`transaction ${signature} expired unconfirmed: nothing was paid`);
    if (Date.now() > deadline) throw new Error(`transaction ${signature} not confirmed after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The payer's proof that `signature` pays `intentId`: the ed25519 signature, in hex, of
 * `Rialto: fund <intent> with <signature>` ({@link paymentMessage}) by a key that sent the tokens.
 */
export async function solanaPayerProof(signer: MessagePartialSigner, intentId: string, signature: string): Promise<string> {
  const [signed] = await signer.signMessages([createSignableMessage(paymentMessage(intentId, signature))]);
  const bytes = signed[signer.address];
  if (!bytes) throw new Error(`the signer ${signer.address} did not sign the proof`);
  return Buffer.from(bytes).toString("hex");
}

export interface SolanaPayerContext extends SolanaPayer {
  /** A client with the publishable key (plus `clientSecret`) or the merchant's secret key. */
  rialto: RialtoClient;
  clientSecret?: string;
  payer: TransactionSigner & MessagePartialSigner;
}

/** Reports `signature` as the payment of `intentId` with the payer's proof; answers the intent. */
export async function reportSolanaPayment(
  ctx: Pick<SolanaPayerContext, "rialto" | "clientSecret" | "payer">,
  intentId: string,
  signature: string,
): Promise<PaymentIntent> {
  const proof = await solanaPayerProof(ctx.payer, intentId, signature);
  return ctx.rialto.submitTransaction(intentId, signature, { clientSecret: ctx.clientSecret, signature: proof });
}

/**
 * Pays a Solana intent: reads it, sends the `transferChecked` it asks for, waits for
 * `confirmed`, and reports the signature with the payer's proof. Follow it to the end with
 * `rialto.waitForIntent(intent.id, { clientSecret })`.
 */
export async function payWithSolanaTransfer(
  ctx: SolanaPayerContext,
  intentId: string,
): Promise<{ intent: PaymentIntent; signature: string }> {
  const query = ctx.clientSecret ? { client_secret: ctx.clientSecret } : undefined;
  const intent = await ctx.rialto.request<PaymentIntent>("GET", `/v1/payment_intents/${encodeURIComponent(intentId)}`, { query });
  const signature = await sendSolanaTransfer(ctx, solanaTransferFor(intent));
  return { intent: await reportSolanaPayment(ctx, intentId, signature), signature };
}

/** A signer from a wallet's exported secret key: base58 of the 64-byte keypair. */
export function signerFromBase58(secret: string) {
  return createKeyPairSignerFromBytes(getBase58Encoder().encode(secret));
}
