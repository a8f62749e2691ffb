import type { Cut, Decision, PreferenceRecord, SettledView } from "../consensus/mod.ts";
import type { DecisionStore } from "./types.ts";

/** A DecisionStore in memory, for simulations and tests. */
export class MemoryDecisionStore implements DecisionStore {
  readonly #status = new Map<string, Decision>();
  readonly #log: Decision[] = [];
  readonly #cuts: Cut[] = [];
  readonly #settled = new Set<string>();
  readonly #settledTxs = new Set<string>();
  readonly #preferences = new Map<string, string>();

  record(decisions: readonly Decision[]): void {
    for (const d of decisions) {
      const key = `${d.kind}:${d.id}`;
      const prior = this.#status.get(key);
      if (prior !== undefined && prior.status !== d.status) {
        throw new Error(`Cannot record ${key} as ${d.status}: already recorded as ${prior.status}`);
      }
      this.#status.set(key, d);
      this.#log.push(d);
    }
  }

  recordPreferences(changes: readonly PreferenceRecord[]): void {
    for (const { conflictKey, member } of changes) {
      if (member === null) this.#preferences.delete(conflictKey);
      else this.#preferences.set(conflictKey, member);
    }
  }

  /** The preferences recorded and not dropped, in the order their keys were first recorded. */
  preferences(): PreferenceRecord[] {
    return [...this.#preferences].map(([conflictKey, member]) => ({ conflictKey, member }));
  }

  recordCut(cut: Cut): void {
    const last = this.#cuts.at(-1);
    if (cut.seq !== (last?.seq ?? 0) + 1) {
      throw new Error(`Cannot record cut ${cut.seq}: the last recorded one is ${last?.seq ?? 0}`);
    }
    this.#cuts.push(cut);
    for (const v of cut.vertices) this.#settled.add(v);
    for (const t of cut.txIds) this.#settledTxs.add(t);
  }

  status(kind: "tx" | "vertex", id: string): Decision["status"] | undefined {
    return this.#status.get(`${kind}:${id}`)?.status;
  }

  /** Accepted ids of one kind, sorted. */
  accepted(kind: "tx" | "vertex"): string[] {
    const out: string[] = [];
    for (const d of this.#status.values()) if (d.kind === kind && d.status === "accepted") out.push(d.id);
    return out.sort();
  }

  log(): readonly Decision[] {
    return this.#log;
  }

  cuts(): readonly Cut[] {
    return this.#cuts;
  }

  /** What this store knows of settled vertices and transactions; `keyOf` gives a transaction's conflict key. */
  settledView(keyOf: (txId: string) => string | undefined): SettledView {
    return {
      isSettled: (id) => this.#settled.has(id),
      txStatus: (id) =>
        this.#settledTxs.has(id) ? "accepted" : this.status("tx", id) === "rejected" ? "rejected" : undefined,
      winner: (key) => {
        for (const t of this.#settledTxs) if (keyOf(t) === key) return t;
        return null;
      },
    };
  }
}
