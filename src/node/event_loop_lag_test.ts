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

Deno.test("RollingMax.max() over fewer seconds than it keeps looks at those only", () => {
  const m = new RollingMax(60);
  m.add(2, 1_000);
  m.add(0.1, 5_500);
  assert.equal(m.max(5_600), 2);
  assert.equal(m.max(5_600, 2), 0.1, "seconds 4 and 5 only");
  assert.equal(m.max(5_600, 5), 2, "seconds 1 to 5");
});

Deno.test("monitorEventLoopLag() sees a blocked event loop in its histogram and its max gauge, and stops", async () => {
  const registry = new Registry();
  const monitor = monitorEventLoopLag(registry);
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
    assert.ok(monitor.recentMaxMs(2) >= 80, `recent max ${monitor.recentMaxMs(2)} ms`);
  } finally {
    monitor.stop();
  }
});
