import {
  type Decision,
  type DecisionStatus,
  type Storage,
  StorageError,
  type StoredTransaction,
  type StoredVertex,
} from "./types.ts";
import { SCHEMA_VERSION } from "./migrations.ts";

interface State {
  meta: Map<string, string>;
  vertices: Map<string, StoredVertex>;
  children: Map<string, Set<string>>;
  decisions: Map<string, Decision>;
  transactions: Map<string, StoredTransaction>;
}

function cloneState(s: State): State {
  return {
    meta: new Map(s.meta),
    vertices: new Map(s.vertices),
    children: new Map([...s.children].map(([k, v]) => [k, new Set(v)])),
    decisions: new Map(s.decisions),
    transactions: new Map(s.transactions),
  };
}

/** In-memory storage with the same semantics as SQLite, for tests and light nodes. */
export class MemoryStorage implements Storage {
  readonly kind = "memory" as const;
  readonly schemaVersion = SCHEMA_VERSION;
  #s: State = {
    meta: new Map(),
    vertices: new Map(),
    children: new Map(),
    decisions: new Map(),
    transactions: new Map(),
  };
  #closed = false;

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
    if (s.vertices.has(v.id)) return false;
    const stored: StoredVertex = {
      ...v,
      bytes: v.bytes.slice(),
      parents: [...v.parents].sort(),
    };
    s.vertices.set(v.id, stored);
    for (const p of stored.parents) {
      let set = s.children.get(p);
      if (!set) s.children.set(p, set = new Set());
      set.add(v.id);
    }
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

  tips(): string[] {
    const s = this.#open();
    return [...s.vertices.keys()].filter((id) => !(s.children.get(id)?.size)).sort();
  }
  vertexIdsInOrder(): string[] {
    return [...this.#open().vertices.values()]
      .sort((a, b) => (a.round < b.round ? -1 : a.round > b.round ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((v) => v.id);
  }

  putTransaction(t: StoredTransaction): boolean {
    const s = this.#open();
    if (s.transactions.has(t.id)) return false;
    s.transactions.set(t.id, { ...t, bytes: t.bytes.slice() });
    return true;
  }
  getTransaction(id: string): StoredTransaction | null {
    const t = this.#open().transactions.get(id);
    return t ? { ...t, bytes: t.bytes.slice() } : null;
  }
  conflicting(conflictKey: string): string[] {
    return [...this.#open().transactions.values()].filter((t) => t.conflictKey === conflictKey).map((t) => t.id).sort();
  }

  putDecision(d: Decision): void {
    const s = this.#open();
    const prev = s.decisions.get(d.id);
    if (prev) {
      if (prev.status !== d.status || prev.subject !== d.subject) {
        throw new StorageError(
          "storage_conflict",
          `${d.subject} ${d.id} was already ${prev.status}; cannot record it as ${d.status}`,
        );
      }
      return;
    }
    s.decisions.set(d.id, { ...d });
  }
  getDecision(id: string): Decision | null {
    const d = this.#open().decisions.get(id);
    return d ? { ...d } : null;
  }
  allDecisions(): Decision[] {
    return [...this.#open().decisions.values()].map((d) => ({ ...d }));
  }
  decisionCounts(): Record<DecisionStatus, number> {
    const out = { accepted: 0, rejected: 0 };
    for (const d of this.#open().decisions.values()) out[d.status]++;
    return out;
  }

  transaction<T>(fn: () => T): T {
    const before = cloneState(this.#open());
    try {
      return fn();
    } catch (e) {
      this.#s = before;
      throw e;
    }
  }
  checkWritable(): void {
    this.#open();
  }
  close(): void {
    this.#closed = true;
  }
}
