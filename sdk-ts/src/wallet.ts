// Wallet helpers on viem: pay an intent gaslessly with an EIP-3009 authorization, or send the
// transfer yourself and prove it is yours, then follow the intent. Import from
// `@rialto/sdk/wallet` so a merchant's server never loads viem.
import {
  erc20Abi,
  parseUnits,
  type Account,
  type Address,
  type Hex,
  type PublicClient,
  type WalletClient,
} from "viem";

import { type PaymentIntent, RialtoClient } from "./client.js";

/** EIP-712 typed data for `TransferWithAuthorization`, as the gateway answers it. */
export interface AuthorizationRequest {
  object: "authorization_request";
  payment_intent: string;
  primary_type: "TransferWithAuthorization";
  domain: { name: string; version: string; chainId: number; verifyingContract: string };
  types: Record<string, { name: string; type: string }[]>;
  message: { to: string; value: string; validAfter: string; validBefore: string; nonce: string };
}

/** A relayed EIP-3009 authorization; the intent succeeds once its transaction is confirmed. */
export interface PaymentAuthorization {
  object: "payment_authorization";
  payment_intent: string;
  chain: string;
  tx_hash: string;
  status: "relayed";
}

export interface PayerContext {
  /** A client with the publishable key (plus `clientSecret`) or the merchant's secret key. */
  rialto: RialtoClient;
  /** The intent's `client_secret`; required with a publishable key. */
  clientSecret?: string;
  /** A viem wallet client; its `account` (or `account` here) pays. */
  wallet: WalletClient;
  account?: Account;
}

function payer(ctx: PayerContext): Account {
  const account = ctx.account ?? ctx.wallet.account;
  if (!account) throw new Error("the wallet client has no account: pass `account`");
  return account;
}

const path = (id: string, tail = "") => `/v1/payment_intents/${encodeURIComponent(id)}${tail}`;

/** Reads the typed data and signs it (`eth_signTypedData_v4`) as the payer; nothing is sent. */
export async function signAuthorization(
  ctx: PayerContext,
  intentId: string,
): Promise<{ request: AuthorizationRequest; from: Address; signature: Hex }> {
  const account = payer(ctx);
  const query = ctx.clientSecret ? { client_secret: ctx.clientSecret } : undefined;
  const request = await ctx.rialto.request<AuthorizationRequest>("GET", path(intentId, "/authorization_request"), { query });
  const { to, value, validAfter, validBefore, nonce } = request.message;
  const signature = await ctx.wallet.signTypedData({
    account,
    domain: { ...request.domain, verifyingContract: request.domain.verifyingContract as Address },
    types: { TransferWithAuthorization: request.types.TransferWithAuthorization },
    primaryType: "TransferWithAuthorization",
    message: {
      from: account.address,
      to: to as Address,
      value: BigInt(value),
      validAfter: BigInt(validAfter),
      validBefore: BigInt(validBefore),
      nonce: nonce as Hex,
    },
  });
  return { request, from: account.address, signature };
}

/**
 * Pays an intent gaslessly: signs its EIP-3009 authorization and has the gateway relay it.
 * Safe to call again after a failure: the nonce is the intent's, so it can pay only once.
 */
export async function payWithAuthorization(ctx: PayerContext, intentId: string): Promise<PaymentAuthorization> {
  const { request, from, signature } = await signAuthorization(ctx, intentId);
  const m = request.message;
  const body = {
    from,
    to: m.to,
    value: m.value,
    valid_after: m.validAfter,
    valid_before: m.validBefore,
    nonce: m.nonce,
    signature,
    chain_id: request.domain.chainId,
    ...(ctx.clientSecret ? { client_secret: ctx.clientSecret } : {}),
  };
  return ctx.rialto.request<PaymentAuthorization>("POST", path(intentId, "/authorizations"), { body }, {
    // One key per intent: a retry after a lost answer replays the first relay, never a second.
    idempotencyKey: `pay_authorization_${intentId}`,
  });
}

/**
 * Pays an intent with an ordinary ERC-20 transfer from the payer to the settlement address,
 * waits for it to be mined, and reports it with the payer's proof (`personal_sign` of
 * `Rialto: fund <intent> with <tx hash>`). Returns the intent and the transaction hash.
 */
export async function payWithTransfer(
  ctx: PayerContext & { publicClient: PublicClient },
  intentId: string,
): Promise<{ intent: PaymentIntent; txHash: Hex }> {
  const account = payer(ctx);
  const query = ctx.clientSecret ? { client_secret: ctx.clientSecret } : undefined;
  const intent = await ctx.rialto.request<PaymentIntent>("GET", path(intentId), { query });
  const token = intent.settlement.asset_id.split("/erc20:")[1] as Address | undefined;
  if (!token) throw new Error(`${intent.settlement.asset_id} is not an ERC-20 asset`);
  const decimals = await ctx.publicClient.readContract({ address: token, abi: erc20Abi, functionName: "decimals" });
  const txHash = await ctx.wallet.writeContract({
    account,
    chain: ctx.wallet.chain ?? null,
    address: token,
    abi: erc20Abi,
    functionName: "transfer",
    args: [intent.settlement.address as Address, parseUnits(intent.amount, decimals)],
  });
  await ctx.publicClient.waitForTransactionReceipt({ hash: txHash });
  const reported = await ctx.rialto.submitTransaction(intentId, txHash, {
    clientSecret: ctx.clientSecret,
    sign: (message) => ctx.wallet.signMessage({ account, message }),
  });
  return { intent: reported, txHash };
}
