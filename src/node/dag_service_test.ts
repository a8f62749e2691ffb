import assert from "node:assert/strict";
import { encodeVertex, vertexSigningMessage } from "../core/mod.ts";
import { fromHex } from "../keys/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { MemoryStorage } from "../storage/mod.ts";
import { noble, testGenesis, validatorKeys } from "./_checkpoint_testing.ts";
import { DagService } from "./dag_service.ts";

const DAY_MS = 86_400_000;

/** A genesis-level vertex (no parents) signed by validator 0 at `timestampMs`. */
function vertexAt(timestampMs: number): Uint8Array {
  const genesis = testGenesis();
  const author = validatorKeys()[0];
  const unsigned = {
    chainId: genesis.chainId,
    author: fromHex(author.id),
    round: 0n,
    timestampMs: BigInt(timestampMs),
    parents: [],
    transactions: [],
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
