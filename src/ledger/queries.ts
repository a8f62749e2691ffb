import type { Ledger, LedgerAccount, LedgerReceipt } from "../core/mod.ts";
import type { Storage } from "../storage/mod.ts";

/** Most accounts one `accounts()` page returns. */
export const ACCOUNTS_PAGE_MAX = 1_000;

const ID_HEX_RE = /^[0-9a-f]{64}$/;

/**
 * An account by hex id (64 hex digits) or by name. An id is tried first: a
 * name may also be 64 hex digits, and then the id wins.
 */
export function findAccount(ledger: Ledger, idOrName: string): LedgerAccount | undefined {
  const text = idOrName.toLowerCase();
  if (ID_HEX_RE.test(text)) {
    const byId = ledger.account(Uint8Array.fromHex(text));
    if (byId !== undefined) return byId;
  }
  return ledger.accountByName(idOrName);
}

/** Accounts in ascending id order: at most `limit` (≤ ACCOUNTS_PAGE_MAX) after the hex id `after`. */
export function accountsPage(ledger: Ledger, o: { after?: string; limit?: number }): LedgerAccount[] {
  const limit = Math.min(Math.max(1, o.limit ?? ACCOUNTS_PAGE_MAX), ACCOUNTS_PAGE_MAX);
  const after = o.after?.toLowerCase();
  const out: LedgerAccount[] = [];
  for (const id of ledger.accountIds()) {
    if (after !== undefined && id.toHex() <= after) continue;
    const a = ledger.account(id);
    if (a !== undefined) out.push(a);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * The ledger's receipt for a transaction (hex id), if it was applied or
 * refused. The ledger service stores each receipt in the same turn as it
 * applies the transaction (the burst's group commit), and a restart's replay
 * stores it again, so storage answers alone: no read of the transaction's
 * bytes (a slice of its vertex's) and no call into the core.
 */
export function findReceipt(storage: Storage, txId: string): LedgerReceipt | undefined {
  const id = txId.toLowerCase();
  const kept = storage.getReceipt(id);
  if (kept === null) return undefined;
  return {
    code: kept.code as LedgerReceipt["code"],
    fee: kept.fee,
    ratePpb: kept.ratePpb,
    vertex: Uint8Array.fromHex(kept.vertex),
    timeMs: BigInt(kept.timeMs),
  };
}
