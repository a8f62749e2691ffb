import assert from "node:assert/strict";
import type { Engine } from "../engine/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Counter } from "../metrics/mod.ts";
import { decodeMessage, encodeMessage, type ProtocolMessage } from "../net/protocol.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import { CATCH_UP_ANSWER_MS, CATCH_UP_ORPHANS_MIN } from "./catch_up.ts";
import { ConsensusWire } from "./consensus_wire.ts";
import type { DagService } from "./dag_service.ts";
import { TurnBudget } from "./turn_budget.ts";

const BOUNDARY_MS = 1_700_000_000_000;

/**
 * A wire over a transport that records what it sends and hands it messages,
 * and a DAG service that keeps every vertex waiting with `orphans` waiting
 * in all: what a node far behind its peers sees.
 */
function wireWith(orphans: { count: number }) {
  const sent: { to: string; m: ProtocolMessage }[] = [];
  let deliver: ((from: string, bytes: Uint8Array) => void) | null = null;
  const transport = {
    onMessage: (fn: (from: string, bytes: Uint8Array) => void) => {
      deliver = fn;
    },
    send: (to: string, bytes: Uint8Array) => {
      sent.push({ to, m: decodeMessage(bytes) });
      return "queued";
    },
    peers: () => [{ peerId: "peer-a" }, { peerId: "peer-b" }],
  };
  const submitted: string[] = [];
  const dag = {
    submit: (bytes: Uint8Array, _origin: string, from: string) => {
      submitted.push(`${from}:${bytes[0]}`);
      return Promise.resolve({ status: "waiting", missing: [] });
    },
    get orphanCount() {
      return orphans.count;
    },
    settledBoundaryMs: BOUNDARY_MS,
    wanted: () => [],
  };
  let now = BOUNDARY_MS + 60_000;
  const counter = { inc: () => {} } as unknown as Counter;
  const logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} } as unknown as Logger;
  const wire = new ConsensusWire({
    engine: () => ({ consensus: { hasVertex: () => true } }) as unknown as Engine,
    transport: transport as unknown as PeerTransport,
    storage: {} as Storage,
    dag: dag as unknown as DagService,
    logger,
    randomInt: () => 0,
    messages: counter,
    votes: counter,
    nowMs: () => now,
    // Never a turn for I/O in between: the budget is turn_budget_test.ts's subject, not this file's.
    turnBudget: new TurnBudget({ sliceMs: Infinity }),
  });
  wire.listen();
  /** Delivers one message from a peer and lets the wire handle it. */
  const receive = async (from: string, m: ProtocolMessage) => {
    deliver!(from, encodeMessage(m));
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  const asked = () => sent.filter((s) => s.m.type === "getAcceptedSince");
  return { wire, sent, asked, submitted, receive, advance: (ms: number) => (now += ms) };
}

const vertices = (...marks: number[]): ProtocolMessage => ({
  type: "vertices",
  vertices: marks.map((b) => new Uint8Array(64).fill(b)),
});

Deno.test("the wire catches up forward from the settled boundary once orphans pile up, one catch-up at a time", async () => {
  const orphans = { count: CATCH_UP_ORPHANS_MIN - 1 };
  const w = wireWith(orphans);
  await w.receive("peer-a", vertices(1, 2));
  assert.deepEqual(w.submitted, ["peer-a:1", "peer-a:2"], "every vertex goes through admission");
  assert.equal(w.asked().length, 0, "a few orphans: fetching backward is enough");

  orphans.count = CATCH_UP_ORPHANS_MIN;
  await w.receive("peer-a", vertices(3));
  assert.deepEqual(w.asked(), [{ to: "peer-a", m: { type: "getAcceptedSince", sinceMs: BOUNDARY_MS, skip: 0 } }]);

  // More vertices from another peer while the first catch-up is under way start no second one.
  await w.receive("peer-b", vertices(4));
  assert.equal(w.asked().length, 1);

  // Each page asks for the next where it ended; its vertices go through admission without fetching backward.
  const before = w.sent.length;
  await w.receive("peer-a", {
    type: "acceptedSince",
    vertices: [new Uint8Array(64).fill(5)],
    next: { sinceMs: BOUNDARY_MS + 5_000, skip: 7 },
  });
  assert.ok(w.submitted.includes("peer-a:5"));
  assert.deepEqual(w.sent.slice(before), [
    { to: "peer-a", m: { type: "getAcceptedSince", sinceMs: BOUNDARY_MS + 5_000, skip: 7 } },
  ]);

  // A page from a peer that was not asked changes nothing.
  await w.receive("peer-b", { type: "acceptedSince", vertices: [], next: { sinceMs: 1, skip: 0 } });
  assert.equal(w.asked().length, 2);

  // The last page ends it: the next pile of orphans starts a new catch-up, from the boundary again.
  await w.receive("peer-a", { type: "acceptedSince", vertices: [], next: null });
  await w.receive("peer-b", vertices(6));
  assert.deepEqual(w.asked().at(-1), {
    to: "peer-b",
    m: { type: "getAcceptedSince", sinceMs: BOUNDARY_MS, skip: 0 },
  });
  w.wire.stop();
});

Deno.test("the wire starts another catch-up when a peer leaves a page unanswered", async () => {
  const w = wireWith({ count: CATCH_UP_ORPHANS_MIN + 10 });
  await w.receive("peer-a", vertices(1));
  await w.receive("peer-b", vertices(2));
  assert.equal(w.asked().length, 1, "peer-a has until its answer time");
  w.advance(CATCH_UP_ANSWER_MS);
  await w.receive("peer-b", vertices(3));
  assert.deepEqual(w.asked().map((s) => s.to), ["peer-a", "peer-b"]);
  w.wire.stop();
});
