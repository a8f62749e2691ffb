/**
 * The DAG service's metrics: vertices received by origin and outcome,
 * refusals by reason (every reason present from the start, at zero), the
 * vertices waiting for parents, and the unsettled vertices tracked for
 * admission.
 */
import { REJECT_REASONS } from "../dag/admission.ts";
import type { Registry } from "../metrics/mod.ts";

export class DagMetrics {
  readonly #received;
  readonly #rejected;
  readonly #waiting;

  /** `tracked`: how many unsettled vertices the service holds, read at each collection. */
  constructor(registry: Registry, tracked: () => number) {
    this.#received = registry.counter(
      "qudag_dag_vertices_received_total",
      "Vertices received, by origin and outcome.",
      ["origin", "result"],
    );
    this.#rejected = registry.counter(
      "qudag_dag_vertices_rejected_total",
      "Vertices refused, by reason (admission reasons and the core's error codes).",
      ["reason"],
    );
    this.#waiting = registry.gauge("qudag_dag_orphans", "Vertices waiting for missing parents.");
    const gauge = registry.gauge(
      "qudag_dag_vertices_tracked",
      "Unsettled vertices the DAG service holds for admission checks.",
    );
    registry.onCollect(() => gauge.set({}, tracked()));
    for (const r of REJECT_REASONS) this.#rejected.inc({ reason: r }, 0);
  }

  received(origin: string, result: "admitted" | "duplicate" | "waiting" | "rejected"): void {
    this.#received.inc({ origin, result });
  }

  rejected(reason: string): void {
    this.#rejected.inc({ reason });
  }

  waiting(count: number): void {
    this.#waiting.set({}, count);
  }
}
