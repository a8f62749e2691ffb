import assert from "node:assert/strict";
import { bothConnected, startNode, testValidators, waitFor } from "./_testing.ts";
import { DEFAULT_PEER_BUDGET, PeerBudget, resolvePeerBudget } from "./peer_budget.ts";
import { decodeMessage, encodeMessage, messageCost } from "./protocol.ts";

const [a, b] = await testValidators(2);
const genesis = [a, b];

Deno.test("PeerTransport: a peer's queries beyond its answer budget are held in order, and beyond 8 held dropped", async () => {
  // b's clock stands still, so its buckets never refill: exactly the burst goes through.
  // A small answer budget, so that the test stays under the send queue's frames.
  const nb = await startNode(b, genesis, { now: () => 1_000, budget: { answer: { perSecond: 200, burst: 400 } } });
  const na = await startNode(a, genesis, { listen: false });
  const queries: number[] = [];
  nb.transport.onMessage((_, bytes) => {
    const m = decodeMessage(bytes);
    if (m.type === "query") queries.push(m.requestId);
  });
  const sent = 2_000;
  const [burst, heldMax] = [400, DEFAULT_PEER_BUDGET.answer.heldMax];
  try {
    na.transport.connect(nb.address);
    await waitFor("session", bothConnected(na, nb));
    for (let i = 0; i < sent; i++) {
      assert.equal(na.transport.send(b.id, encodeMessage({ type: "query", requestId: i, frontier: [] })), "queued");
    }
    await waitFor("all received", () => nb.transport.metrics.frames.get({ direction: "in" }) >= sent);
    assert.deepEqual(queries, Array.from({ length: burst }, (_, i) => i), "the burst, in order");
    const exceeded = nb.transport.metrics.budgetExceeded;
    await waitFor(
      "drops counted",
      () => exceeded.get({ work: "answer", outcome: "dropped" }) === sent - burst - heldMax,
    );
    assert.equal(exceeded.get({ work: "answer", outcome: "held" }), 1, "the first held query is counted once");
    assert.ok(nb.transport.isConnected(a.id), "held, not disconnected");
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close()]);
  }
});

Deno.test("PeerBudget.take() spends per peer and kind, and says how long until a cost is affordable", () => {
  const budget = new PeerBudget(resolvePeerBudget({ answer: { perSecond: 10, burst: 2 } }));
  assert.equal(budget.take("p", { work: "answer", units: 1 }, 0), 0);
  assert.equal(budget.take("p", { work: "answer", units: 1 }, 0), 0);
  assert.equal(budget.take("p", { work: "answer", units: 1 }, 0), 100);
  assert.equal(budget.take("q", { work: "answer", units: 1 }, 0), 0, "another peer has its own");
  assert.equal(budget.take("p", { work: "verify", units: 1 }, 0), 0, "another kind has its own");
  assert.equal(budget.take("p", { work: "answer", units: 1 }, 50), 50);
  assert.equal(budget.take("p", { work: "answer", units: 1 }, 100), 0);
  // A cost above the burst counts as the burst: affordable once the bucket is full.
  assert.equal(budget.take("p", { work: "answer", units: 50 }, 100), 200);
  assert.equal(budget.take("p", { work: "answer", units: 50 }, 300), 0);
  assert.throws(() => resolvePeerBudget({ verify: { heldMax: 1.5 } }), /verify\.heldMax = 1\.5 is invalid/);
  assert.throws(() => resolvePeerBudget({ serve: { perSecond: 0 } }), /serve\.perSecond = 0 is invalid/);
});

Deno.test("messageCost() prices a message from its first bytes", () => {
  const id = "ab".repeat(32);
  assert.deepEqual(messageCost(encodeMessage({ type: "query", requestId: 1, frontier: [id] })), {
    work: "answer",
    units: 1,
  });
  // A vote carries no signature: nothing to verify.
  assert.equal(
    messageCost(encodeMessage({ type: "votes", querier: id, requestId: 1, responder: id, frontier: [] })),
    null,
  );
  const vertices = encodeMessage({ type: "vertices", vertices: [new Uint8Array(10_000), new Uint8Array(10_000)] });
  assert.deepEqual(messageCost(vertices), { work: "verify", units: 5 });
  assert.deepEqual(messageCost(encodeMessage({ type: "getVertices", ids: [id, id, id] })), { work: "serve", units: 3 });
  assert.equal(messageCost(encodeMessage({ type: "frontier", frontier: [], replyWanted: true })), null);
  assert.equal(messageCost(new Uint8Array(0)), null);
  assert.equal(messageCost(new TextEncoder().encode("hello")), null);
});
