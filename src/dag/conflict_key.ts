/**
 * The consensus conflict key of a transaction: its account and nonce, as the
 * core writes them (32-byte account, u64 little-endian nonce), in hex. Two
 * transactions with one key conflict; at most one of them is ever accepted.
 */
import { fromHex, toHex } from "../keys/mod.ts";

/** The conflict key of (account, nonce): 80 hex digits. `account` is 32 bytes, or their lower-case hex. */
export function conflictKeyOf(account: Uint8Array | string, nonce: bigint): string {
  const n = new Uint8Array(8);
  new DataView(n.buffer).setBigUint64(0, nonce, true);
  return (typeof account === "string" ? account : toHex(account)) + toHex(n);
}

/** The account and nonce of a conflict key made by {@linkcode conflictKeyOf}. */
export function splitConflictKey(key: string): { account: Uint8Array; nonce: bigint } {
  const bytes = fromHex(key);
  return {
    account: bytes.subarray(0, 32),
    nonce: new DataView(bytes.buffer, bytes.byteOffset + 32, 8).getBigUint64(0, true),
  };
}
