import type { Decision, SettledView } from "../consensus/mod.ts";
import type { SignedVertex } from "./types.ts";

/** What a restore rebuilds, and the stored decisions it takes on it. */
export interface RestoreScope {
  /** The transactions and conflict keys the restored vertices carry: judged by the decisions given, not as settled. */
  readonly mask: { readonly txs: Set<string>; readonly keys: Set<string> };
  /** The decisions to restore: those on what is rebuilt, and those on unknown ids that no cut settled. */
  readonly decisions: readonly Decision[];
}

/**
 * The scope of `Engine.restore`: `vertices` minus the settled `frontier`
 * are held again. Decisions on what a cut settled (the frontier, and
 * transactions carried by nothing restored) stay settled and are left out;
 * a decision on anything else unknown is a broken store, kept so that
 * consensus refuses it.
 */
export function restoreScope(
  vertices: readonly SignedVertex[],
  decisions: readonly Decision[],
  frontier: ReadonlySet<string>,
  settled: SettledView | undefined,
): RestoreScope {
  const held = vertices.filter((v) => !frontier.has(v.id));
  const mask = {
    txs: new Set(held.flatMap((v) => v.txs.map((t) => t.id))),
    keys: new Set(held.flatMap((v) => v.txs.map((t) => t.conflictKey))),
  };
  const restorable = new Set([...held.map((v) => v.id), ...mask.txs]);
  const settledAway = (d: Decision) =>
    d.kind === "vertex"
      ? frontier.has(d.id) || settled?.isSettled(d.id) === true
      : settled?.txStatus(d.id) !== undefined;
  return { mask, decisions: decisions.filter((d) => restorable.has(d.id) || !settledAway(d)) };
}
