import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { testGenesis } from "./_checkpoint_testing.ts";
import { Mempool, SubmitError } from "./mempool.ts";
import { overloadedBy } from "./services.ts";

const submittedOf = (registry: Registry) =>
  registry.counter("qudag_transactions_submitted_total", "submissions", ["result"]);

Deno.test("Mempool.checkRoom() refuses with node_busy (retry in 1 s) while the node is overloaded, counted", () => {
  const registry = new Registry();
  let why: string | null = "the event loop lagged";
  const pool = new Mempool({ genesis: testGenesis(), submitted: submittedOf(registry), overloaded: () => why });
  assert.throws(() => pool.checkRoom(), (e: unknown) => {
    assert.ok(e instanceof SubmitError);
    assert.equal(e.code, "node_busy");
    assert.equal(e.retryAfterS, 1);
    assert.match(e.message, /the event loop lagged; retry in a second/);
    return true;
  });
  assert.equal(submittedOf(registry).get({ result: "busy" }), 1);
  why = null;
  pool.checkRoom();
});

Deno.test("overloadedBy() says why while the last 2 s lagged past the limit, and never with 0", () => {
  let lag = 1_500;
  const asked: number[] = [];
  const overloaded = overloadedBy(1_000, (s) => {
    asked.push(s);
    return lag;
  });
  assert.match(overloaded() ?? "", /lagged by 1500 ms in the last 2 s \(more than 1000\)/);
  assert.deepEqual(asked, [2]);
  lag = 1_000;
  assert.equal(overloaded(), null);
  assert.equal(overloadedBy(0, () => 1e9)(), null);
});
