import assert from "node:assert/strict";
import { MemoryStorage } from "../storage/mod.ts";
import { DagWriter, T0 } from "../ledger/_testing.ts";
import { certify, statementOf, storedCut, testCut, validatorKeys } from "../node/_checkpoint_testing.ts";
import type { CheckpointStatement } from "../checkpoint/mod.ts";
import { FeedReader } from "../node/feed.ts";
import { createFeedApi, type FeedApiOptions } from "./feed.ts";
import { errorCode, testApp } from "./_testing.ts";

const t0 = Number(T0);

/** Cut 1: a, b; cut 2: c; cut 2 certified only when asked. */
function chain(o: { certifySecond?: boolean } = {}) {
  const storage = new MemoryStorage();
  const w = new DagWriter(storage, { fakeSignatures: true });
  const a = w.vertex([], [], T0);
  const b = w.vertex([a], [], T0 + 1n);
  const c = w.vertex([b], [], T0 + 1_000n);
  for (const id of [a, b, c]) w.accept(id);
  const cut1 = testCut(1, { boundaryMs: t0 + 1_000, prevBoundaryMs: 0, frontier: [b], vertices: [a, b] });
  const cut2 = testCut(2, { boundaryMs: t0 + 2_000, prevBoundaryMs: t0 + 1_000, frontier: [c], vertices: [c] });
  storage.putCut(storedCut(cut1));
  storage.putCut(storedCut(cut2));
  const s1 = statementOf(cut1, null);
  const s2 = statementOf(cut2, s1);
  const signers = validatorKeys().slice(0, 3);
  storage.putCertificate(certify(s1, signers));
  const certifyCut = (s: CheckpointStatement) => storage.putCertificate(certify(s, signers));
  if (o.certifySecond) certifyCut(s2);
  return { storage, ids: { a, b, c }, certifySecond: () => certifyCut(s2) };
}

function api(storage: MemoryStorage, o: FeedApiOptions = {}) {
  return testApp({ "/api/v1": createFeedApi(new FeedReader(storage), { pollMs: 5, ...o }) });
}

/** Reads SSE events from a response until `count` arrived (or the stream ended), then cancels it. */
async function readEvents(res: Response, count: number): Promise<{ event: string; id?: string; data: string }[]> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { event: string; id?: string; data: string }[] = [];
  let buf = "";
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const fields = Object.fromEntries(
        block.split("\n").filter((l) => !l.startsWith(":")).map((
          l,
        ) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 2)]),
      );
      if (fields.data !== undefined) {
        events.push({ event: fields.event ?? "message", id: fields.id, data: fields.data });
      }
    }
  }
  await reader.cancel();
  return events;
}

Deno.test("GET /feed pages through vertices and checkpoints in cut order with a cursor", async () => {
  const { storage, ids } = chain();
  const { call } = api(storage);
  const first = await call("GET", "/api/v1/feed?limit=2");
  assert.equal(first.status, 200);
  const events = first.json.events as { type: string; cursor: string; id?: string; decisions?: unknown[] }[];
  assert.deepEqual(events.map((e) => [e.type, e.cursor, e.id]), [["vertex", "1.1", ids.a], ["vertex", "1.2", ids.b]]);
  assert.deepEqual(events[0].decisions, [{ id: ids.a, subject: "vertex", status: "accepted" }]);
  assert.equal(first.json.nextCursor, "1.2");
  assert.equal(first.json.caughtUp, false);

  const second = await call("GET", `/api/v1/feed?after=${first.json.nextCursor}`);
  const rest = second.json.events as { type: string; cursor: string; certificate?: { statement: { seq: string } } }[];
  assert.deepEqual(rest.map((e) => [e.type, e.cursor]), [["checkpoint", "1.3"], ["vertex", "2.1"]]);
  assert.equal(rest[0].certificate!.statement.seq, "1");
  // Cut 2 is closed but not certified here yet: the feed waits before its checkpoint, never skips it.
  assert.equal(second.json.caughtUp, true);
  assert.equal(second.json.nextCursor, "2.1");
});

Deno.test("GET /feed gives a cut's checkpoint once it is certified here", async () => {
  const c = chain();
  const { call } = api(c.storage);
  assert.deepEqual((await call("GET", "/api/v1/feed?after=2.1")).json.events, []);
  c.certifySecond();
  const page = await call("GET", "/api/v1/feed?after=2.1");
  assert.deepEqual((page.json.events as { cursor: string }[]).map((e) => e.cursor), ["2.2"]);
  assert.equal(page.json.caughtUp, true);
});

Deno.test("GET /feed passes over a checkpoint this node lacks only once a later one is certified here", async () => {
  const c = chain();
  const w = new DagWriter(c.storage, { fakeSignatures: true });
  // DagWriter knows only its own vertices' rounds: write the third cut's vertex as a new genesis-round vertex.
  const d = w.vertex([], [], T0 + 2_000n);
  w.accept(d);
  const cut3 = testCut(3, { boundaryMs: t0 + 3_000, prevBoundaryMs: t0 + 2_000, frontier: [d], vertices: [d] });
  c.storage.putCut(storedCut(cut3));
  const { call } = api(c.storage);
  const before = await call("GET", "/api/v1/feed?after=2.1");
  assert.deepEqual(before.json.events, []);
  const s3 = { ...statementOf(cut3, null), seq: 3, prevBoundaryMs: t0 + 2_000, prevDigest: new Uint8Array(32).fill(9) };
  c.storage.putCertificate(certify(s3, validatorKeys().slice(0, 3)));
  const after = await call("GET", "/api/v1/feed?after=2.1");
  assert.deepEqual((after.json.events as { type: string; cursor: string }[]).map((e) => [e.type, e.cursor]), [
    ["vertex", "3.1"],
    ["checkpoint", "3.2"],
  ]);
});

Deno.test("GET /feed refuses a cursor that does not fit the chain, and history it does not hold", async () => {
  const { storage } = chain({ certifySecond: true });
  const { call } = api(storage);
  const beyond = await call("GET", "/api/v1/feed?after=1.4");
  assert.equal(beyond.status, 400);
  assert.equal(errorCode(beyond), "feed_cursor_invalid");
  assert.equal(errorCode(await call("GET", "/api/v1/feed?after=abc")), "invalid_request");
  // A cut ahead of this node: nothing yet, no error (the node may be behind another one).
  const ahead = await call("GET", "/api/v1/feed?after=7.0");
  assert.equal(ahead.status, 200);
  assert.deepEqual(ahead.json.events, []);
  // A node that lost a vertex body (pruned) says so instead of skipping it.
  const pruned = chain();
  pruned.storage.pruneVertexBodies(t0 + 1);
  const gone = await api(pruned.storage).call("GET", "/api/v1/feed");
  assert.equal(gone.status, 404);
  assert.equal(errorCode(gone), "feed_history_unavailable");
});

Deno.test("GET /stream resumes after Last-Event-ID without a gap or a duplicate, then sends new events", async () => {
  const c = chain();
  const { app } = api(c.storage);
  const res = await app.request("/api/v1/stream", { headers: { "last-event-id": "1.1" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const later = setTimeout(() => c.certifySecond(), 50);
  const events = await readEvents(res, 4);
  clearTimeout(later);
  assert.deepEqual(events.map((e) => [e.event, e.id]), [
    ["vertex", "1.2"],
    ["checkpoint", "1.3"],
    ["vertex", "2.1"],
    ["checkpoint", "2.2"],
  ]);
  assert.equal(JSON.parse(events[0].data).id, c.ids.b);
});

Deno.test("GET /stream tells a client too far behind to resume from the feed, with a stable code", async () => {
  const { storage } = chain({ certifySecond: true });
  const { app } = api(storage, { behindCutsMax: 1 });
  const res = await app.request("/api/v1/stream?after=0.0");
  const events = await readEvents(res, 1);
  assert.equal(events[0].event, "resume");
  const body = JSON.parse(events[0].data);
  assert.equal(body.code, "stream_behind");
  assert.equal(body.after, "0.0");
  const bad = await app.request("/api/v1/stream", { headers: { "last-event-id": "1.9" } });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "feed_cursor_invalid");
});
