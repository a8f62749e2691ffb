import assert from "node:assert/strict";
import { CONTENT_TYPE, registerExchangeInfo, Registry, SERIES_PER_METRIC_MAX } from "./mod.ts";

Deno.test("Registry.render() writes a counter with HELP and TYPE lines", () => {
  const reg = new Registry();
  const c = reg.counter("qudag_requests_total", "Requests served.", ["method"]);
  c.inc({ method: "GET" });
  c.inc({ method: "GET" }, 2);
  c.inc({ method: "POST" });
  assert.equal(c.get({ method: "GET" }), 3);
  assert.equal(
    reg.render(),
    [
      "# HELP qudag_requests_total Requests served.",
      "# TYPE qudag_requests_total counter",
      'qudag_requests_total{method="GET"} 3',
      'qudag_requests_total{method="POST"} 1',
      "",
    ].join("\n"),
  );
});

Deno.test("Registry.render() writes a gauge without labels and sorts metrics by name", () => {
  const reg = new Registry();
  const g = reg.gauge("qudag_peers", "Connected peers.");
  reg.gauge("a_first", "First.").set({}, 1.5);
  g.set({}, 5);
  g.inc();
  g.dec({}, 3);
  assert.equal(g.get(), 3);
  assert.equal(
    reg.render(),
    [
      "# HELP a_first First.",
      "# TYPE a_first gauge",
      "a_first 1.5",
      "# HELP qudag_peers Connected peers.",
      "# TYPE qudag_peers gauge",
      "qudag_peers 3",
      "",
    ].join("\n"),
  );
});

Deno.test("Registry.render() escapes backslash, quote and newline in label values", () => {
  const reg = new Registry();
  reg.counter("x_total", "X.", ["path"]).inc({ path: 'a\\b"c\nd' });
  assert.ok(reg.render().includes('x_total{path="a\\\\b\\"c\\nd"} 1\n'), reg.render());
});

Deno.test("Registry.render() escapes backslash and newline in HELP text", () => {
  const reg = new Registry();
  reg.gauge("h", "line one\nback\\slash");
  assert.ok(reg.render().startsWith("# HELP h line one\\nback\\\\slash\n"), reg.render());
});

Deno.test("Histogram.render() writes cumulative buckets, +Inf, _sum and _count", () => {
  const reg = new Registry();
  const h = reg.histogram("lat_seconds", "Latency.", ["route"], [1, 0.1, 0.5]);
  assert.deepEqual(h.buckets, [0.1, 0.5, 1]);
  for (const v of [0.05, 0.1, 0.3, 0.7, 2]) h.observe({ route: "/a" }, v);
  assert.equal(h.count({ route: "/a" }), 5);
  assert.equal(
    reg.render(),
    [
      "# HELP lat_seconds Latency.",
      "# TYPE lat_seconds histogram",
      'lat_seconds_bucket{route="/a",le="0.1"} 2',
      'lat_seconds_bucket{route="/a",le="0.5"} 3',
      'lat_seconds_bucket{route="/a",le="1"} 4',
      'lat_seconds_bucket{route="/a",le="+Inf"} 5',
      'lat_seconds_sum{route="/a"} 3.15',
      'lat_seconds_count{route="/a"} 5',
      "",
    ].join("\n"),
  );
});

Deno.test("Histogram.render() without labels puts only le in braces", () => {
  const reg = new Registry();
  reg.histogram("h_seconds", "H.", [], [1]).observe({}, 0.5);
  const text = reg.render();
  assert.ok(text.includes('h_seconds_bucket{le="1"} 1\n'), text);
  assert.ok(text.includes('h_seconds_bucket{le="+Inf"} 1\n'), text);
  assert.ok(text.includes("h_seconds_sum 0.5\n"), text);
  assert.ok(text.includes("h_seconds_count 1\n"), text);
});

Deno.test("Counter.inc() refuses a negative increment", () => {
  const c = new Registry().counter("c_total", "C.");
  assert.throws(() => c.inc({}, -1), /can only increase/);
  assert.equal(c.get(), 0);
});

Deno.test("Counter.inc() refuses a NaN increment", () => {
  // NaN would poison the series for the life of the process.
  const c = new Registry().counter("nan_total", "N.");
  c.inc({}, 2);
  assert.throws(() => c.inc({}, NaN));
  assert.equal(c.get(), 2);
});

Deno.test("Registry.histogram() refuses a label named le", () => {
  // `le` is the bucket label; a second one would make the exposition invalid.
  assert.throws(() => new Registry().histogram("le_seconds", "L.", ["le"]));
});

Deno.test("Counter, Gauge and Histogram throw when a label is missing", () => {
  const reg = new Registry();
  assert.throws(() => reg.counter("c_total", "C.", ["a", "b"]).inc({ a: "1" }), /needs label b/);
  assert.throws(() => reg.gauge("g", "G.", ["a"]).set({}, 1), /needs label a/);
  assert.throws(() => reg.histogram("h", "H.", ["a"]).observe({ b: "x" }, 1), /needs label a/);
});

Deno.test("Registry refuses invalid metric and label names", () => {
  const reg = new Registry();
  assert.throws(() => reg.counter("bad-name", "B."), /invalid metric name/);
  assert.throws(() => reg.counter("ok_total", "B.", ["bad-label"]), /invalid label name/);
});

Deno.test("Registry returns the same metric when a name is registered twice with the same kind", () => {
  const reg = new Registry();
  const a = reg.counter("same_total", "Same.");
  const b = reg.counter("same_total", "Same.");
  assert.equal(a, b);
  a.inc();
  assert.equal(b.get(), 1);
});

Deno.test("Registry throws when a name is registered again as a different kind", () => {
  const reg = new Registry();
  reg.counter("dup", "Dup.");
  assert.throws(() => reg.gauge("dup", "Dup."), /already registered as counter/);
  assert.throws(() => reg.histogram("dup", "Dup."), /already registered as counter/);
});

Deno.test("Counter keeps at most SERIES_PER_METRIC_MAX label sets", () => {
  const reg = new Registry();
  const c = reg.counter("many_total", "Many.", ["id"]);
  const h = reg.histogram("many_seconds", "Many.", ["id"], [1]);
  for (let i = 0; i < SERIES_PER_METRIC_MAX + 5; i++) {
    c.inc({ id: String(i) });
    h.observe({ id: String(i) }, 0.5);
  }
  assert.equal(c.get({ id: String(SERIES_PER_METRIC_MAX - 1) }), 1);
  assert.equal(c.get({ id: String(SERIES_PER_METRIC_MAX) }), 0);
  assert.equal(h.count({ id: String(SERIES_PER_METRIC_MAX) }), 0);
  // Existing series keep counting after the cap is reached.
  c.inc({ id: "0" });
  assert.equal(c.get({ id: "0" }), 2);
  const lines = reg.render().split("\n").filter((l) => l.startsWith("many_total{"));
  assert.equal(lines.length, SERIES_PER_METRIC_MAX);
});

Deno.test("Registry.render() runs onCollect callbacks before writing", () => {
  const reg = new Registry();
  const g = reg.gauge("live", "Live value.");
  let calls = 0;
  reg.onCollect(() => g.set({}, ++calls * 10));
  assert.equal(calls, 0);
  assert.ok(reg.render().includes("live 10\n"));
  assert.ok(reg.render().includes("live 20\n"));
  assert.equal(calls, 2);
});

Deno.test("CONTENT_TYPE names text format 0.0.4", () => {
  assert.equal(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("Registry.gauge() refuses a name ending in _total (Prometheus keeps the suffix for counters)", () => {
  assert.throws(() => new Registry().gauge("qudag_dag_nodes_total", "N."), /ends in _total.*counter/);
});

Deno.test("Counter.set() mirrors a running total kept elsewhere and renders as a counter", () => {
  const reg = new Registry();
  const c = reg.counter("qudag_transactions_total", "Decided transactions by status.", ["status"]);
  let accepted = 3;
  reg.onCollect(() => c.set({ status: "accepted" }, accepted));
  assert.ok(
    reg.render().includes('# TYPE qudag_transactions_total counter\nqudag_transactions_total{status="accepted"} 3\n'),
  );
  accepted = 7;
  assert.ok(reg.render().includes('qudag_transactions_total{status="accepted"} 7\n'));
  assert.throws(() => c.set({ status: "accepted" }, -1), /cannot be set to -1/);
});

Deno.test("registerExchangeInfo() keeps one series, labelled with the current facts", () => {
  const reg = new Registry();
  let ledger: "running" | "halted" = "running";
  registerExchangeInfo(reg, () => ({ served: true, nodeType: "full", ledger }));
  assert.ok(reg.render().includes('qudag_exchange_info{api="served",node_type="full",ledger="running"} 1\n'));
  ledger = "halted";
  const text = reg.render();
  assert.ok(text.includes('qudag_exchange_info{api="served",node_type="full",ledger="halted"} 1\n'));
  assert.ok(!text.includes('ledger="running"'));
});
