/**
 * An orphan flood through the DAG service: a Byzantine genesis validator
 * sends signed vertices whose parents never exist; an honest validator's
 * vertex waiting for a parent on its way must still be there when the parent
 * comes.
 */
import assert from "node:assert/strict";
import { encodeVertex, vertexSigningMessage } from "../core/mod.ts";
import { fromHex } from "../keys/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { MemoryStorage } from "../storage/mod.ts";
import { noble, testGenesis, type TestKey, validatorKeys } from "./_checkpoint_testing.ts";
import { DagService } from "./dag_service.ts";

const NOW_MS = 1_800_000_000_000;
/** Four validators share 8 places: 2 each. */
const LIMITS = { countMax: 8, bytesMax: 1 << 20, ageMaxMs: 60_000 };
const FLOOD = 12;

function vertex(author: TestKey, round: bigint, parents: string[], timestampMs: number): Uint8Array {
  const unsigned = {
    chainId: testGenesis().chainId,
    author: fromHex(author.id),
    round,
    timestampMs: BigInt(timestampMs),
    parents: parents.map(fromHex),
    transactions: [],
  };
  return encodeVertex({ ...unsigned, signature: author.signer.sign(vertexSigningMessage(unsigned)) });
}

Deno.test("DagService: a validator flooding the orphan buffer evicts only its own waiting vertices", async () => {
  const [honest, byzantine] = validatorKeys();
  const registry = new Registry();
  const dag = new DagService({
    storage: new MemoryStorage(),
    genesis: testGenesis(),
    backend: noble,
    registry,
    logger: silentLogger,
    nowMs: () => NOW_MS,
    orphanLimits: LIMITS,
  });
  const parent = vertex(honest, 0n, [], NOW_MS - 2_000);
  const parentId = (await dag.validate(parent)).id!;
  const childBytes = vertex(honest, 1n, [parentId], NOW_MS - 1_000);
  const child = await dag.submit(childBytes, "peer");
  assert.equal(child.status, "waiting");

  // Vertices naming parents nobody has: signed by a genesis validator, so they pass every check but one.
  for (let i = 0; i < FLOOD; i++) {
    const never = (i + 1).toString(16).padStart(64, "e");
    const r = await dag.submit(vertex(byzantine, 1n, [never], NOW_MS - 1_000 + i), "peer");
    assert.equal(r.status, "waiting");
  }
  assert.equal(dag.orphanCount, 3, "the honest child and the flooder's share of 2");
  const rejected = registry.counter("qudag_dag_vertices_rejected_total", "", ["reason"]);
  assert.equal(rejected.get({ reason: "orphan_author_share" }), FLOOD - 2);
  assert.equal(rejected.get({ reason: "orphan_evicted" }), 0);

  // The parent arrives: the honest child was kept and is placed.
  assert.equal((await dag.submit(parent, "peer")).status, "admitted");
  assert.equal(dag.stats().vertices, 2);
  assert.equal((await dag.submit(childBytes, "peer")).status, "duplicate");
});
