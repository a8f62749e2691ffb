import assert from "node:assert/strict";
import { type AdmissionContext, type AdmissionInput, admit, DEFAULT_ADMISSION_LIMITS } from "./admission.ts";

const CHAIN = "c".repeat(64);
const AUTHOR = "a".repeat(64);
const NOW = 1_800_000_000_000;

function ctx(rounds: Record<string, bigint> = {}, timestamps: Record<string, bigint> = {}): AdmissionContext {
  return {
    chainIdHex: CHAIN,
    isValidator: (a) => a === AUTHOR,
    roundOf: (id) => rounds[id] ?? null,
    timestampOf: (id) => timestamps[id] ?? BigInt(NOW - 1_000),
    nowMs: NOW,
    limits: DEFAULT_ADMISSION_LIMITS,
  };
}

function input(over: Partial<AdmissionInput> = {}): AdmissionInput {
  return {
    chainIdHex: CHAIN,
    authorHex: AUTHOR,
    round: 2n,
    timestampMs: BigInt(NOW),
    parentIds: ["p1"],
    txCount: 1,
    ...over,
  };
}

Deno.test("admit() admits a vertex whose parents are known and earlier", () => {
  assert.deepEqual(admit(input(), ctx({ p1: 1n })), { kind: "admit" });
});

Deno.test("admit() rejects another chain, an unknown author and a far-future timestamp, each with its reason", () => {
  const c = ctx({ p1: 1n });
  const reason = (i: AdmissionInput) => {
    const r = admit(i, c);
    return r.kind === "reject" ? r.reason : r.kind;
  };
  assert.equal(reason(input({ chainIdHex: "d".repeat(64) })), "wrong_chain");
  assert.equal(reason(input({ authorHex: "b".repeat(64) })), "unknown_author");
  assert.equal(
    reason(input({ timestampMs: BigInt(NOW + DEFAULT_ADMISSION_LIMITS.futureDriftMaxMs + 1) })),
    "clock_drift",
  );
  assert.equal(reason(input({ timestampMs: BigInt(NOW + DEFAULT_ADMISSION_LIMITS.futureDriftMaxMs) })), "admit");
  assert.equal(
    reason(input({ timestampMs: BigInt(NOW - DEFAULT_ADMISSION_LIMITS.pastDriftMaxMs - 1) })),
    "clock_drift",
  );
});

Deno.test("admit() rejects a vertex whose round is not after a parent's", () => {
  const r = admit(input({ round: 1n }), ctx({ p1: 1n }));
  assert.equal(r.kind, "reject");
  assert.equal(r.kind === "reject" && r.reason, "round_not_after_parents");
});

Deno.test("admit() asks to wait for exactly the missing parents", () => {
  const r = admit(input({ parentIds: ["p1", "p2", "p3"] }), ctx({ p2: 0n }));
  assert.deepEqual(r, { kind: "wait", missing: ["p1", "p3"] });
});

Deno.test("admit() rejects a round that skips past its highest parent's round + 1", () => {
  const r = admit(input({ round: 5n, parentIds: ["p1", "p2"] }), ctx({ p1: 1n, p2: 3n }));
  assert.equal(r.kind === "reject" && r.reason, "round_gap");
  assert.deepEqual(admit(input({ round: 4n, parentIds: ["p1", "p2"] }), ctx({ p1: 1n, p2: 3n })), { kind: "admit" });
  assert.deepEqual(admit(input({ round: 0n, parentIds: [] }), ctx()), { kind: "admit" });
});

Deno.test("admit() rejects more parents or transactions than consensus takes", () => {
  const many = Array.from({ length: 17 }, (_, i) => `p${i}`);
  const r = admit(input({ parentIds: many }), ctx());
  assert.equal(r.kind === "reject" && r.reason, "exceeds_consensus_limits");
  const t = admit(input({ txCount: 257 }), ctx({ p1: 1n }));
  assert.equal(t.kind === "reject" && t.reason, "exceeds_consensus_limits");
});

Deno.test("admit() rejects a vertex whose timestamp is before a parent's; equal is fine", () => {
  const c = ctx({ p1: 1n, p2: 1n }, { p1: BigInt(NOW - 5), p2: BigInt(NOW + 5) });
  const r = admit(input({ parentIds: ["p1", "p2"] }), c);
  assert.equal(r.kind === "reject" && r.reason, "timestamp_before_parent");
  assert.match(r.kind === "reject" ? r.message : "", /timestamp \d+ is before parent p2…'s timestamp \d+/);
  assert.deepEqual(admit(input({ parentIds: ["p1"], timestampMs: BigInt(NOW - 5) }), c), { kind: "admit" });
});
