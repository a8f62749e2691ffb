import assert from "node:assert/strict";
import { MemoryStorage } from "../src/storage/mod.ts";
import { CHAIN, DagWriter, T0 } from "../src/ledger/_testing.ts";
import { signatureCheck, testGenesis } from "../src/node/_checkpoint_testing.ts";
import {
  type CheckpointCertificate,
  type CheckpointStatement,
  nextTxAccumulator,
  statementDigest,
  ZERO_HASH,
} from "../src/checkpoint/mod.ts";
import { validateVertex } from "../src/core/mod.ts";
import { Replayer } from "./replay.ts";
import { EdgeError, type VerifiedVertex, verifyVertexEvent } from "./verify.ts";

const genesis = { chainId: CHAIN, validators: testGenesis().validators };
const t0 = Number(T0);

/** Cut 1: a <- b (timestamps t0, t0 + 1); cut 2: c (t0 + 1,000). Verified as the replica verifies them. */
async function chain(): Promise<VerifiedVertex[]> {
  const storage = new MemoryStorage();
  const w = new DagWriter(storage);
  const a = w.vertex([], [], T0);
  const b = w.vertex([a], [], T0 + 1n);
  const c = w.vertex([b], [], T0 + 1_000n);
  const known = new Set<string>();
  const out: VerifiedVertex[] = [];
  for (const [id, cut] of [[a, 1], [b, 1], [c, 2]] as const) {
    const bytes = storage.getVertex(id)!.bytes;
    const info = validateVertex(bytes);
    const v = await verifyVertexEvent(
      {
        type: "vertex",
        cursor: `${cut}.1`,
        cut,
        id,
        timestampMs: Number(info.vertex.timestampMs),
        vertex: bytes.toBase64(),
        decisions: [{ id, subject: "vertex", status: "accepted" }],
      },
      genesis,
      signatureCheck,
      (p) => known.has(p),
    );
    known.add(id);
    out.push(v);
  }
  return out;
}

/** The certificate's signatures are checked before commit (verify.ts); commit judges the statement alone. */
function cert(s: Partial<CheckpointStatement> & Pick<CheckpointStatement, "seq" | "frontier">): CheckpointCertificate {
  return {
    statement: {
      chainId: CHAIN,
      boundaryMs: t0 + 1_000,
      prevBoundaryMs: 0,
      vertexCount: 2,
      txAccumulator: nextTxAccumulator(ZERO_HASH, []),
      stateHash: ZERO_HASH,
      journalHash: ZERO_HASH,
      prevDigest: ZERO_HASH,
      ...s,
    },
    signatures: [],
  };
}

function replayer() {
  return new Replayer({
    chainId: CHAIN,
    ledgerGenesis: null,
    verify: signatureCheck,
    committedReceipt: () => Promise.resolve(null),
    committedVertex: () => Promise.resolve(false),
  }, Replayer.genesisState());
}

Deno.test("Replayer.commit() takes a checkpoint that states exactly the replayed cut, and chains the next one", async () => {
  const [a, b, c] = await chain();
  const r = replayer();
  await r.apply(a);
  await r.apply(b);
  const first = cert({ seq: 1, frontier: [b.id] });
  const done = r.commit(first);
  assert.equal(done.state.cursor, "1.3");
  assert.deepEqual(done.vertices.map(([id]) => id), [a.id, b.id]);
  assert.ok(await r.knows(b.id));
  await r.apply(c);
  const second = cert({
    seq: 2,
    boundaryMs: t0 + 2_000,
    prevBoundaryMs: t0 + 1_000,
    vertexCount: 1,
    frontier: [c.id],
    txAccumulator: nextTxAccumulator(first.statement.txAccumulator, []),
    prevDigest: statementDigest(first.statement),
  });
  assert.equal(r.commit(second).state.cursor, "2.2");
});

Deno.test("Replayer.commit() refuses a checkpoint the feed does not match, and reset() drops what came since", async () => {
  const [a, b] = await chain();
  const r = replayer();
  await r.apply(a);
  await r.apply(b);
  const mismatch = (s: Parameters<typeof cert>[0], code: string) =>
    assert.throws(() => r.commit(cert(s)), (e: unknown) => e instanceof EdgeError && e.code === code);
  mismatch({ seq: 1, frontier: [b.id], vertexCount: 3 }, "edge_cut_mismatch");
  mismatch({ seq: 1, frontier: [a.id] }, "edge_cut_mismatch");
  mismatch({ seq: 1, frontier: [b.id], boundaryMs: t0 + 1 }, "edge_cut_mismatch");
  mismatch(
    { seq: 1, frontier: [b.id], txAccumulator: nextTxAccumulator(ZERO_HASH, ["ab".repeat(32)]) },
    "edge_cut_mismatch",
  );
  mismatch({ seq: 2, frontier: [b.id] }, "edge_cut_mismatch");
  mismatch({ seq: 1, frontier: [b.id], stateHash: new Uint8Array(32).fill(1) }, "edge_state_mismatch");
  await assert.rejects(r.apply(b), (e: unknown) => e instanceof EdgeError && e.code === "edge_feed_out_of_order");
  r.reset();
  assert.equal(r.pendingVertices, 0);
  assert.ok(!await r.knows(a.id));
  assert.equal(r.verified.cursor, "0.0");
});
