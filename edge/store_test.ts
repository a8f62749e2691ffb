import assert from "node:assert/strict";
import { certify, statementOf, testCut, validatorKeys } from "../src/node/_checkpoint_testing.ts";
import { certificateFromJson, certificateToJson, decodeStatement } from "../src/checkpoint/mod.ts";
import { CHUNK_BYTES, EdgeStore } from "./store.ts";
import type { CommitResult, VerifiedState } from "./replay.ts";
import { resolveEdgeConfig } from "./config.ts";

function state(ledgerBytes: number): VerifiedState {
  const cut = testCut(1, { boundaryMs: 2_000, prevBoundaryMs: 0, frontier: ["aa".repeat(32)] });
  const stored = certify(statementOf(cut, null), validatorKeys().slice(0, 3));
  const certificate = { statement: decodeStatement(stored.statement), signatures: stored.signatures };
  const ledger = new Uint8Array(ledgerBytes).map((_, i) => i % 251);
  return {
    certificate,
    cursor: "1.2",
    ledger,
    held: [{ id: "aa".repeat(32), concurrent: [], facts: true, timestampMs: 1_000 }],
    recent: [["aa".repeat(32), 1_000]],
  };
}

const commit = (s: VerifiedState): CommitResult => ({
  state: s,
  receipts: [{
    txId: "bb".repeat(32),
    code: "ok",
    fee: "1",
    ratePpb: 100,
    vertex: "aa".repeat(32),
    timeMs: 1_000,
    cut: 1,
  }],
  vertices: [["aa".repeat(32), 1_000]],
});

Deno.test("EdgeStore keeps a state larger than a KV value in chunks and loads it back whole", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new EdgeStore(kv, "cc".repeat(32));
    assert.equal(await store.load(true), null);
    const s = state(5 * CHUNK_BYTES + 123);
    await store.save(commit(s), 42);
    const loaded = await store.load(true);
    assert.ok(loaded !== null);
    assert.equal(loaded.verifiedAtMs, 42);
    assert.deepEqual(loaded.state.ledger, s.ledger);
    assert.equal(loaded.state.cursor, "1.2");
    assert.deepEqual(loaded.state.held, s.held);
    assert.deepEqual(
      loaded.state.certificate,
      certificateFromJson(JSON.parse(JSON.stringify(
        certificateToJson(s.certificate!),
      ))),
    );
    assert.equal((await store.receipt("bb".repeat(32)))?.fee, "1");
    assert.ok(await store.hasVertex("aa".repeat(32)));
    assert.ok(!await store.hasVertex("dd".repeat(32)));
    for await (const e of kv.list({ prefix: [] })) {
      const size = e.value instanceof Uint8Array ? e.value.length : JSON.stringify(e.value).length;
      assert.ok(size <= 64 * 1024, `${JSON.stringify(e.key)} holds ${size} bytes`);
    }
    // A second save moves the head to a new generation and deletes the old chunks.
    await store.save(commit({ ...state(CHUNK_BYTES / 2), cursor: "1.9" }), 43);
    const chunks = [];
    for await (const e of kv.list({ prefix: ["edge", "cc".repeat(32), "state"] })) chunks.push(e.key);
    assert.equal(chunks.length, 1);
    assert.equal((await store.load(true))?.state.cursor, "1.9");
  } finally {
    kv.close();
  }
});

Deno.test("resolveEdgeConfig() names the variable, the value and what was expected", () => {
  assert.throws(() => resolveEdgeConfig({}), /QUDAG_EDGE_UPSTREAMS is empty/);
  assert.throws(() => resolveEdgeConfig({ QUDAG_EDGE_UPSTREAMS: "ftp://x" }), /is not http\(s\)/);
  assert.throws(
    () => resolveEdgeConfig({ QUDAG_EDGE_UPSTREAMS: "https://n1.example", QUDAG_EDGE_POLL_MS: "-1" }),
    /QUDAG_EDGE_POLL_MS="-1": expected an integer in 0..3600000/,
  );
  const c = resolveEdgeConfig({ QUDAG_EDGE_UPSTREAMS: "https://n1.example, https://n2.example" });
  assert.deepEqual(c.upstreams, ["https://n1.example", "https://n2.example"]);
  assert.equal(c.pollMs, 1_000);
});
