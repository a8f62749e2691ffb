/**
 * Restore after a restart: reinstating the decisions read back from the
 * decision store on a DAG rebuilt vertex by vertex, and refusing outcomes
 * that contradict each other.
 */
import { acceptable, acceptReady, acceptVertex, reject } from "./_cascade.ts";
import type { Graph, VertexState } from "./_graph.ts";
import { type Decision, RestoreError } from "./types.ts";

/** See {@linkcode DagConsensus.restoreDecisions}. */
export function restoreDecisions(g: Graph, decided: readonly Decision[]): Decision[] {
  if (g.polls > 0) {
    throw new RestoreError(`Cannot restore decisions: ${g.polls} polls were recorded already`);
  }
  const given = new Map<string, Decision["status"]>();
  for (const d of decided) {
    const known = d.kind === "tx" ? g.txs.has(d.id) : g.vertices.has(d.id);
    if (!known) {
      throw new RestoreError(
        `Cannot restore: ${d.kind} ${d.id} was decided ${d.status} but is in no restored vertex`,
      );
    }
    const key = `${d.kind}:${d.id}`;
    if ((given.get(key) ?? d.status) !== d.status) {
      throw new RestoreError(`Cannot restore: ${d.kind} ${d.id} was decided both accepted and rejected`);
    }
    given.set(key, d.status);
  }
  const pick = (kind: Decision["kind"], status: Decision["status"]) =>
    [...new Set(decided.filter((d) => d.kind === kind && d.status === status).map((d) => d.id))].sort();

  const winners = new Map<string, string>();
  for (const id of pick("tx", "accepted")) {
    const key = g.txs.get(id)!.conflictKey;
    const prior = winners.get(key);
    if (prior !== undefined) {
      throw new RestoreError(
        `Cannot restore: ${prior} and ${id} were both accepted, and both have conflict key ${key}`,
      );
    }
    winners.set(key, id);
  }
  acceptInOrder(g, new Set(pick("vertex", "accepted")));
  for (const id of pick("tx", "accepted")) {
    if (g.txs.get(id)!.status !== "accepted") {
      throw new RestoreError(`Cannot restore: tx ${id} was decided accepted, but no vertex carrying it was`);
    }
  }
  reject(g, pick("tx", "rejected"), [], pick("vertex", "rejected"));
  acceptReady(g);

  for (const [key, status] of given) {
    const [kind, id] = [key.slice(0, key.indexOf(":")), key.slice(key.indexOf(":") + 1)];
    const now = kind === "tx" ? g.txs.get(id)!.status : g.vertices.get(id)!.status;
    if (now !== status) {
      throw new RestoreError(
        `Cannot restore: ${kind} ${id} was decided ${status}, but the other decisions leave it ${now}`,
      );
    }
  }
  return g.takeDecisions().filter((d) => given.get(`${d.kind}:${d.id}`) !== d.status);
}

/** Accepts the vertices decided accepted, or throws why one of them cannot be. */
function acceptInOrder(g: Graph, acceptedVertices: ReadonlySet<string>): void {
  // In insertion order (parents first); dependencies may come later, so pass until no progress.
  let waiting = [...g.vertices.keys()].filter((id) => acceptedVertices.has(id));
  while (waiting.length > 0) {
    const blocked: string[] = [];
    for (const id of waiting) {
      const v = g.vertices.get(id)!;
      if (v.status === "accepted") continue;
      const problem = restoreProblem(g, v);
      if (problem !== null) {
        throw new RestoreError(`Cannot restore: vertex ${id} was decided accepted, but ${problem}`);
      }
      if (acceptable(g, v, false)) acceptVertex(g, v);
      else blocked.push(id);
    }
    if (blocked.length === waiting.length) {
      const v = g.vertices.get(blocked[0])!;
      const parent = v.parents.find((p) => g.statusOf(p) !== "accepted");
      const dep = v.carriers.flatMap((c) => g.txs.get(g.carriers.get(c)!.txId)!.deps)
        .find((d) => g.txs.get(d)?.status !== "accepted");
      throw new RestoreError(
        `Cannot restore: vertex ${v.id} was decided accepted, but ${
          parent !== undefined ? `its parent ${parent} is not` : `its dependency ${dep} is not`
        }`,
      );
    }
    waiting = blocked;
  }
}

/** Why `v`, decided accepted, cannot be: null if nothing rules it out. */
function restoreProblem(g: Graph, v: VertexState): string | null {
  if (v.status === "rejected") return "the other decisions reject it";
  for (const c of v.carriers) {
    const carrier = g.carriers.get(c)!;
    const tx = g.txs.get(carrier.txId)!;
    if (tx.status === "rejected") return `its transaction ${tx.id} lost its conflict set or a dependency`;
    const winner = g.sets.get(tx.conflictKey)!.accepted();
    if (winner !== null && winner !== c) {
      const other = g.carriers.get(winner);
      if (other === undefined) return `conflict set ${tx.conflictKey} was decided by a settled transaction`;
      return `${other.txId} in vertex ${other.vertexId} was accepted too, in conflict set ${tx.conflictKey}`;
    }
  }
  return null;
}
