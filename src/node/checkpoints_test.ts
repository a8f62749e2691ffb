import assert from "node:assert/strict";
import {
  type CheckpointStatement,
  decodeStatement,
  encodeStatement,
  nextTxAccumulator,
  quorum,
  statementDigest,
  verifyCertificate,
  ZERO_HASH,
} from "../checkpoint/mod.ts";
import type { Cut } from "../consensus/mod.ts";
import { decodeMessage, encodeMessage, type ProtocolMessage, SNAPSHOT_CHUNK_BYTES_MAX } from "../net/protocol.ts";
import { MemoryStorage } from "../storage/mod.ts";
import {
  certify,
  hexId,
  mismatchesCounted,
  outsiderKey,
  sign,
  signatureCheck,
  signaturesCounted,
  statementOf,
  storedCut,
  testCut,
  testGenesis,
  type TestNode,
  testNode,
  validatorKeys,
} from "./_checkpoint_testing.ts";

const BOUNDARY_1_MS = 1_780_000_005_000;
const BOUNDARY_2_MS = 1_780_000_010_000;

const CUT_1: Cut = testCut(1, {
  boundaryMs: BOUNDARY_1_MS,
  prevBoundaryMs: 0,
  frontier: [hexId(0x11), hexId(0x12)],
  vertices: [hexId(0x10), hexId(0x11), hexId(0x12)],
  txIds: [hexId(0xa2), hexId(0xa1)],
});
const CUT_2: Cut = testCut(2, {
  boundaryMs: BOUNDARY_2_MS,
  prevBoundaryMs: BOUNDARY_1_MS,
  frontier: [hexId(0x21)],
  vertices: [hexId(0x20), hexId(0x21)],
  txIds: [hexId(0xb1)],
});
/** What a node that diverged states for seq 1: another frontier. */
const OTHER_CUT_1: Cut = testCut(1, { boundaryMs: BOUNDARY_1_MS, prevBoundaryMs: 0, frontier: [hexId(0x31)] });

/** Four validators' services, each with the other three as peers. */
function fourNodes(): TestNode[] {
  const ids = validatorKeys().map((k) => k.id);
  return ids.map((_, i) => testNode({ validator: i, peers: ids.filter((_, j) => j !== i) }));
}

/** Records `cut` in a node's store (as consensus does) and lets the service state it. */
async function stateCut(node: TestNode, cut: Cut): Promise<void> {
  node.storage.putCut(storedCut(cut));
  await node.service.onCut(cut);
}

/** Delivers every checkpoint signature the nodes sent to its addressee, then forgets them. */
async function deliverSignatures(nodes: TestNode[]): Promise<void> {
  const ids = validatorKeys().map((k) => k.id);
  for (const [i, node] of nodes.entries()) {
    for (const { to, m } of node.sent.splice(0)) {
      // Through the wire encoding, as the transport carries it.
      await nodes[ids.indexOf(to)].service.onMessage(ids[i], decodeMessage(encodeMessage(m)));
    }
  }
}

function ownStatement(node: TestNode, seq: number): { bytes: Uint8Array; digest: string; s: CheckpointStatement } {
  const cut = node.storage.getCut(seq);
  assert.ok(cut?.statement && cut.digest, `node has no statement of seq ${seq}`);
  return { bytes: cut.statement, digest: cut.digest, s: decodeStatement(cut.statement) };
}

async function verifyStored(node: TestNode, seq: number) {
  const c = node.storage.getCertificate(seq);
  assert.ok(c, `no certificate for seq ${seq}`);
  const g = testGenesis();
  return await verifyCertificate(
    { statement: decodeStatement(c.statement), signatures: c.signatures },
    { chainId: g.chainId, validators: g.validators },
    signatureCheck,
  );
}

Deno.test("onCut() on four validators states one digest, gossips it, and 3 of 4 signatures certify each seq", async () => {
  const nodes = fourNodes();
  const ids = validatorKeys().map((k) => k.id);
  assert.equal(quorum(ids.length), 3);

  for (const node of nodes) await stateCut(node, CUT_1);
  const first = ownStatement(nodes[0], 1);
  assert.deepEqual(first.s, statementOf(CUT_1, null));
  assert.deepEqual(first.s.stateHash, ZERO_HASH);
  assert.deepEqual(first.s.txAccumulator, nextTxAccumulator(ZERO_HASH, CUT_1.txIds));
  assert.equal(first.digest, statementDigest(first.s).toHex());
  for (const [i, node] of nodes.entries()) {
    const own = node.storage.getCut(1)!;
    assert.equal(own.digest, first.digest, `node ${i} stated another digest`);
    assert.deepEqual(own.statement, first.bytes);
    assert.ok(own.signature, `node ${i} did not sign`);
    assert.ok(await signatureCheck(validatorKeys()[i].publicKey, first.bytes, own.signature));
    // One signature to every peer, none to itself.
    assert.deepEqual(node.sent.map((x) => x.to).sort(), ids.filter((_, j) => j !== i).sort());
    for (const { m } of node.sent) {
      assert.deepEqual(m, { type: "checkpointSignature", seq: 1, digest: first.digest, signature: own.signature });
    }
    assert.equal(node.storage.getCertificate(1), null, "one signature is no certificate");
  }

  await deliverSignatures(nodes);
  for (const [i, node] of nodes.entries()) {
    const c = node.storage.getCertificate(1);
    assert.ok(c, `node ${i} did not certify seq 1`);
    assert.equal(c.digest, first.digest);
    assert.deepEqual(c.statement, first.bytes);
    assert.ok(c.signatures.length >= 3 && c.signatures.some((s) => s.validator === ids[i]));
    assert.deepEqual(await verifyStored(node, 1), { ok: true, signers: c.signatures.map((s) => s.validator).sort() });
    assert.equal(node.registry.gauge("qudag_checkpoint_certified_sequence", "").get(), 1);
    assert.equal(node.registry.gauge("qudag_checkpoint_sequence", "").get(), 1);
  }

  // Seq 2 chains onto seq 1: its digest, and the accumulator carried on.
  for (const node of nodes) await stateCut(node, CUT_2);
  const second = ownStatement(nodes[0], 2);
  assert.deepEqual(second.s.prevDigest, statementDigest(first.s));
  assert.equal(second.s.prevBoundaryMs, BOUNDARY_1_MS);
  assert.deepEqual(second.s.txAccumulator, nextTxAccumulator(first.s.txAccumulator, CUT_2.txIds));
  assert.deepEqual(second.s, statementOf(CUT_2, first.s));
  for (const node of nodes) assert.equal(node.storage.getCut(2)!.digest, second.digest);
  await deliverSignatures(nodes);
  for (const [i, node] of nodes.entries()) {
    assert.equal(node.storage.getCertificate(2)?.digest, second.digest, `node ${i} did not certify seq 2`);
    assert.equal((await verifyStored(node, 2)).ok, true);
    assert.equal(node.registry.gauge("qudag_checkpoint_certified_sequence", "").get(), 2);
  }
});

Deno.test("onSignature() counts neither a signature that does not verify nor one from a non-validator", async () => {
  const [k0, k1, k2, k3] = validatorKeys();
  const node = testNode({ validator: 0 });
  await stateCut(node, CUT_1);
  const { bytes, digest } = ownStatement(node, 1);

  await node.service.onSignature(k1.id, 1, digest, k1.signer.sign(bytes));
  // Validator 2's id with validator 3's (valid) signature; validator 3's signature with a flipped byte.
  await node.service.onSignature(k2.id, 1, digest, k3.signer.sign(bytes));
  const flipped = k3.signer.sign(bytes);
  flipped[100] ^= 1;
  await node.service.onSignature(k3.id, 1, digest, flipped);
  // An outsider's own valid signature.
  await node.service.onSignature(outsiderKey().id, 1, digest, outsiderKey().signer.sign(bytes));

  assert.equal(node.storage.getCertificate(1), null, "2 good signatures and 3 bad ones made a certificate");
  assert.equal(signaturesCounted(node.registry, "new"), 1);
  assert.equal(signaturesCounted(node.registry, "bad_signature"), 2);
  assert.equal(signaturesCounted(node.registry, "unknown_validator"), 1);
  assert.equal(node.lines.filter((l) => l.msg === "checkpoint signature does not verify").length, 2);

  // Validator 2's genuine signature is the third: its earlier bad one did not use up its place.
  await node.service.onSignature(k2.id, 1, digest, k2.signer.sign(bytes));
  const c = node.storage.getCertificate(1);
  assert.ok(c);
  assert.deepEqual(c.signatures.map((s) => s.validator), [k0.id, k1.id, k2.id].sort());
  assert.equal((await verifyStored(node, 1)).ok, true);
});

Deno.test("onSignature() holds signatures of a digest this node did not state and asks for its certificate at a quorum", async () => {
  const [, k1, k2, k3] = validatorKeys();
  const node = testNode({ validator: 0 });
  await stateCut(node, CUT_1);
  const own = ownStatement(node, 1);
  node.sent.length = 0;
  const other = encodeStatement(statementOf(OTHER_CUT_1, null));
  const otherDigest = statementDigest(statementOf(OTHER_CUT_1, null)).toHex();
  assert.notEqual(otherDigest, own.digest);

  await node.service.onSignature(k1.id, 1, otherDigest, k1.signer.sign(other));
  await node.service.onSignature(k2.id, 1, otherDigest, k2.signer.sign(other));
  assert.deepEqual(node.sent, [], "asked before a quorum signed the other digest");
  assert.equal(signaturesCounted(node.registry, "held"), 2);
  await node.service.onSignature(k3.id, 1, otherDigest, k3.signer.sign(other));
  assert.deepEqual(node.sent, [{ to: k3.id, m: { type: "getCheckpoint", seq: 1, withSnapshot: false } }]);
  assert.equal(signaturesCounted(node.registry, "held"), 3);
  // Held, not counted: no certificate of either digest, and this node's own statement stands.
  assert.equal(node.storage.getCertificate(1), null);
  assert.equal(node.storage.getCut(1)!.digest, own.digest);
  // Asked once per seq.
  await node.service.onSignature(outsiderKey().id, 1, otherDigest, outsiderKey().signer.sign(other));
  assert.equal(node.sent.length, 1);
});

Deno.test("onSignature() counts the signatures that arrived before this node stated the cut", async () => {
  const [, k1, k2] = validatorKeys();
  const node = testNode({ validator: 0 });
  const bytes = encodeStatement(statementOf(CUT_1, null));
  const digest = statementDigest(statementOf(CUT_1, null)).toHex();
  await node.service.onSignature(k1.id, 1, digest, k1.signer.sign(bytes));
  // The cut is stored but its statement is not known yet (the ledger is still folding it).
  node.storage.putCut(storedCut(CUT_1));
  await node.service.onSignature(k2.id, 1, digest, k2.signer.sign(bytes));
  assert.equal(node.storage.getCertificate(1), null);
  await node.service.onCut(CUT_1);
  assert.equal(node.storage.getCertificate(1)?.digest, digest);
  assert.equal((await verifyStored(node, 1)).ok, true);
});

Deno.test("onCertificate() stores a genuine certificate and reports its position", async () => {
  const [k0, k1, k2] = validatorKeys();
  const node = testNode({ validator: 3 });
  const s = statementOf(CUT_1, null);
  const c = certify(s, [k0, k1, k2]);
  const cert = await node.service.onCertificate(k1.id, c.statement, c.signatures);
  assert.ok(cert);
  assert.deepEqual(cert.statement, s);
  assert.deepEqual(node.storage.getCertificate(1), c);
  assert.equal(node.service.latest()?.digest, c.digest);
  assert.deepEqual(node.certified, [{
    position: { boundaryMs: BOUNDARY_1_MS, frontier: CUT_1.frontier },
    from: k1.id,
  }]);
  assert.equal(node.registry.gauge("qudag_checkpoint_certified_sequence", "").get(), 1);
  assert.equal(mismatchesCounted(node.registry), 0);
});

Deno.test("onCertificate() refuses under-signed, forged and other-chain certificates and stores none", async () => {
  const [k0, k1, k2, k3] = validatorKeys();
  const s = statementOf(CUT_1, null);
  const good = certify(s, [k0, k1, k2, k3]);
  const bytes = good.statement;
  const cases: { name: string; statement: Uint8Array; signatures: { validator: string; signature: Uint8Array }[] }[] = [
    { name: "checkpoint_under_signed", statement: bytes, signatures: good.signatures.slice(0, 2) },
    {
      name: "checkpoint_bad_signature",
      statement: bytes,
      // Three signers, one of whose signatures is validator 0's over the same statement.
      signatures: [sign(k0, bytes), sign(k1, bytes), { validator: k2.id, signature: sign(k0, bytes).signature }],
    },
    {
      name: "checkpoint_wrong_chain",
      ...(() => {
        const c = certify(statementOf(CUT_1, null, new Uint8Array(32).fill(0xee)), [k0, k1, k2]);
        return { statement: c.statement, signatures: [...c.signatures] };
      })(),
    },
  ];
  for (const { name, statement, signatures } of cases) {
    const node = testNode({ validator: 3 });
    assert.equal(await node.service.onCertificate(k1.id, statement, signatures), null, name);
    assert.equal(signaturesCounted(node.registry, name), 1, name);
    assert.equal(node.storage.getCertificate(1), null, name);
    assert.deepEqual(node.certified, [], name);
    const warned = node.lines.find((l) => l.msg === "checkpoint from a peer refused");
    assert.equal(warned?.code, name);
  }

  const node = testNode({ validator: 3 });
  const truncated = bytes.subarray(0, bytes.length - 1);
  assert.equal(await node.service.onCertificate(k1.id, truncated, good.signatures.slice()), null);
  assert.equal(node.storage.getCertificate(1), null);
  assert.ok(node.lines.some((l) => l.msg === "malformed checkpoint from a peer"));
});

Deno.test("onCertificate() of a statement that contradicts this node's own counts a mismatch, logs it, and asks for a sync", async () => {
  const [, k1, k2, k3] = validatorKeys();
  const node = testNode({ validator: 0 });
  await stateCut(node, CUT_1);
  const own = ownStatement(node, 1);
  const other = certify(statementOf(OTHER_CUT_1, null), [k1, k2, k3]);

  const cert = await node.service.onMessage(k3.id, {
    type: "checkpoint",
    statement: other.statement,
    signatures: [...other.signatures],
  }).then(() => node.storage.getCertificate(1));
  assert.equal(cert?.digest, other.digest, "the certified statement is kept: it is the chain's");
  assert.equal(mismatchesCounted(node.registry), 1);
  const logged = node.lines.find((l) =>
    l.level === "error" && String(l.msg).includes("differs from the certified one")
  );
  assert.ok(logged, "the divergence was not logged as an error");
  assert.equal(logged.own, own.digest);
  assert.equal(logged.certified, other.digest);
  assert.equal(node.storage.getCut(1)!.digest, own.digest);
  assert.deepEqual(node.diverged, [1], "the node is told to sync again");

  // A certificate of this node's own statement is no mismatch.
  const none = testNode({ validator: 0 });
  await stateCut(none, CUT_1);
  const same = certify(statementOf(CUT_1, null), [k1, k2, k3]);
  assert.ok(await none.service.onCertificate(k1.id, same.statement, [...same.signatures]));
  assert.equal(mismatchesCounted(none.registry), 0);
  assert.deepEqual(none.diverged, []);
});

/** Certificates of seqs 1..3 in a node's store; snapshots held at `snapshotSeqs`. */
function servingNode(snapshotSeqs: number[]): { node: TestNode; digests: string[] } {
  const node = testNode({ validator: 0 });
  const signatures = validatorKeys().slice(0, 3).map((k) => ({ validator: k.id, signature: new Uint8Array(4627) }));
  const cuts = [
    CUT_1,
    CUT_2,
    testCut(3, { boundaryMs: 1_780_000_015_000, prevBoundaryMs: BOUNDARY_2_MS, frontier: [hexId(0x41)] }),
  ];
  let prev: CheckpointStatement | null = null;
  const digests: string[] = [];
  for (const cut of cuts) {
    const s = statementOf(cut, prev);
    const digest = statementDigest(s).toHex();
    node.storage.putCertificate({ seq: cut.seq, digest, statement: encodeStatement(s), signatures });
    digests.push(digest);
    prev = s;
  }
  for (const seq of snapshotSeqs) node.storage.putSnapshot(seq, new Uint8Array(64).fill(seq), 10);
  return { node, digests };
}

async function answer(node: TestNode, m: ProtocolMessage): Promise<ProtocolMessage[]> {
  node.sent.length = 0;
  await node.service.onMessage("asker", m);
  assert.ok(node.sent.every((x) => x.to === "asker"));
  // Every answer must fit the wire.
  return node.sent.map((x) => decodeMessage(encodeMessage(x.m)));
}

Deno.test("onMessage(getCheckpoint) answers the newest certificate, the newest with a snapshot, or one seq", async () => {
  const { node, digests } = servingNode([1, 2]);
  const digestOf = (m: ProtocolMessage) => {
    assert.equal(m.type, "checkpoint");
    return statementDigest(decodeStatement(m.statement)).toHex();
  };
  const withSnapshot = await answer(node, { type: "getCheckpoint", seq: 0, withSnapshot: true });
  assert.deepEqual(withSnapshot.map(digestOf), [digests[1]], "seq 3 has no snapshot here: seq 2 is the answer");
  assert.equal((withSnapshot[0] as { signatures: unknown[] }).signatures.length, 3);
  assert.deepEqual((await answer(node, { type: "getCheckpoint", seq: 0, withSnapshot: false })).map(digestOf), [
    digests[2],
  ]);
  assert.deepEqual((await answer(node, { type: "getCheckpoint", seq: 1, withSnapshot: false })).map(digestOf), [
    digests[0],
  ]);
  // None held: an empty statement says so (a starting node need not wait for an answer that never comes).
  const none = [{ type: "checkpoint", statement: new Uint8Array(), signatures: [] }];
  assert.deepEqual(await answer(node, { type: "getCheckpoint", seq: 9, withSnapshot: false }), none);

  const bare = servingNode([]).node;
  assert.deepEqual(await answer(bare, { type: "getCheckpoint", seq: 0, withSnapshot: true }), none);
  const empty = testNode({ validator: 0 });
  assert.deepEqual(await answer(empty, { type: "getCheckpoint", seq: 0, withSnapshot: false }), none);
});

Deno.test("onMessage(getSnapshot) answers chunks of at most SNAPSHOT_CHUNK_BYTES_MAX with the total, 0 when not held", async () => {
  const storage = new MemoryStorage();
  const snapshot = new Uint8Array(2 * SNAPSHOT_CHUNK_BYTES_MAX + 100).map((_, i) => (i * 31 + (i >> 9)) & 0xff);
  storage.putSnapshot(4, snapshot, 2);
  const node = testNode({ validator: 0, storage });

  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < snapshot.length;) {
    const [m, ...more] = await answer(node, { type: "getSnapshot", seq: 4, offset });
    assert.equal(more.length, 0);
    assert.equal(m.type, "snapshotChunk");
    assert.deepEqual([m.seq, m.offset, m.total], [4, offset, snapshot.length]);
    assert.ok(m.bytes.length > 0 && m.bytes.length <= SNAPSHOT_CHUNK_BYTES_MAX);
    parts.push(m.bytes);
    offset += m.bytes.length;
  }
  assert.deepEqual(parts.map((p) => p.length), [SNAPSHOT_CHUNK_BYTES_MAX, SNAPSHOT_CHUNK_BYTES_MAX, 100]);
  assert.deepEqual(new Uint8Array(parts.flatMap((p) => [...p])), snapshot);

  assert.deepEqual(await answer(node, { type: "getSnapshot", seq: 4, offset: snapshot.length }), [
    { type: "snapshotChunk", seq: 4, offset: snapshot.length, total: snapshot.length, bytes: new Uint8Array() },
  ]);
  assert.deepEqual(await answer(node, { type: "getSnapshot", seq: 3, offset: 0 }), [
    { type: "snapshotChunk", seq: 3, offset: 0, total: 0, bytes: new Uint8Array() },
  ]);
});

Deno.test("askNewest() asks the connected peers in turn for their newest certificate, and no one when alone", () => {
  const [, k1, k2] = validatorKeys();
  const node = testNode({ validator: 0, peers: [k1.id, k2.id] });
  node.service.askNewest();
  node.service.askNewest();
  node.service.askNewest();
  assert.deepEqual(node.sent.map((s) => [s.to, s.m]), [
    [k1.id, { type: "getCheckpoint", seq: 0, withSnapshot: false }],
    [k2.id, { type: "getCheckpoint", seq: 0, withSnapshot: false }],
    [k1.id, { type: "getCheckpoint", seq: 0, withSnapshot: false }],
  ]);
  const alone = testNode({ validator: 0 });
  alone.service.askNewest();
  assert.deepEqual(alone.sent, []);
});
