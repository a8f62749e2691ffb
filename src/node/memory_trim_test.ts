import assert from "node:assert/strict";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { startMemoryTrim } from "./memory_trim.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("startMemoryTrim trims on its interval and counts what each trim did", async () => {
  const registry = new Registry();
  const results = ["released", "none", "released"] as const;
  let calls = 0;
  const stop = startMemoryTrim({
    release: () => results[Math.min(calls++, results.length - 1)],
    registry,
    log: silentLogger,
    intervalMs: 10,
  });
  try {
    // Three intervals at least; a loaded machine fires the timer late, so wait for them, bounded.
    const deadline = Date.now() + 5_000;
    while (calls < 3 && Date.now() < deadline) await sleep(10);
  } finally {
    stop();
  }
  const seen = calls;
  assert.ok(seen >= 3, `${seen} trims`);
  const text = registry.render();
  assert.match(text, /^qudag_memory_trims_total\{result="none"\} 1$/m);
  assert.match(text, new RegExp(`^qudag_memory_trims_total\\{result="released"\\} ${seen - 1}$`, "m"));
  assert.match(text, /^qudag_memory_trim_seconds_total [0-9.e-]+$/m);
  await sleep(30);
  assert.equal(calls, seen, "stopped");
});

Deno.test("startMemoryTrim stops for good where the C library cannot trim, and does nothing without a backend that can", async () => {
  const registry = new Registry();
  let calls = 0;
  const stop = startMemoryTrim({
    release: () => (calls++, "unsupported"),
    registry,
    log: silentLogger,
    intervalMs: 5,
  });
  await sleep(40);
  stop();
  assert.equal(calls, 1);
  assert.doesNotMatch(registry.render(), /^qudag_memory_trims_total\{/m);

  const none = new Registry();
  startMemoryTrim({ release: undefined, registry: none, log: silentLogger, intervalMs: 5 })();
  assert.doesNotMatch(none.render(), /qudag_memory_trim/);
});
