import assert from "node:assert/strict";
import { TurnBudget } from "./turn_budget.ts";

/**
 * A burst of synchronous 2 ms steps, spending from `budget` before each, while an HTTP request to a local server is
 * under way: whether the request was served before the burst ended. The burst stops early once it is (at most
 * `stepsMax` steps: by default about 10 s, so a loaded machine still gives the request many turns). One request
 * before it sets up the client and the connection, which on a loaded machine once took longer than a 4 s burst.
 */
async function servedDuringBurst(budget: TurnBudget | null, stepsMax = 5_000): Promise<boolean> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response("ok"));
  try {
    await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text();
    let served = false;
    const request = fetch(`http://127.0.0.1:${server.addr.port}/`).then(async (r) => {
      await r.text();
      served = true;
    });
    // The request is on its way; the burst starts in the same turn, as a message's vertices would.
    let servedInBurst = false;
    budget?.begin();
    for (let i = 0; i < stepsMax && !servedInBurst; i++) {
      await budget?.spend();
      servedInBurst = served;
      const until = performance.now() + 2;
      while (performance.now() < until) { /* work */ }
    }
    budget?.end();
    await request;
    return servedInBurst;
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

Deno.test("TurnBudget: a burst that begins after a quiet moment has a whole slice; loops running together share one", async () => {
  let now = 0;
  const budget = new TurnBudget({ sliceMs: 10, nowMs: () => now });
  now = 50; // the event loop had its turns meanwhile
  budget.begin();
  assert.equal(budget.spend(), undefined);
  now = 55;
  budget.begin(); // a second loop while the first runs: no new slice
  now = 59;
  assert.equal(budget.spend(), undefined);
  now = 60;
  const p = budget.spend();
  assert.ok(p instanceof Promise);
  await p;
  budget.end();
  budget.end();
  assert.equal(budget.yields, 1);
  now = 100;
  budget.begin();
  assert.equal(budget.spend(), undefined, "a new burst after both ended");
  budget.end();
  assert.equal(budget.yields, 1);
});

Deno.test("TurnBudget: an HTTP request that arrives during a burst is served before the burst ends", async () => {
  assert.equal(await servedDuringBurst(new TurnBudget({ sliceMs: 5 })), true);
  // Without it, the request waits for the whole burst (what the budget is for): 50 steps show it.
  assert.equal(await servedDuringBurst(null, 50), false);
});
