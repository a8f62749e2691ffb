/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges
 * and histograms with labels, plus collectors called at scrape time. Names
 * follow Prometheus' rules, which `promtool check metrics` checks (a CI test):
 * `_total` only on counters, units last (`_seconds`, `_bytes`).
 * Hand-written because the npm client (prom-client) depends on Node's cluster
 * and process APIs; this is ~150 lines with exact control over the output.
 */

export type Labels = Record<string, string>;

type Kind = "counter" | "gauge" | "histogram";

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Bound on distinct label sets per metric, so a label bug can't eat memory. */
export const SERIES_PER_METRIC_MAX = 10_000;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((n) => labels[n] ?? "").join("\u0000");
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: Kind,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL_RE.test(l)) throw new Error(`invalid label name ${l} on ${name}`);
  }
  protected checkLabels(labels: Labels): void {
    for (const n of this.labelNames) {
      if (labels[n] === undefined) throw new Error(`metric ${this.name} needs label ${n}`);
    }
  }
  abstract render(): string[];
}

export class Counter extends Metric {
  #values = new Map<string, { labels: string[]; value: number }>();
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, "counter", labelNames);
  }
  /**
   * For a counter mirrored from a running total kept elsewhere (rows counted by
   * storage, the engine's poll statistics), set at scrape time. The source only
   * grows; when it starts over (a new process, a store moved aside for a state
   * sync) the counter resets, which is what Prometheus' rate() expects.
   */
  set(labels: Labels, value: number): void {
    if (!(value >= 0)) throw new Error(`counter ${this.name} cannot be set to ${value}`);
    this.checkLabels(labels);
    const key = labelKey(this.labelNames, labels);
    const cur = this.#values.get(key);
    if (cur) cur.value = value;
    else if (this.#values.size < SERIES_PER_METRIC_MAX) {
      this.#values.set(key, { labels: this.labelNames.map((n) => labels[n]), value });
    }
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`counter ${this.name} can only increase by a non-negative number, got ${by}`);
    this.checkLabels(labels);
    const key = labelKey(this.labelNames, labels);
    const cur = this.#values.get(key);
    if (cur) cur.value += by;
    else if (this.#values.size < SERIES_PER_METRIC_MAX) {
      this.#values.set(key, { labels: this.labelNames.map((n) => labels[n]), value: by });
    }
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }
  render(): string[] {
    return [...this.#values.values()].map((s) =>
      `${this.name}${renderLabels(this.labelNames, s.labels)} ${formatNumber(s.value)}`
    );
  }
}

export class Gauge extends Metric {
  #values = new Map<string, { labels: string[]; value: number }>();
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, "gauge", labelNames);
    // Prometheus (and `promtool check metrics`) keep the _total suffix for counters.
    if (name.endsWith("_total")) {
      throw new Error(
        `gauge ${name} ends in _total, which Prometheus keeps for counters: make it a counter or rename it`,
      );
    }
  }
  set(labels: Labels, value: number): void {
    this.checkLabels(labels);
    const key = labelKey(this.labelNames, labels);
    const cur = this.#values.get(key);
    if (cur) cur.value = value;
    else if (this.#values.size < SERIES_PER_METRIC_MAX) {
      this.#values.set(key, { labels: this.labelNames.map((n) => labels[n]), value });
    }
  }
  inc(labels: Labels = {}, by = 1): void {
    this.set(labels, this.get(labels) + by);
  }
  /** Drops one series (a state label that no longer holds). */
  remove(labels: Labels): void {
    this.#values.delete(labelKey(this.labelNames, labels));
  }
  dec(labels: Labels = {}, by = 1): void {
    this.set(labels, this.get(labels) - by);
  }
  get(labels: Labels = {}): number {
    return this.#values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }
  render(): string[] {
    return [...this.#values.values()].map((s) =>
      `${this.name}${renderLabels(this.labelNames, s.labels)} ${formatNumber(s.value)}`
    );
  }
}

export const DEFAULT_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram extends Metric {
  #series = new Map<string, { labels: string[]; counts: number[]; sum: number; count: number }>();
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[] = [], buckets = DEFAULT_BUCKETS_S) {
    super(name, help, "histogram", labelNames);
    if (labelNames.includes("le")) throw new Error(`histogram ${name} cannot have a label named le`);
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels, value: number): void {
    this.checkLabels(labels);
    const key = labelKey(this.labelNames, labels);
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= SERIES_PER_METRIC_MAX) return;
      s = { labels: this.labelNames.map((n) => labels[n]), counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.#series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.#series.get(labelKey(this.labelNames, labels))?.count ?? 0;
  }
  render(): string[] {
    const lines: string[] = [];
    for (const s of this.#series.values()) {
      this.buckets.forEach((b, i) => {
        lines.push(
          `${this.name}_bucket${renderLabels(this.labelNames, s.labels, ["le", formatNumber(b)])} ${s.counts[i]}`,
        );
      });
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${this.name}_sum${renderLabels(this.labelNames, s.labels)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${renderLabels(this.labelNames, s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class Registry {
  #metrics = new Map<string, Metric>();
  #collectors: (() => void)[] = [];

  #add<M extends Metric>(m: M): M {
    const existing = this.#metrics.get(m.name);
    if (existing) {
      if (existing.kind !== m.kind) throw new Error(`metric ${m.name} already registered as ${existing.kind}`);
      return existing as M;
    }
    this.#metrics.set(m.name, m);
    return m;
  }
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }
  /** Called before each scrape, to refresh gauges from live state. */
  onCollect(fn: () => void): void {
    this.#collectors.push(fn);
  }
  render(): string {
    for (const fn of this.#collectors) fn();
    const out: string[] = [];
    for (const m of [...this.#metrics.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      out.push(`# HELP ${m.name} ${m.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      out.push(`# TYPE ${m.name} ${m.kind}`);
      out.push(...m.render());
    }
    return out.join("\n") + "\n";
  }
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Registers process_* metrics refreshed at scrape time. `startTimeS` is the process start. */
export function registerProcessMetrics(reg: Registry, startTimeS: number, now: () => number): void {
  const rss = reg.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const heap = reg.gauge("process_heap_bytes", "V8 heap used in bytes.");
  const heapTotal = reg.gauge("process_heap_total_bytes", "V8 heap reserved in bytes (used and free).");
  const external = reg.gauge(
    "process_external_memory_bytes",
    "Memory outside the V8 heap that JavaScript objects hold (ArrayBuffer and Uint8Array contents, the WASM core).",
  );
  const start = reg.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.");
  const uptime = reg.gauge("process_uptime_seconds", "Seconds since the process started.");
  const cpu = reg.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.");
  const loadavg = reg.gauge("node_load1", "One-minute load average of the machine.");
  start.set({}, startTimeS);
  reg.onCollect(() => {
    const mem = Deno.memoryUsage();
    rss.set({}, mem.rss);
    heap.set({}, mem.heapUsed);
    heapTotal.set({}, mem.heapTotal);
    external.set({}, mem.external);
    uptime.set({}, Math.max(0, now() / 1000 - startTimeS));
    try {
      loadavg.set({}, Deno.loadavg()[0]);
    } catch {
      // loadavg needs --allow-sys; absent under the node's narrow flags.
    }
    try {
      const usage = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process
        ?.cpuUsage?.();
      if (usage) cpu.set({}, (usage.user + usage.system) / 1e6);
    } catch {
      // not available in this runtime
    }
  });
}

/**
 * `qudag_exchange_info`: whether this node serves the rUv exchange and in what
 * state its ledger is; always 1, the facts are labels. Refreshed at scrape time.
 */
export function registerExchangeInfo(
  reg: Registry,
  facts: () => { served: boolean; nodeType: string; ledger: "running" | "halted" | "none" },
): void {
  const info = reg.gauge(
    "qudag_exchange_info",
    "The rUv exchange on this node: API served or off, node type, ledger running, halted or none; always 1.",
    ["api", "node_type", "ledger"],
  );
  let last: Labels | null = null;
  reg.onCollect(() => {
    const f = facts();
    const labels = { api: f.served ? "served" : "off", node_type: f.nodeType, ledger: f.ledger };
    if (last !== null && labelKey(info.labelNames, last) !== labelKey(info.labelNames, labels)) info.remove(last);
    info.set(labels, 1);
    last = labels;
  });
}
