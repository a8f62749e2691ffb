import assert from "node:assert/strict";
import { CATCH_UP_PAGE_BYTES_MAX, type ProtocolMessage, VERTICES_PER_MESSAGE_MAX } from "../net/protocol.ts";
import { acceptedPage, CATCH_UP_SPAN_MS, CatchUp } from "./catch_up.ts";

/** Accepted vertices as storage lists them: (timestamp, id) → body of `size` bytes, one byte marking it. */
function fakeStorage(vertices: { ts: number; id: string; size?: number; pruned?: boolean }[]) {
  return {
    acceptedVerticesBetween: (fromMs: number, toMs: number) =>
      vertices.filter((v) => v.ts >= fromMs && v.ts < toMs).map((v) => v.id),
    getVertex: (id: string) => {
      const v = vertices.find((x) => x.id === id)!;
      if (v.pruned) return null;
      const bytes = new Uint8Array(v.size ?? 8).fill(Number.parseInt(id, 16) & 0xff);
      return { id, bytes, author: "", round: 0n, parents: [], receivedAtMs: 0, timestampMs: v.ts };
    },
  };
}
const marks = (list: Uint8Array[]) => list.map((b) => b[0]);

Deno.test("acceptedPage() pages through accepted vertices oldest first, within one message, to the clock", () => {
  const T = 1_000_000;
  const many = Array.from(
    { length: VERTICES_PER_MESSAGE_MAX + 3 },
    (_, i) => ({ ts: T + i, id: (i + 1).toString(16) }),
  );
  const s = fakeStorage([...many, { ts: T + 3 * CATCH_UP_SPAN_MS, id: "ff" }]);
  const first = acceptedPage(s, T, 0, T + 10 * CATCH_UP_SPAN_MS);
  assert.equal(first.vertices.length, VERTICES_PER_MESSAGE_MAX);
  assert.deepEqual(first.next, { sinceMs: T, skip: VERTICES_PER_MESSAGE_MAX });
  const second = acceptedPage(s, T, first.next!.skip, T + 10 * CATCH_UP_SPAN_MS);
  assert.deepEqual(marks(second.vertices), [65, 66, 67]);
  assert.deepEqual(second.next, { sinceMs: T + CATCH_UP_SPAN_MS, skip: 0 }, "the span is done: the next one");
  // Empty spans are walked over in one answer; the span that reaches the clock ends the catch-up.
  const third = acceptedPage(s, second.next!.sinceMs, 0, T + 3 * CATCH_UP_SPAN_MS + 1);
  assert.deepEqual(marks(third.vertices), [0xff]);
  assert.equal(third.next, null);
});

Deno.test("acceptedPage() keeps a page under its byte limit, sends a vertex too large for one alone, skips pruned", () => {
  const T = 5_000;
  const half = Math.floor(CATCH_UP_PAGE_BYTES_MAX / 2) + 1;
  const s = fakeStorage([
    { ts: T, id: "01", size: half },
    { ts: T, id: "02", pruned: true },
    { ts: T + 1, id: "03", size: CATCH_UP_PAGE_BYTES_MAX + 1 },
    { ts: T + 2, id: "04", size: half },
  ]);
  const page = acceptedPage(s, T, 0, T + 100 * CATCH_UP_SPAN_MS);
  assert.deepEqual(marks(page.vertices), [1]);
  assert.deepEqual(marks(page.alone), [3]);
  assert.deepEqual(page.next, { sinceMs: T, skip: 3 }, "04 does not fit beside 01");
  const rest = acceptedPage(s, T, 3, T + 100 * CATCH_UP_SPAN_MS);
  assert.deepEqual(marks(rest.vertices), [4]);
});

Deno.test("CatchUp asks one peer at a time, page after page, and lets another start once it ends or times out", () => {
  const sent: { to: string; m: ProtocolMessage }[] = [];
  let now = 0;
  const c = new CatchUp({ send: (to, m) => sent.push({ to, m }), nowMs: () => now, answerMs: 5_000 });
  assert.equal(c.start("p1", 100), true);
  assert.equal(c.start("p2", 100), false, "one at a time");
  c.onPage("p2", { sinceMs: 9, skip: 9 }); // not the peer asked: ignored
  c.onPage("p1", { sinceMs: 200, skip: 64 });
  c.onPage("p1", null);
  assert.equal(c.active, false);
  assert.deepEqual(sent.map((x) => [x.to, x.m]), [
    ["p1", { type: "getAcceptedSince", sinceMs: 100, skip: 0 }],
    ["p1", { type: "getAcceptedSince", sinceMs: 200, skip: 64 }],
  ]);
  assert.deepEqual([c.started, c.pages], [1, 2]);
  assert.equal(c.start("p2", 300), true);
  now = 5_000;
  assert.equal(c.start("p3", 300), true, "p2 did not answer in time");
});
