import assert from "node:assert/strict";
import { TurnBudget } from "./turn_budget.ts";

/** A burst of `steps` synchronous steps of `stepMs` each, spending from `budget` before each. */
async function burst(budget: TurnBudget | null, steps: number, stepMs: number, done: string[]): Promise<void> {
  for (let i = 0; i < steps; i++) {
    await budget?.spend();
    const until = performance.now() + stepMs;
    while (performance.now() < until) { /* work */ }
  }
  done.push("burst");
}

/** Runs a burst while an HTTP request to a local server is under way; the order in which they end. */
async function raceWithRequest(budget: TurnBudget | null): Promise<string[]> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response("ok"));
  try {
    const done: string[] = [];
    const request = fetch(`http://127.0.0.1:${server.addr.port}/`).then(async (r) => {
      await r.text();
      done.push("request");
    });
    // The request is on its way; the burst starts in the same turn, as a message's vertices would.
    await Promise.all([burst(budget, 40, 2, done), request]);
    return done;
  } finally {
    await server.shutdown();
  }
}

Deno.test("TurnBudget: within its slice spend() resolves at once; after it, once I/O had a turn", async () => {
  let now = 0;
  const budget = new TurnBudget({ sliceMs: 10, nowMs: () => now });
  assert.equal(budget.spend(), undefined);
  now = 9;
  assert.equal(budget.spend(), undefined);
  now = 10;
  const p = budget.spend();
  assert.ok(p instanceof Promise);
  await p;
  assert.equal(budget.yields, 1);
  // A new slice starts when the turn is over.
  now = 15;
  assert.equal(budget.spend(), undefined);
});

Deno.test("TurnBudget: an HTTP request that arrives during a burst is served before the burst ends", async () => {
  assert.deepEqual(await raceWithRequest(new TurnBudget({ sliceMs: 5 })), ["request", "burst"]);
  // Without it, the request waits for the whole burst (what the budget is for).
  assert.deepEqual(await raceWithRequest(null), ["burst", "request"]);
});
