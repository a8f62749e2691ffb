import type { Decision } from "../consensus/mod.ts";
import type { DecisionStore } from "./types.ts";

/** A DecisionStore in memory, for simulations and tests. */
export class MemoryDecisionStore implements DecisionStore {
  readonly #status = new Map<string, Decision>();
  readonly #log: Decision[] = [];

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
}
