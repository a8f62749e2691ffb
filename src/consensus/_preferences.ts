/**
 * Preferences that survive a restart. A node that restarts forgets its
 * Snowball state, and a set that rebuilds it from nothing starts on its
 * lowest member. In a contest that need not be what it voted for before: an
 * honest validator that forgot its side counts as a faulty one (wasm/LEDGER.md,
 * "Breaking a stalled split"), and with a Byzantine validator beside it, two
 * of four. The crash scenario of the simulation met exactly that (seed
 * 935680277): one honest validator accepted x, the one that restarted came
 * back preferring y like the third, and the Byzantine validator held the
 * 2-1 split tied for good, with a virtuous transaction carried above it.
 *
 * So the Snowball preference of every contested set (two or more members)
 * is recorded when a poll changes it, and adopted again when the node
 * restarts. Sets with one member need nothing: they prefer it either way. A
 * set that is decided has its record dropped.
 */
import type { ConflictSet } from "./conflicts.ts";
import type { Graph } from "./_graph.ts";
import type { PreferenceRecord } from "./types.ts";

/** Notes the preferences of the contested sets just polled, and drops the records of sets no longer processing. */
export function notePreferences(g: Graph, contested: readonly ConflictSet[]): void {
  for (const set of contested) {
    const member = set.choice();
    if (member === null || g.recordedPreferences.get(set.key) === member) continue;
    g.recordedPreferences.set(set.key, member);
    g.preferenceChanges.push({ conflictKey: set.key, member });
  }
  for (const key of g.recordedPreferences.keys()) {
    if (g.sets.get(key)?.processing()) continue;
    g.recordedPreferences.delete(key);
    g.preferenceChanges.push({ conflictKey: key, member: null });
  }
}

/**
 * Adopts the preferences read back after a restart, where the set is still
 * processing and the member alive; the records of the others are dropped at
 * the next poll. Returns how many were adopted.
 */
export function restorePreferences(g: Graph, records: readonly PreferenceRecord[]): number {
  let restored = 0;
  for (const { conflictKey, member } of records) {
    if (member === null) continue;
    g.recordedPreferences.set(conflictKey, member);
    if (g.sets.get(conflictKey)?.restoreChoice(member)) restored++;
  }
  return restored;
}
