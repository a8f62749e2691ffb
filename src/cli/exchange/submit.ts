/**
 * Sending a transaction: build it with the WASM core, sign it, submit it to
 * the exchange API and wait for the ledger's receipt (--no-wait returns at
 * once); a refusal prints what its code means.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import {
  encodeTransaction,
  transactionId,
  type TransactionPayload,
  transactionSigningMessage,
  type UnsignedTransaction,
} from "../../core/mod.ts";
import { fromHex, toHex } from "../../keys/mod.ts";
import { callNode } from "../_client.ts";
import { CliError } from "../_errors.ts";
import { BASE, type Ctx, getOrNull, type Json, json, str, WAIT_TIMEOUT_MS } from "./context.ts";
import type { Signer } from "./signers.ts";
import { amountArg } from "./values.ts";

const POLL_MS = 200;

/** What each ledger refusal means (wasm/LEDGER.md). */
export const REFUSALS: Record<string, string> = {
  wrong_chain: "the transaction is for another chain",
  unknown_account: "the signing account does not exist on the ledger",
  bad_signature: "the signature does not verify with the account's key",
  account_exists: "the account already exists",
  nonce_too_low: "the nonce was already used (another transaction of this account came first)",
  nonce_too_high: "the account's previous transaction is not accepted yet",
  time_regressed: "the ledger time went backwards for this account",
  not_authorized: "the signer does not hold the role this transaction needs",
  config_locked: "the configuration is locked and its grace period is over",
  already_locked: "the configuration is already locked",
  not_locked: "the configuration is not locked",
  config_hash_mismatch: "the configuration changed since its hash was read",
  name_taken: "the account name is taken",
  unknown_recipient: "the recipient account does not exist",
  attestation_expired: "the attestation's expiry is not in the future",
  not_attested: "the account has no attestation",
  amount_overflow: "the amount would overflow the supply counters",
  supply_cap_exceeded: "the mint would exceed the supply cap",
  fee_exceeds_max_fee: "the fee is more than the transaction's max fee (raise --max-fee)",
  insufficient_funds: "the balance is less than the amount plus the fee",
};

export interface Sent {
  id: string;
  state: string;
  receipt: Json | null;
}

export async function awaitReceipt(ctx: Ctx, id: string): Promise<Sent> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  let missing = 0;
  let state = "pending";
  while (true) {
    const view = await getOrNull(ctx, `/transactions/${id}`);
    if (view === null) {
      // The node took it, so "unknown" now means it dropped it (it could not be issued).
      if (++missing >= 5) {
        throw new CliError(
          "tx_dropped",
          `the node dropped transaction ${id}: it could not be issued (another transaction may hold this account's nonce)`,
        );
      }
    } else {
      state = String(view.state);
      if (state === "rejected") {
        throw new CliError(
          "tx_rejected",
          `transaction ${id} was rejected by consensus: another transaction of this account with the same nonce ` +
            `was accepted first (a transaction the ledger refused also holds its nonce)`,
        );
      }
      if (state === "accepted" && view.receipt) return { id, state, receipt: view.receipt as Json };
    }
    if (Date.now() >= deadline) {
      throw new CliError(
        "tx_timeout",
        `transaction ${id} has no receipt after ${WAIT_TIMEOUT_MS / 1000} s (state ${state}); it may still be ` +
          `accepted: GET ${BASE}/transactions/${id}`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The refusal for a signing key whose account is not on the ledger. */
export function signerNotOnLedger(signer: Signer): CliError {
  return new CliError("unknown_account", `${signer.source} signs for account ${signer.id}, which is not on the ledger`);
}

/** Signs `payload` as `signer`, submits it and (unless --no-wait) waits for the receipt. */
export async function send(
  ctx: Ctx,
  status: Json,
  signer: Signer,
  payload: TransactionPayload,
  maxFee: bigint,
): Promise<Sent> {
  let nonce = 0n;
  if (payload.kind !== "create_account") {
    const account = await getOrNull(ctx, `/accounts/${signer.id}`);
    if (account === null) throw signerNotOnLedger(signer);
    nonce = BigInt(String(account.nextNonce));
  }
  const unsigned = {
    chainId: fromHex(String(status.chainId)),
    account: fromHex(signer.id),
    nonce,
    timestampMs: BigInt(Date.now()),
    maxFee,
    ...payload,
  } as UnsignedTransaction;
  const signature = ml_dsa87.sign(transactionSigningMessage(unsigned), signer.secretKey);
  const bytes = encodeTransaction({ ...unsigned, signature });
  const id = toHex(transactionId(bytes));
  const { json: took } = await callNode(ctx.client, "POST", `${BASE}/transactions`, { bytes });
  if (took.id !== id) throw new CliError("node_error", `the node answered transaction id ${took.id}, expected ${id}`);
  if (ctx.parsed.flags["--no-wait"] === true) return { id, state: String(took.state), receipt: null };
  return await awaitReceipt(ctx, id);
}

/** Prints the outcome; a refusal receipt is `error: <message> [<code>]` and exit 1. */
export function report(ctx: Ctx, sent: Sent, done: (receipt: Json) => string): number {
  const r = sent.receipt;
  if (json(ctx)) ctx.io.out(JSON.stringify(sent, null, 2));
  if (r === null) {
    if (!json(ctx)) ctx.io.out(`submitted ${sent.id} (${sent.state}); not waiting for its receipt`);
    return 0;
  }
  if (r.code !== "ok") {
    const code = String(r.code);
    ctx.io.err(`error: transaction ${sent.id} refused by the ledger: ${REFUSALS[code] ?? code} [${code}]`);
    return 1;
  }
  if (!json(ctx)) ctx.io.out(`${done(r)}\ntransaction ${sent.id}`);
  return 0;
}

export function maxFeeArg(ctx: Ctx): bigint | undefined {
  const v = str("--max-fee", ctx.parsed, false);
  return v === undefined ? undefined : amountArg("--max-fee", v, true);
}

/**
 * How long a command waits for an account it names to reach this node: one
 * created through another node a moment ago is applied here within about a
 * second (consensus and gossip).
 */
export const ACCOUNT_WAIT_MS = 3_000;

/** A ledger account by name or id; 404 (after ACCOUNT_WAIT_MS) becomes `code`. */
export async function ledgerAccount(ctx: Ctx, ref: string, code: string, role: string): Promise<Json> {
  const until = Date.now() + ACCOUNT_WAIT_MS;
  for (;;) {
    const a = await getOrNull(ctx, `/accounts/${ref}`);
    if (a !== null) return a;
    if (Date.now() >= until) {
      throw new CliError(code, `no account "${ref}" on the ledger (${role}; by name or 64-hex-digit id)`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
