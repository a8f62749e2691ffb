import {
  type Decision,
  type DecisionStatus,
  type DecisionSubject,
  type HistoryEntry,
  type PreferenceRow,
  type Storage,
  StorageError,
  type StoredCertificate,
  type StoredCut,
  type StoredReceipt,
  type StoredTransaction,
  type StoredVertex,
  type TransactionOptions,
  type TxDecisionAndReceipt,
} from "./types.ts";
import { SCHEMA_VERSION } from "./migrations.ts";
import { MemoryVaultStore } from "./vault_memory.ts";
import {
  checkCertificate,
  checkCut,
  checkCutStatement,
  checkDecision,
  checkHistoryPage,
  checkKeep,
  checkLimit,
  checkReceipt,
  checkSeq,
  checkTimestampBackfill,
  checkVertex,
  compareVertexOrder,
  CUTS_FROM_LIMIT_DEFAULT,
} from "./_rules.ts";

interface VertexKey {
  readonly timestampMs: number;
  readonly round: bigint;
  readonly id: string;
}

interface State {
  meta: Map<string, string>;
  vertices: Map<string, StoredVertex>;
  /** The keys of `vertices` in (timestamp, round, id) order, as SQLite's index vertices_by_ts. */
  order: VertexKey[];
  children: Map<string, Set<string>>;
  transactions: Map<string, StoredTransaction>;
  byConflict: Map<string, Set<string>>;
  /** Conflict key -> "vertex\ttx" of every carrier. */
  carriers: Map<string, Set<string>>;
  decisions: Map<string, Decision>;
  preferences: Map<string, string>;
  decisionCounts: Record<DecisionSubject, Record<DecisionStatus, number>>;
  receipts: Map<string, StoredReceipt>;
  /** Receipts stored so far: the next one's seq is receiptCount + 1 (SQLite's rowid). */
  receiptCount: number;
  /** Per account, [seq, tx id] in ascending seq (appended only). */
  history: Map<string, [number, string][]>;
  /** Contiguous (putCut's rule): cuts[i].seq === cuts[0].seq + i. */
  cuts: StoredCut[];
  certificates: Map<number, StoredCertificate>;
  latestCertificateSeq: number | null;
  snapshots: Map<number, Uint8Array>;
}

function emptyState(): State {
  return {
    meta: new Map(),
    vertices: new Map(),
    order: [],
    children: new Map(),
    transactions: new Map(),
    byConflict: new Map(),
    carriers: new Map(),
    decisions: new Map(),
    preferences: new Map(),
    decisionCounts: { tx: { accepted: 0, rejected: 0 }, vertex: { accepted: 0, rejected: 0 } },
    receipts: new Map(),
    receiptCount: 0,
    history: new Map(),
    cuts: [],
    certificates: new Map(),
    latestCertificateSeq: null,
    snapshots: new Map(),
  };
}

/** Stored values are never mutated in place (only replaced), so a shallow copy of each collection will do. */
function cloneState(s: State): State {
  const sets = (m: Map<string, Set<string>>) => new Map([...m].map(([k, v]) => [k, new Set(v)]));
  return {
    ...s,
    meta: new Map(s.meta),
    vertices: new Map(s.vertices),
    order: [...s.order],
    children: sets(s.children),
    transactions: new Map(s.transactions),
    byConflict: sets(s.byConflict),
    decisions: new Map(s.decisions),
    preferences: new Map(s.preferences),
    decisionCounts: { tx: { ...s.decisionCounts.tx }, vertex: { ...s.decisionCounts.vertex } },
    receipts: new Map(s.receipts),
    history: new Map([...s.history].map(([k, v]) => [k, [...v]])),
    cuts: [...s.cuts],
    certificates: new Map(s.certificates),
    snapshots: new Map(s.snapshots),
  };
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, set = new Set());
  set.add(id);
}

/** Index of the first key with a timestamp at or above `timestampMs`. */
function lowerBound(order: readonly VertexKey[], timestampMs: number): number {
  let lo = 0, hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order[mid].timestampMs < timestampMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function copyCut(c: StoredCut): StoredCut {
  return {
    ...c,
    frontier: [...c.frontier],
    statement: c.statement?.slice() ?? null,
    signature: c.signature?.slice() ?? null,
  };
}

function copyCertificate(c: StoredCertificate): StoredCertificate {
  return {
    ...c,
    statement: c.statement.slice(),
    signatures: c.signatures.map((s) => ({ validator: s.validator, signature: s.signature.slice() })),
  };
}

/** In-memory storage with the same semantics as SQLite, for tests and light nodes. */
export class MemoryStorage implements Storage {
  readonly kind = "memory" as const;
  readonly schemaVersion = SCHEMA_VERSION;
  #s: State = emptyState();
  #closed = false;
  readonly vault = new MemoryVaultStore(() => void this.#open());

  #open(): State {
    if (this.#closed) throw new StorageError("storage_closed", "storage is closed");
    return this.#s;
  }

  getMeta(key: string): string | null {
    return this.#open().meta.get(key) ?? null;
  }
  setMeta(key: string, value: string): void {
    this.#open().meta.set(key, value);
  }

  putVertex(v: StoredVertex): boolean {
    const s = this.#open();
    checkVertex(v);
    if (s.vertices.has(v.id)) return false;
    const stored: StoredVertex = { ...v, bytes: v.bytes.slice(), parents: [...v.parents].sort() };
    s.vertices.set(v.id, stored);
    const key = { timestampMs: v.timestampMs, round: v.round, id: v.id };
    let lo = 0, hi = s.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareVertexOrder(s.order[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    s.order.splice(lo, 0, key);
    for (const p of stored.parents) addTo(s.children, p, v.id);
    return true;
  }
  getVertex(id: string): StoredVertex | null {
    const v = this.#open().vertices.get(id);
    return v ? { ...v, bytes: v.bytes.slice(), parents: [...v.parents] } : null;
  }
  children(id: string): string[] {
    return [...(this.#open().children.get(id) ?? [])].sort();
  }
  vertexCount(): number {
    return this.#open().vertices.size;
  }
  verticesFrom(timestampMs: number): string[] {
    return this.#range(timestampMs, Infinity, false);
  }
  acceptedVerticesFrom(timestampMs: number): string[] {
    return this.#range(timestampMs, Infinity, true);
  }
  acceptedVerticesBetween(fromMs: number, toMs: number): string[] {
    return this.#range(fromMs, toMs, true);
  }
  #range(fromMs: number, toMs: number, acceptedOnly: boolean): string[] {
    const s = this.#open();
    // SQLite binds NaN as NULL, which compares true with nothing.
    if (Number.isNaN(fromMs) || Number.isNaN(toMs)) return [];
    const out: string[] = [];
    for (let i = lowerBound(s.order, fromMs); i < s.order.length && s.order[i].timestampMs < toMs; i++) {
      const id = s.order[i].id;
      if (acceptedOnly) {
        const d = s.decisions.get(id);
        if (d?.subject !== "vertex" || d.status !== "accepted") continue;
      }
      out.push(id);
    }
    return out;
  }
  vertexTimestamp(id: string): number | null {
    return this.#open().vertices.get(id)?.timestampMs ?? null;
  }
  vertexIdsWithoutTimestamp(limit: number): string[] {
    this.#open();
    checkLimit("limit of vertexIdsWithoutTimestamp()", limit);
    // Every vertex stored here came with its timestamp (putVertex checks it).
    return [];
  }
  setVertexTimestamp(id: string, timestampMs: number): void {
    // Returns false (same timestamp) or throws: no stored vertex here lacks one.
    checkTimestampBackfill(id, this.#open().vertices.get(id)?.timestampMs, timestampMs);
  }
  pruneVertexBodies(timestampMs: number): number {
    const s = this.#open();
    let pruned = 0;
    for (let i = 0, end = lowerBound(s.order, timestampMs); i < end; i++) {
      const v = s.vertices.get(s.order[i].id)!;
      if (v.bytes.length === 0) continue;
      s.vertices.set(v.id, { ...v, bytes: new Uint8Array(0) });
      pruned++;
    }
    return pruned;
  }

  putTransaction(t: StoredTransaction): boolean {
    const s = this.#open();
    addTo(s.carriers, t.conflictKey, `${t.vertex}\t${t.id}`);
    if (s.transactions.has(t.id)) return false;
    // Held whole: in memory a copy costs what the vertex's would (inVertexAt is for SQLite).
    s.transactions.set(t.id, {
      id: t.id,
      bytes: t.bytes.slice(),
      conflictKey: t.conflictKey,
      vertex: t.vertex,
      receivedAtMs: t.receivedAtMs,
    });
    addTo(s.byConflict, t.conflictKey, t.id);
    return true;
  }
  carriersOfConflict(conflictKey: string): { vertex: string; timestampMs: number }[] {
    const s = this.#open();
    const vertices = new Set([...(s.carriers.get(conflictKey) ?? [])].map((c) => c.split("\t")[0]));
    return [...vertices].filter((v) => s.vertices.has(v)).sort().map((vertex) => ({
      vertex,
      timestampMs: s.vertices.get(vertex)!.timestampMs,
    }));
  }
  vertexLinks(id: string): { parents: string[]; timestampMs: number } | null {
    const v = this.#open().vertices.get(id);
    return v ? { parents: [...v.parents], timestampMs: v.timestampMs } : null;
  }
  getTransaction(id: string): StoredTransaction | null {
    const t = this.#open().transactions.get(id);
    return t ? { ...t, bytes: t.bytes.slice() } : null;
  }
  conflicting(conflictKey: string): string[] {
    return [...(this.#open().byConflict.get(conflictKey) ?? [])].sort();
  }
  acceptedOfConflict(conflictKey: string): string | null {
    const s = this.#open();
    return this.conflicting(conflictKey).find((id) => {
      const d = s.decisions.get(id);
      return d?.subject === "tx" && d.status === "accepted";
    }) ?? null;
  }

  putDecision(d: Decision): boolean {
    const s = this.#open();
    if (!checkDecision(s.decisions.get(d.id) ?? null, d)) return false;
    s.decisions.set(d.id, { ...d });
    s.decisionCounts[d.subject][d.status]++;
    return true;
  }
  getDecision(id: string): Decision | null {
    const d = this.#open().decisions.get(id);
    return d ? { ...d } : null;
  }
  allDecisions(): Decision[] {
    return [...this.#open().decisions.values()].map((d) => ({ ...d }));
  }
  putPreferences(records: readonly PreferenceRow[]): void {
    const s = this.#open();
    for (const { conflictKey, member } of records) {
      if (member === null) s.preferences.delete(conflictKey);
      else s.preferences.set(conflictKey, member);
    }
  }
  preferences(): { conflictKey: string; member: string }[] {
    return [...this.#open().preferences].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map((
      [conflictKey, member],
    ) => ({ conflictKey, member }));
  }
  decisionCounts(): Record<DecisionStatus, number> {
    const { tx, vertex } = this.#open().decisionCounts;
    return { accepted: tx.accepted + vertex.accepted, rejected: tx.rejected + vertex.rejected };
  }
  decisionCountsBySubject(): Record<DecisionSubject, Record<DecisionStatus, number>> {
    const { tx, vertex } = this.#open().decisionCounts;
    return { tx: { ...tx }, vertex: { ...vertex } };
  }

  putReceipts(receipts: readonly StoredReceipt[], _options?: { grouped?: boolean }): void {
    const s = this.#open();
    // Every check before any write: the batch lands whole or not at all.
    for (const r of receipts) checkReceipt(r);
    for (const r of receipts) {
      if (s.receipts.has(r.txId)) continue;
      const { accounts, ...receipt } = r;
      s.receipts.set(r.txId, receipt);
      const seq = ++s.receiptCount;
      for (const account of new Set(accounts ?? [])) {
        let list = s.history.get(account);
        if (!list) s.history.set(account, list = []);
        list.push([seq, r.txId]);
      }
    }
  }
  accountHistory(account: string, beforeSeq: number | null, limit: number): HistoryEntry[] {
    checkHistoryPage(beforeSeq, limit);
    const s = this.#open();
    const list = s.history.get(account) ?? [];
    // Binary search for the first entry at or above beforeSeq, then walk down: the cost of SQLite's index range.
    let lo = 0, hi = list.length;
    const bound = beforeSeq ?? Number.MAX_SAFE_INTEGER;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (list[mid][0] < bound) lo = mid + 1;
      else hi = mid;
    }
    const out: HistoryEntry[] = [];
    for (let i = lo - 1; i >= 0 && out.length < limit; i--) {
      out.push({ seq: list[i][0], receipt: { ...s.receipts.get(list[i][1])! } });
    }
    return out;
  }
  getReceipt(txId: string): StoredReceipt | null {
    const r = this.#open().receipts.get(txId);
    return r ? { ...r } : null;
  }
  txDecisionsAndReceipts(txIds: readonly string[]): TxDecisionAndReceipt[] {
    const s = this.#open();
    return txIds.map((id) => ({
      status: s.decisions.get(id)?.status ?? null,
      receiptVertex: s.receipts.get(id)?.vertex ?? null,
    }));
  }

  putCut(cut: StoredCut): void {
    const s = this.#open();
    checkCut(cut, s.cuts.at(-1)?.seq ?? null);
    s.cuts.push(copyCut(cut));
  }
  setCutStatement(seq: number, statement: Uint8Array, digest: string, signature: Uint8Array | null): void {
    const s = this.#open();
    const at = this.#cutIndex(seq);
    const cut = at === null ? undefined : s.cuts[at];
    if (checkCutStatement(seq, cut?.digest, digest)) {
      s.cuts[at!] = { ...cut!, statement: statement.slice(), digest, signature: signature?.slice() ?? null };
    } else if (signature && cut!.signature === null) {
      s.cuts[at!] = { ...cut!, signature: signature.slice() };
    }
  }
  getCut(seq: number): StoredCut | null {
    const at = this.#cutIndex(seq);
    return at === null ? null : copyCut(this.#s.cuts[at]);
  }
  latestCut(): StoredCut | null {
    const last = this.#open().cuts.at(-1);
    return last ? copyCut(last) : null;
  }
  cutsFrom(seq: number, limit = CUTS_FROM_LIMIT_DEFAULT): StoredCut[] {
    const cuts = this.#open().cuts;
    checkLimit("limit of cutsFrom()", limit);
    if (cuts.length === 0 || Number.isNaN(seq)) return [];
    const start = Math.max(0, Math.ceil(seq) - cuts[0].seq);
    return cuts.slice(start, start + limit).map(copyCut);
  }
  #cutIndex(seq: number): number | null {
    const cuts = this.#open().cuts;
    const at = cuts.length === 0 ? -1 : seq - cuts[0].seq;
    return Number.isInteger(at) && at >= 0 && at < cuts.length ? at : null;
  }

  putCertificate(c: StoredCertificate): void {
    const s = this.#open();
    const checked = checkCertificate(s.certificates.get(c.seq)?.digest ?? null, c);
    if (!checked) return;
    s.certificates.set(checked.seq, checked);
    if (s.latestCertificateSeq === null || checked.seq > s.latestCertificateSeq) s.latestCertificateSeq = checked.seq;
  }
  getCertificate(seq: number): StoredCertificate | null {
    const c = this.#open().certificates.get(seq);
    return c ? copyCertificate(c) : null;
  }
  latestCertificate(): StoredCertificate | null {
    const s = this.#open();
    return s.latestCertificateSeq === null ? null : copyCertificate(s.certificates.get(s.latestCertificateSeq)!);
  }

  putSnapshot(seq: number, bytes: Uint8Array, keep: number): void {
    const s = this.#open();
    checkSeq("snapshot", seq);
    checkKeep(keep);
    s.snapshots.set(seq, bytes.slice());
    for (const old of this.snapshotSeqs().slice(keep)) s.snapshots.delete(old);
  }
  getSnapshot(seq: number): Uint8Array | null {
    return this.#open().snapshots.get(seq)?.slice() ?? null;
  }
  snapshotSeqs(): number[] {
    return [...this.#open().snapshots.keys()].sort((a, b) => b - a);
  }

  transaction<T>(fn: () => T, _options?: TransactionOptions): T {
    const before = cloneState(this.#open());
    try {
      return fn();
    } catch (e) {
      this.#s = before;
      throw e;
    }
  }
  syncCommitted(): Promise<void> {
    this.#open();
    return Promise.resolve();
  }
  checkWritable(): void {
    this.#open();
  }
  close(): void {
    this.#closed = true;
  }
}
