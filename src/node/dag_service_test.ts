import assert from "node:assert/strict";
import {
  encodeVertex,
  ML_DSA_87_SIGNATURE_BYTES,
  type UnsignedVertex,
  validateVertex,
  vertexSigningMessage,
} from "../core/mod.ts";
import { fromHex } from "../keys/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { SendCipher } from "../net/channel.ts";
import { KIND_APP } from "../net/frame.ts";
import { encodeMessage, PEER_MESSAGE_BYTES_MAX, VERTEX_RELAY_BYTES_MAX } from "../net/protocol.ts";
import { DEFAULT_LIMITS } from "../net/transport.ts";
import { MemoryStorage } from "../storage/mod.ts";
import { keyFromSeed, signTransaction } from "../../tests/_tx.ts";
import { noble, testGenesis, validatorKeys } from "./_checkpoint_testing.ts";
import { DagService } from "./dag_service.ts";

const DAY_MS = 86_400_000;

/** A genesis-level vertex (no parents) signed by validator 0 at `timestampMs`. */
function vertexAt(timestampMs: number, fields: Partial<UnsignedVertex> = {}): Uint8Array {
  const genesis = testGenesis();
  const author = validatorKeys()[0];
  const unsigned: UnsignedVertex = {
    chainId: genesis.chainId,
    author: fromHex(author.id),
    round: 0n,
    timestampMs: BigInt(timestampMs),
    parents: [],
    transactions: [],
    ...fields,
  };
  return encodeVertex({ ...unsigned, signature: author.signer.sign(vertexSigningMessage(unsigned)) });
}

function service(nowMs: number) {
  const registry = new Registry();
  const dag = new DagService({
    storage: new MemoryStorage(),
    genesis: testGenesis(),
    backend: noble,
    registry,
    logger: silentLogger,
    nowMs: () => nowMs,
  });
  return { dag, registry };
}

Deno.test("DagService refuses a vertex older than the past drift submitted to it, and takes one from a peer (catch-up)", async () => {
  const now = 1_800_000_000_000;
  const old = vertexAt(now - 8 * DAY_MS);
  const api = await service(now).dag.submit(old, "api");
  assert.equal(api.status, "rejected");
  assert.equal(api.code, "clock_drift");
  // A node back after a week catches up on what its peers accepted meanwhile: bounded by the settled cut, not the clock.
  const peer = await service(now).dag.submit(old, "peer");
  assert.equal(peer.status, "admitted");
});

Deno.test("DagService checks a version 2 vertex's signature over its body's digest, and a version 1 vertex's over its body", async () => {
  const now = 1_800_000_000_000;
  const current = vertexAt(now - 10_000);
  const first = vertexAt(now - 9_000, { version: 1 });
  assert.deepEqual([current[0], first[0]], [2, 1]);
  for (const bytes of [current, first]) {
    const r = await service(now).dag.submit(bytes, "peer");
    assert.equal(r.status, "admitted", JSON.stringify(r));
  }
  // Each signed over the other version's message: the author's signature, but not over what the bytes say it is.
  const author = validatorKeys()[0];
  for (const [bytes, version] of [[current, 1], [first, 2]] as const) {
    const { signature: _, ...unsigned } = validateVertex(bytes).vertex;
    const other = { ...unsigned, version: version === 1 ? 1 as const : undefined };
    const swapped = bytes.slice();
    swapped.set(author.signer.sign(vertexSigningMessage(other)), bytes.length - ML_DSA_87_SIGNATURE_BYTES);
    const r = await service(now).dag.submit(swapped, "peer");
    assert.equal(r.status, "rejected");
    assert.equal(r.code, "bad_signature");
  }
});

Deno.test("DagService refuses a peer's vertex below the settled cut, and one that misses the required frontier", async () => {
  const now = 1_800_000_000_000;
  const a = vertexAt(now - 10_000);
  const { dag } = service(now);
  const first = await dag.submit(a, "peer");
  assert.equal(first.status, "admitted");
  // The cut at now - 5 s settles a; a cut after it requires its frontier [a].
  dag.advanceCut({ boundaryMs: now - 5_000, frontier: [first.id!] });
  dag.advanceCut({ boundaryMs: now - 4_000, frontier: [first.id!] });
  const below = await dag.submit(vertexAt(now - 6_000), "peer");
  assert.equal(below.status, "rejected");
  assert.equal(below.code, "below_settled_cut");
  // Above the cut, but on no parent: it does not descend from the frontier.
  const stray = await dag.submit(vertexAt(now - 1_000), "peer");
  assert.equal(stray.status, "rejected");
  assert.equal(stray.code, "stale_parents");
});

Deno.test("DagService's caches keep about a cut's worth: a closed cut drops what lies below the required one", async () => {
  const now = 1_800_000_000_000;
  const { dag } = service(now);
  const old = [];
  for (const ms of [10_000, 9_000, 8_000]) old.push((await dag.submit(vertexAt(now - ms), "peer")).id!);
  const recent = await dag.submit(vertexAt(now - 1_000), "peer");
  assert.equal(recent.status, "admitted");
  const before = dag.cacheSizes();
  assert.deepEqual([before.links, before.timestamps, before.rounds, before.decoded], [4, 4, 4, 4]);
  // Two cuts: the first (at now - 5 s) becomes the one every new vertex must descend from.
  dag.advanceCut({ boundaryMs: now - 5_000, frontier: old });
  dag.advanceCut({ boundaryMs: now - 4_000, frontier: old });
  const after = dag.cacheSizes();
  assert.deepEqual([after.links, after.timestamps, after.rounds, after.decoded], [1, 1, 1, 1]);
  // Only the cache forgot: the links of an old vertex are read back from storage when asked.
  assert.deepEqual(dag.causalPast.links(old[0])?.parents, []);
  assert.ok(dag.decoded(recent.id!) !== undefined && dag.decoded(old[0]) === undefined);
});

/** Data transactions of one account, signed once for every vertexOfSize call. */
const fillers: Uint8Array[] = [];
let creation: Uint8Array | undefined;
const FILLER_DATA_BYTES = 8192;

/** A validator-signed vertex of exactly `size` bytes: data transactions of one account filling it. */
function vertexOfSize(size: number, timestampMs: number): Uint8Array {
  const genesis = testGenesis();
  const author = validatorKeys()[0];
  const key = keyFromSeed(new Uint8Array(32).fill(7));
  const data = (nonce: number, bytes: number) =>
    signTransaction(genesis.chainId, key, BigInt(nonce), { kind: "data", data: new Uint8Array(bytes).fill(1) });
  const unsigned = (transactions: Uint8Array[]) => ({
    chainId: genesis.chainId,
    author: fromHex(author.id),
    round: 0n,
    timestampMs: BigInt(timestampMs),
    parents: [],
    transactions,
  });
  // A signature's length does not depend on what it signs: measure with a blank one.
  const lengthOf = (txs: Uint8Array[]) =>
    encodeVertex({ ...unsigned(txs), signature: new Uint8Array(ML_DSA_87_SIGNATURE_BYTES) }).length;
  // The account's create_account first (nonce 0), so that its data transactions (nonces 1, 2, …) are in order.
  creation ??= signTransaction(genesis.chainId, key, 0n, {
    kind: "create_account",
    name: "filler",
    publicKey: key.publicKey,
  });
  const txs: Uint8Array[] = [creation];
  if (fillers.length === 0) fillers.push(data(1, FILLER_DATA_BYTES));
  const overhead = 4 + fillers[0].length - FILLER_DATA_BYTES; // a data transaction's bytes besides its data
  for (;;) {
    // The data bytes one more transaction would need to fill the vertex exactly.
    const room = size - lengthOf(txs) - overhead;
    assert.ok(room >= 0, "sizes too small for this helper");
    if (room <= FILLER_DATA_BYTES) {
      txs.push(data(txs.length, room));
      break;
    }
    if (room >= FILLER_DATA_BYTES + overhead) {
      const i = txs.length - 1;
      if (i === fillers.length) fillers.push(data(i + 1, FILLER_DATA_BYTES));
      txs.push(fillers[i]);
      continue;
    }
    // Too much for one transaction, too little for a full one and another: two that share it.
    const half = Math.floor((room - overhead) / 2);
    txs.push(data(txs.length, half));
    txs.push(data(txs.length, room - overhead - half));
    break;
  }
  const body = unsigned(txs);
  const bytes = encodeVertex({ ...body, signature: author.signer.sign(vertexSigningMessage(body)) });
  assert.equal(bytes.length, size);
  return bytes;
}

Deno.test("DagService refuses a vertex too large to relay (one size limit from the transport's), from the API and from peers", async () => {
  const now = 1_800_000_000_000;
  assert.equal(DEFAULT_LIMITS.messageBytesMax, PEER_MESSAGE_BYTES_MAX);
  for (const size of [VERTEX_RELAY_BYTES_MAX + 1, 1_048_572]) {
    const big = vertexOfSize(size, now - 1_000);
    for (const origin of ["api", "peer"] as const) {
      const { dag, registry } = service(now);
      const r = await dag.submit(big, origin);
      assert.equal(r.status, "rejected", `${size} bytes from ${origin}`);
      assert.equal(r.code, "vertex_too_large");
      assert.equal(dag.stats().vertices, 0, "nothing stored");
      assert.match(registry.render(), /qudag_dag_vertices_rejected_total\{reason="vertex_too_large"\} 1/);
    }
  }
  // The largest admitted vertex still fits one sealed `vertices` message.
  const largest = vertexOfSize(VERTEX_RELAY_BYTES_MAX, now - 1_000);
  assert.equal((await service(now).dag.submit(largest, "api")).status, "admitted");
  const cipher = await SendCipher.create(new Uint8Array(32));
  const frame = await cipher.seal(KIND_APP, encodeMessage({ type: "vertices", vertices: [largest] }));
  assert.equal(frame.length, PEER_MESSAGE_BYTES_MAX);
});
