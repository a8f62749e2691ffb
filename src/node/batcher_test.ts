import assert from "node:assert/strict";
import type { TxInput } from "../consensus/mod.ts";
import { conflictKeyOf } from "../dag/conflict_key.ts";
import { createLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { Batcher, type BatcherOptions } from "./batcher.ts";

/** A Batcher over an engine that records what it issues; every transaction is an account's nonce 0. */
function testBatcher(holdIssuing: () => boolean, batchTxsMax = 4, window?: { size: number; delayMaxMs: number }) {
  const issued: string[][] = [];
  const bytes = new Map<string, Uint8Array>();
  const options = {
    engine: {
      consensus: { txStatus: () => undefined, vertexStatus: () => "processing" },
      planParents: () => [],
      issue: (txs: readonly TxInput[]) => {
        issued.push(txs.map((t) => t.id));
        return { id: `v${issued.length}` };
      },
    },
    dag: { causalPast: { of: () => ({ carriedInPast: () => true }), carriers: () => [] } },
    mempool: { bytesOf: (id: string) => bytes.get(id), forget: () => {} },
    logger: createLogger({ level: "error", write: () => {} }),
    nowMs: () => performance.now(),
    sequential: true,
    submitted: new Registry().counter("qudag_transactions_submitted_total", "submissions", ["result"]),
    batchDelayMs: 5,
    batchWindow: window?.size,
    batchDelayMaxMs: window?.delayMaxMs,
    batchTxsMax,
    holdIssuing,
  } as unknown as BatcherOptions;
  const batcher = new Batcher(options);
  const add = (n: number) => {
    const id = `tx${n}`;
    bytes.set(id, new Uint8Array(100));
    batcher.add(
      { id, conflictKey: conflictKeyOf("ab".repeat(32 - 1) + n.toString(16).padStart(2, "0"), 0n), deps: [] },
      100,
    );
  };
  return { batcher, issued, add };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Batcher issues nothing while issuing is held, then all it took, in vertices of the usual size", async () => {
  let hold = true;
  const { batcher, issued, add } = testBatcher(() => hold, 4);
  try {
    for (let n = 0; n < 10; n++) add(n);
    await sleep(100);
    assert.equal(issued.length, 0, "held: the batch waits");
    hold = false;
    const deadline = Date.now() + 3_000;
    while (issued.flat().length < 10 && Date.now() < deadline) await sleep(20);
    assert.deepEqual(issued.flat(), Array.from({ length: 10 }, (_, n) => `tx${n}`), "all of it, in order");
    assert.ok(issued.every((v) => v.length <= 4), `vertices of at most 4: ${JSON.stringify(issued)}`);
  } finally {
    batcher.stop();
  }
});

Deno.test("Batcher issues at once when nothing holds it", async () => {
  const { batcher, issued, add } = testBatcher(() => false, 4);
  try {
    add(1);
    const deadline = Date.now() + 3_000;
    while (issued.length === 0 && Date.now() < deadline) await sleep(10);
    assert.deepEqual(issued, [["tx1"]]);
  } finally {
    batcher.stop();
  }
});

Deno.test("Batcher: with its window of own undecided vertices full, a batch waits until one of them is decided", async () => {
  const { batcher, issued, add } = testBatcher(() => false, 4, { size: 2, delayMaxMs: 60_000 });
  const waitFor = async (n: number) => {
    const deadline = Date.now() + 3_000;
    while (issued.length < n && Date.now() < deadline) await sleep(10);
    assert.equal(issued.length, n, JSON.stringify(issued));
  };
  try {
    add(1);
    await waitFor(1);
    add(2);
    await waitFor(2);
    // Two undecided: the next batch waits (up to delayMaxMs, a minute here), gathering what comes.
    add(3);
    await sleep(100);
    add(4);
    await sleep(100);
    assert.equal(issued.length, 2, "the window is full: nothing issued");
    batcher.onDecided([{ kind: "vertex", id: "v1", status: "accepted", rounds: 20 }]);
    await waitFor(3);
    assert.deepEqual(issued[2], ["tx3", "tx4"], "one fuller vertex");
  } finally {
    batcher.stop();
  }
});
