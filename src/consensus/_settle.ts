/**
 * Settlement on the DAG held in memory (the cut itself is planned by cut.ts):
 * closing a cut drops what it settled, keeping its frontier as accepted
 * stubs; what is dropped is judged afterwards by the SettledView.
 */
import { acceptReady, reject } from "./_cascade.ts";
import type { Graph, TxState, VertexState } from "./_graph.ts";
import { type ConflictSet, SETTLED_WINNER } from "./conflicts.ts";
import { type Cut, type CutPlan, type CutVertexView, planCut } from "./cut.ts";
import { ConsensusError, type Decision } from "./types.ts";

export type PlannedCut = Extract<CutPlan, { kind: "cut" }>;

/** See {@linkcode DagConsensus.planCut}. */
export function planNextCut(g: Graph, boundaryMs: number, verticesMax: number, spacingMs = 0): CutPlan {
  const unsettled: CutVertexView[] = [];
  for (const v of g.vertices.values()) {
    if (!g.isStub(v)) unsettled.push(v);
  }
  return planCut(g.position, unsettled, boundaryMs, verticesMax, spacingMs);
}

/** See {@linkcode DagConsensus.cutOf}. */
export function cutOf(g: Graph, plan: PlannedCut): Cut {
  return {
    seq: g.seq + 1,
    boundaryMs: plan.boundaryMs,
    prevBoundaryMs: g.position.boundaryMs,
    vertices: plan.vertices,
    txIds: plan.vertices.flatMap((v) => g.vertices.get(v)?.txIds ?? []).sort(),
    frontier: plan.frontier,
    snapshotSafe: plan.snapshotSafe,
  };
}

/** See {@linkcode DagConsensus.applyCut}. */
export function applyCut(g: Graph, plan: PlannedCut): Cut {
  const cut = cutOf(g, plan);
  const keep = new Set(plan.frontier);
  const dropped: VertexState[] = [];
  for (const v of g.vertices.values()) {
    if (v.timestampMs < plan.boundaryMs && !keep.has(v.id)) {
      if (v.status === "processing") throw new Error(`Cannot settle: vertex ${v.id} below the cut is undecided`);
      dropped.push(v);
    }
  }
  for (const v of dropped) {
    g.vertices.delete(v.id);
    g.acceptedTips.delete(v.id);
  }
  for (const id of keep) toStub(g, g.vertices.get(id)!);
  for (const v of dropped) for (const c of v.carriers) dropCarrier(g, c);
  g.position = { boundaryMs: plan.boundaryMs, frontier: plan.frontier };
  g.seq = cut.seq;
  g.changed();
  return cut;
}

/** See {@linkcode DagConsensus.abandon}. */
export function abandon(g: Graph, vertexIds: readonly string[]): Decision[] {
  reject(g, [], [], vertexIds.filter((id) => g.vertices.get(id)?.status === "processing"));
  acceptReady(g);
  return g.takeDecisions();
}

/** See {@linkcode DagConsensus.addSettled}. */
export function addSettled(
  g: Graph,
  vertex: {
    readonly id: string;
    readonly parents: readonly string[];
    readonly timestampMs?: number;
    readonly author?: string;
  },
): void {
  if (g.vertices.has(vertex.id)) return;
  if (!g.position.frontier.includes(vertex.id)) {
    throw new ConsensusError(`Cannot hold vertex ${vertex.id} as settled: it is not on the settled frontier`);
  }
  g.vertices.set(vertex.id, {
    id: vertex.id,
    parents: [...vertex.parents],
    txIds: [],
    carriers: [],
    children: [],
    addedAtPoll: g.polls,
    timestampMs: vertex.timestampMs ?? 0,
    author: vertex.author ?? "",
    status: "accepted",
  });
  g.acceptedTips.add(vertex.id);
  g.changed();
}

/** See {@linkcode DagConsensus.notReachedFrom}. */
export function notReachedFrom(g: Graph, parents: readonly string[], targets: readonly string[]): string[] {
  const left = new Set(targets);
  const seen = new Set<string>();
  const stack = [...parents];
  while (stack.length > 0 && left.size > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    left.delete(id);
    const v = g.vertices.get(id);
    if (v !== undefined && !g.isStub(v)) stack.push(...v.parents);
  }
  return [...left].sort();
}

function toStub(g: Graph, v: VertexState): void {
  if (v.carriers.length === 0) return;
  const carriers = [...v.carriers];
  v.carriers = [];
  v.txIds = [];
  for (const c of carriers) dropCarrier(g, c);
}

/** Forgets a settled carrier, and its set once its winner is settled (later members are judged by the SettledView). */
function dropCarrier(g: Graph, carrierId: string): void {
  const carrier = g.carriers.get(carrierId);
  if (carrier === undefined) return;
  const key = g.txs.get(carrier.txId)?.conflictKey;
  const set = key === undefined ? undefined : g.sets.get(key);
  if (set !== undefined && set.accepted() === carrierId) {
    for (const m of set.members()) forgetCarrier(g, m);
    // Its other transactions lost when it was accepted; those left without carriers go too.
    dropSet(g, key!, set);
  } else {
    set?.forget(carrierId);
    forgetCarrier(g, carrierId);
    // A set late carriers of a settled winner brought back goes with its last member.
    if (set !== undefined && set.accepted() === SETTLED_WINNER && set.size() === 0) dropSet(g, key!, set);
  }
}

/** Forgets a settled set and its decided transactions that no carrier holds. */
function dropSet(g: Graph, key: string, set: ConflictSet): void {
  for (const t of set.txIds()) {
    const other = g.txs.get(t);
    if (other !== undefined && other.status !== "processing" && other.carriers.length === 0) dropTx(g, other);
  }
  g.sets.delete(key);
  g.processingSets.delete(key);
}

/** Removes a carrier, and its transaction once decided and carried by nothing held. */
function forgetCarrier(g: Graph, carrierId: string): void {
  const carrier = g.carriers.get(carrierId);
  if (carrier === undefined) return;
  g.carriers.delete(carrierId);
  const tx = g.txs.get(carrier.txId);
  if (tx === undefined) return;
  const i = tx.carriers.indexOf(carrierId);
  if (i >= 0) tx.carriers.splice(i, 1);
  if (tx.status === "processing" || tx.carriers.length > 0) return;
  dropTx(g, tx);
}

function dropTx(g: Graph, tx: TxState): void {
  g.txs.delete(tx.id);
  g.sets.get(tx.conflictKey)?.forgetTx(tx.id);
  for (const d of tx.deps) {
    const list = g.dependents.get(d)?.filter((t) => t !== tx.id);
    if (list === undefined || list.length === 0) g.dependents.delete(d);
    else g.dependents.set(d, list);
  }
}
