/**
 * The node's own metrics (build, crypto backend, starts, stored vertices and
 * decisions, storage health, HTTP durations); each service registers its own.
 */
import type { SelectedBackend } from "../crypto/select.ts";
import { type Gauge, type Histogram, registerProcessMetrics, Registry } from "../metrics/mod.ts";
import type { Storage } from "../storage/mod.ts";
import { buildInfo } from "../version.ts";

export interface NodeMetrics {
  readonly registry: Registry;
  /** qudag_storage_writable: set by the readiness check. */
  readonly storageWritable: Gauge;
  readonly requestDuration: Histogram;
}

export function registerNodeMetrics(o: {
  startedAtMs: number;
  nowMs: () => number;
  crypto: SelectedBackend;
  boots: number;
  /** The node's storage now (a state sync replaces it). */
  storage: () => Storage;
}): NodeMetrics {
  const registry = new Registry();
  registerProcessMetrics(registry, o.startedAtMs / 1000, o.nowMs);
  const info = buildInfo();
  registry.gauge("qudag_build_info", "Build information; always 1.", Object.keys(info)).set(info, 1);
  registry.gauge("qudag_crypto_backend_info", "Active crypto backend; always 1.", ["backend", "fallback"])
    .set({ backend: o.crypto.name, fallback: o.crypto.fallback ?? "none" }, 1);
  registry.gauge("qudag_node_boots", "How many times this data directory has started a node.").set({}, o.boots);
  const dagNodes = registry.counter("qudag_dag_nodes_total", "Vertices stored in the local DAG.");
  const txs = registry.counter("qudag_transactions_total", "Decided transactions by status.", ["status"]);
  const storageWritable = registry.gauge("qudag_storage_writable", "1 when the last storage write check passed.");
  registry.onCollect(() => {
    // Counters kept by storage as rows are written: constant time, whatever the chain's age.
    const storage = o.storage();
    dagNodes.set({}, storage.vertexCount());
    const counts = storage.decisionCountsBySubject().tx;
    for (const status of ["accepted", "rejected"] as const) txs.set({ status }, counts[status]);
  });
  const requestDuration = registry.histogram(
    "qudag_http_request_duration_seconds",
    "HTTP request duration by method, matched route and status.",
    ["method", "route", "status"],
  );
  return { registry, storageWritable, requestDuration };
}
