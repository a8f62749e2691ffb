import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { monitorEventLoopLag, RollingMax } from "./event_loop_lag.ts";

Deno.test("RollingMax keeps the largest value of the last N seconds and forgets older ones", () => {
  const m = new RollingMax(3);
  assert.equal(m.max(0), 0);
  m.add(0.5, 100);
  m.add(0.2, 900);
  m.add(0.1, 1_500);
  assert.equal(m.max(1_500), 0.5);
  assert.equal(m.max(2_999), 0.5);
  assert.equal(m.max(3_000), 0.1); // second 0 is out of the 3 s window
  m.add(0.3, 4_200); // reuses second 1's slot
  assert.equal(m.max(4_200), 0.3);
  assert.equal(m.max(10_000), 0);
});

Deno.test("monitorEventLoopLag() sees a blocked event loop in its histogram and its max gauge, and stops", async () => {
  const registry = new Registry();
  const stop = monitorEventLoopLag(registry);
  try {
    await new Promise((r) => setTimeout(r, 30));
    const until = performance.now() + 120;
    while (performance.now() < until) { /* the event loop is blocked */ }
    await new Promise((r) => setTimeout(r, 60));
    const text = registry.render();
    const max = Number(/^qudag_event_loop_lag_max_seconds ([0-9.e+-]+)$/m.exec(text)?.[1]);
    assert.ok(max >= 0.08, `max lag ${max} s after a 120 ms block`);
    const count = Number(/^qudag_event_loop_lag_seconds_count ([0-9]+)$/m.exec(text)?.[1]);
    assert.ok(count >= 2, `samples: ${count}`);
  } finally {
    stop();
  }
});
