import type { StoredCut } from "../storage/mod.ts";
import { LedgerServiceError } from "./halt.ts";
import type { CutFold } from "./types.ts";

/**
 * Compares a cut folded again during a restore with the statement this node
 * made of it, if any; throws `checkpoint_mismatch` when they differ.
 */
export function checkReplayedCut(cut: StoredCut, fold: CutFold | null): void {
  if (fold === null || cut.statement === null) return;
  // The statement ends with: state hash (32), journal hash (32), previous digest (32).
  const s = cut.statement;
  const stateHash = s.subarray(s.length - 96, s.length - 64).toHex();
  const journalHash = s.subarray(s.length - 64, s.length - 32).toHex();
  if (stateHash !== fold.stateHash.toHex() || journalHash !== fold.journalHash.toHex()) {
    throw new LedgerServiceError(
      `replaying cut ${cut.seq} gives state hash ${fold.stateHash.toHex()}, but this node signed ${stateHash}`,
      "checkpoint_mismatch",
    );
  }
}
