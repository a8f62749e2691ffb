import assert from "node:assert/strict";
import { createLogger } from "../log/mod.ts";
import { SubmitError } from "./consensus.ts";
import {
  BehindTracker,
  lookEveryMs,
  resubmitWaiting,
  RESYNC_BACKOFF_MAX,
  resyncWaitMs,
  startResyncWatch,
} from "./resync_watch.ts";

Deno.test("BehindTracker asks for a sync only after the node stayed behind_min behind for the whole wait", () => {
  const t = new BehindTracker(3, 10_000);
  assert.equal(t.observe(0, 10, 12), null, "2 behind: not behind enough");
  assert.equal(t.observe(1_000, 10, 13), null, "3 behind, stating nothing: the wait starts");
  assert.equal(t.observe(10_999, 10, 14), null);
  assert.deepEqual(t.observe(11_000, 10, 14), { ownSeq: 10, certifiedSeq: 14, behindForMs: 10_000 });
});

Deno.test("BehindTracker leaves alone a node that states checkpoints while behind (it catches up by fetching)", () => {
  const t = new BehindTracker(2, 5_000);
  assert.equal(t.observe(0, 1, 9), null);
  assert.equal(t.observe(4_000, 2, 9), null, "stated 2: the wait starts again");
  assert.equal(t.observe(8_000, 3, 9), null);
  assert.equal(t.observe(12_000, 3, 9), null);
  assert.deepEqual(t.observe(13_000, 3, 9), { ownSeq: 3, certifiedSeq: 9, behindForMs: 5_000 });
});

Deno.test("BehindTracker starts the wait again when the node catches up in between", () => {
  const t = new BehindTracker(2, 5_000);
  assert.equal(t.observe(0, 1, 5), null);
  assert.equal(t.observe(4_000, 4, 5), null, "caught up to 1 behind");
  assert.equal(t.observe(6_000, 4, 7), null, "behind again: a new wait from here");
  assert.equal(t.observe(10_999, 4, 7), null);
  assert.deepEqual(t.observe(11_000, 4, 7), { ownSeq: 4, certifiedSeq: 7, behindForMs: 5_000 });
});

Deno.test("BehindTracker refuses limits that are not positive integers", () => {
  assert.throws(() => new BehindTracker(0, 1_000), RangeError);
  assert.throws(() => new BehindTracker(1, 0), RangeError);
});

Deno.test("resyncWaitMs() doubles the wait after each resync in a row, up to RESYNC_BACKOFF_MAX times", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((n) => resyncWaitMs(30_000, n)), [
    30_000,
    60_000,
    120_000,
    240_000,
    30_000 * RESYNC_BACKOFF_MAX,
    30_000 * RESYNC_BACKOFF_MAX,
  ]);
});

Deno.test("lookEveryMs() looks four times per wait, between 100 ms and 5 s", () => {
  assert.equal(lookEveryMs(30_000), 5_000);
  assert.equal(lookEveryMs(2_000), 500);
  assert.equal(lookEveryMs(1), 100);
});

Deno.test("startResyncWatch() calls onBehind once and then stops looking", async () => {
  const seen: unknown[] = [];
  let looks = 0;
  let asked = 0;
  let now = 0;
  const stop = startResyncWatch({
    behindMin: 2,
    afterMs: 1,
    ownSeq: () => 3,
    certifiedSeq: () => {
      looks++;
      return 9;
    },
    nowMs: () => now += 100,
    onBehind: (b) => seen.push(b),
    beforeLook: () => asked++,
  });
  try {
    const deadline = Date.now() + 5_000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const looked = looks;
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0], { ownSeq: 3, certifiedSeq: 9, behindForMs: 100 });
    assert.equal(looks, looked, "no look after onBehind");
    assert.equal(asked, looks, "each look first asks for the newest certificate");
  } finally {
    stop();
  }
});

Deno.test("resubmitWaiting() submits again in order and logs what became of each", async () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });
  const seen: number[] = [];
  const consensus = {
    submit: (bytes: Uint8Array) => {
      seen.push(bytes[0]);
      if (bytes[0] === 3) return Promise.reject(new SubmitError("nonce_reused", "applied before the sync"));
      return Promise.resolve({
        id: String(bytes[0]),
        state: bytes[0] === 2 ? "accepted" as const : "pending" as const,
      });
    },
  };
  await resubmitWaiting(consensus, [1, 2, 3, 4].map((n) => new Uint8Array([n])), log);
  assert.deepEqual(seen, [1, 2, 3, 4]);
  const logged = JSON.parse(lines.at(-1)!);
  assert.equal(logged.transactions, 4);
  assert.deepEqual(logged.outcomes, { pending: 2, accepted: 1, nonce_reused: 1 });
});
