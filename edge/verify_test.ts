import assert from "node:assert/strict";
import { MemoryStorage } from "../src/storage/mod.ts";
import { CHAIN, DagWriter, T0 } from "../src/ledger/_testing.ts";
import {
  certify,
  signatureCheck,
  statementOf,
  testCut,
  testGenesis,
  validatorKeys,
} from "../src/node/_checkpoint_testing.ts";
import { certificateToJson, decodeStatement } from "../src/checkpoint/mod.ts";
import { validateVertex } from "../src/core/mod.ts";
import { EdgeError, type FeedVertexJson, verifyCheckpointEvent, verifyVertexEvent } from "./verify.ts";

/** The test validators on the chain DagWriter writes (validator 0 authors its vertices). */
const genesis = { chainId: CHAIN, validators: testGenesis().validators };

function event(bytes: Uint8Array, cut = 1): FeedVertexJson {
  const info = validateVertex(bytes);
  const id = info.id.toHex();
  return {
    type: "vertex",
    cursor: `${cut}.1`,
    cut,
    id,
    timestampMs: Number(info.vertex.timestampMs),
    vertex: bytes.toBase64(),
    decisions: [id, ...info.transactionIds.map((t) => t.toHex())].map((x) => ({
      id: x,
      subject: "vertex",
      status: "accepted",
    })),
  };
}

function vertices(o: { fakeSignatures?: boolean } = {}) {
  const storage = new MemoryStorage();
  const w = new DagWriter(storage, o);
  const a = w.vertex([], [], T0);
  const b = w.vertex([a], [], T0 + 1n);
  return { a: storage.getVertex(a)!.bytes, b: storage.getVertex(b)!.bytes, aId: a };
}

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof EdgeError && e.code === code);
}

Deno.test("verifyVertexEvent() accepts a genesis validator's vertex whose parents are verified", async () => {
  const { a, b, aId } = vertices();
  const v = await verifyVertexEvent(event(b), genesis, signatureCheck, (p) => p === aId);
  assert.deepEqual(v.parents, [aId]);
  assert.equal((await verifyVertexEvent(event(a), genesis, signatureCheck, () => false)).parents.length, 0);
});

Deno.test("verifyVertexEvent() refuses each lie with its code", async () => {
  const { b, aId } = vertices();
  const known = (p: string) => p === aId;
  await refused(
    verifyVertexEvent({ ...event(b), id: "00".repeat(32) }, genesis, signatureCheck, known),
    "edge_vertex_id_mismatch",
  );
  await refused(
    verifyVertexEvent({ ...event(b), vertex: "AAAA" }, genesis, signatureCheck, known),
    "edge_vertex_malformed",
  );
  await refused(verifyVertexEvent(event(b), testGenesis(), signatureCheck, known), "edge_vertex_wrong_chain");
  const others = { chainId: CHAIN, validators: genesis.validators.slice(1) };
  await refused(verifyVertexEvent(event(b), others, signatureCheck, known), "edge_vertex_unknown_author");
  await refused(verifyVertexEvent(event(b), genesis, signatureCheck, () => false), "edge_vertex_missing_parent");
  await refused(
    verifyVertexEvent({ ...event(b), timestampMs: 1 }, genesis, signatureCheck, known),
    "edge_feed_out_of_order",
  );
  const forged = vertices({ fakeSignatures: true });
  await refused(verifyVertexEvent(event(forged.a), genesis, signatureCheck, () => true), "edge_vertex_bad_signature");
});

Deno.test("verifyCheckpointEvent() takes more than 2/3 of the genesis validators and nothing less", async () => {
  const cut = testCut(1, { boundaryMs: 2_000, prevBoundaryMs: 0, frontier: ["aa".repeat(32)] });
  const statement = statementOf(cut, null);
  const json = (signers: number) => {
    const c = certify(statement, validatorKeys().slice(0, signers));
    return certificateToJson({ statement: decodeStatement(c.statement), signatures: c.signatures });
  };
  const ok = await verifyCheckpointEvent(
    { type: "checkpoint", cursor: "1.2", cut: 1, certificate: json(3) },
    testGenesis(),
    signatureCheck,
  );
  assert.equal(ok.statement.seq, 1);
  await refused(
    verifyCheckpointEvent(
      { type: "checkpoint", cursor: "1.2", cut: 1, certificate: json(2) },
      testGenesis(),
      signatureCheck,
    ),
    "checkpoint_under_signed",
  );
  await refused(
    verifyCheckpointEvent(
      { type: "checkpoint", cursor: "2.2", cut: 2, certificate: json(3) },
      testGenesis(),
      signatureCheck,
    ),
    "edge_feed_out_of_order",
  );
  await refused(
    verifyCheckpointEvent(
      { type: "checkpoint", cursor: "1.2", cut: 1, certificate: { format: "x" } },
      testGenesis(),
      signatureCheck,
    ),
    "checkpoint_malformed",
  );
});
