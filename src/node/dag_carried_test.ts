/**
 * A Byzantine validator carrying a forged, keyless or out-of-order
 * transaction: its vertex is refused at admission, in a chain without the
 * exchange as in one with it, so the transaction never spends its
 * (account, nonce) conflict key (wasm/LEDGER.md, "Known limits").
 */
import assert from "node:assert/strict";
import { encodeVertex, vertexSigningMessage } from "../core/mod.ts";
import { fromHex } from "../keys/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { MemoryStorage } from "../storage/mod.ts";
import { keyFromSeed, signTransaction } from "../../tests/_tx.ts";
import { noble, testGenesis, validatorKeys } from "./_checkpoint_testing.ts";
import { DagService, type SubmitResult } from "./dag_service.ts";

const NOW = 1_800_000_000_000;
const chainId = () => testGenesis().chainId;
const alice = keyFromSeed(new Uint8Array(32).fill(31));
const mallory = keyFromSeed(new Uint8Array(32).fill(32));

const create = () =>
  signTransaction(chainId(), alice, 0n, { kind: "create_account", name: "alice", publicKey: alice.publicKey });
const data = (nonce: bigint, key = alice) =>
  signTransaction(chainId(), key, nonce, { kind: "data", data: new TextEncoder().encode(`n${nonce}`) });
/** Alice's transaction signed by Mallory's key: its account is Alice's, its signature is not. */
function forged(nonce: bigint): Uint8Array {
  const bytes = signTransaction(chainId(), { ...mallory, id: alice.id }, nonce, {
    kind: "data",
    data: new TextEncoder().encode("forged"),
  });
  return bytes;
}

/** A vertex of validator 0 (the Byzantine one here) with these parents and transactions. */
function vertex(parents: string[], txs: Uint8Array[], dt = 0, round = parents.length ? 1 : 0): Uint8Array {
  const author = validatorKeys()[0];
  const unsigned = {
    chainId: chainId(),
    author: fromHex(author.id),
    round: BigInt(round),
    timestampMs: BigInt(NOW - 10_000 + dt),
    parents: parents.map(fromHex).sort((a, b) => Buffer.compare(a, b)),
    transactions: txs,
  };
  return encodeVertex({ ...unsigned, signature: author.signer.sign(vertexSigningMessage(unsigned)) });
}

/** A chain without the exchange, or (sequential nonces, as the ledger applies them) with it. */
function service(exchange = false) {
  const registry = new Registry();
  const dag = new DagService({
    storage: new MemoryStorage(),
    // DAG admission reads only whether the genesis has an exchange section.
    genesis: exchange ? { ...testGenesis(), exchange: {} } : testGenesis(),
    backend: noble,
    registry,
    logger: silentLogger,
    nowMs: () => NOW,
  });
  return { dag, registry };
}

function rejected(r: SubmitResult, code: string): void {
  assert.equal(r.status, "rejected", JSON.stringify(r));
  assert.equal(r.code, code, r.message ?? "");
}

Deno.test("admission refuses a forged transaction (bad signature) in a chain without the exchange", async () => {
  const { dag, registry } = service();
  const v1 = await dag.submit(vertex([], [create()]), "peer");
  assert.equal(v1.status, "admitted");
  rejected(await dag.submit(vertex([v1.id!], [forged(1n)], 1), "peer"), "tx_bad_signature");
  rejected(await dag.submit(vertex([v1.id!], [forged(1n)], 2), "api"), "tx_bad_signature");
  assert.match(registry.render(), /qudag_dag_vertices_rejected_total\{reason="tx_bad_signature"\} 2/);
  // The honest nonce 1 is still free.
  assert.equal((await dag.submit(vertex([v1.id!], [data(1n)], 3), "peer")).status, "admitted");
});

Deno.test("with the exchange, admission refuses a transaction whose previous nonce is not in the vertex's causal past", async () => {
  const { dag } = service(true);
  const v1 = await dag.submit(vertex([], [create()]), "peer");
  // Nonce 2 right after the creation: nonce 1 is nowhere.
  rejected(await dag.submit(vertex([v1.id!], [data(2n)], 1), "peer"), "tx_out_of_order");
  // Nonce 1 on a vertex that does not descend from the creation.
  const other = await dag.submit(vertex([], [], 2), "peer");
  rejected(await dag.submit(vertex([other.id!], [data(1n)], 3), "peer"), "tx_out_of_order");
  // In order within one vertex, and across vertices along a causal chain.
  const v2 = await dag.submit(vertex([v1.id!], [data(1n), data(2n)], 4), "peer");
  assert.equal(v2.status, "admitted", v2.message ?? "");
  const v3 = await dag.submit(vertex([v2.id!], [data(3n)], 5, 2), "peer");
  assert.equal(v3.status, "admitted", v3.message ?? "");
  // Nonce 0 of an account is its create_account.
  rejected(await dag.submit(vertex([], [data(0n, mallory)], 6), "peer"), "tx_unknown_account");
});

Deno.test("without the exchange, any nonce of an account whose creation is in the vertex's causal past", async () => {
  const { dag } = service();
  const v1 = await dag.submit(vertex([], [create()]), "peer");
  const v2 = await dag.submit(vertex([v1.id!], [data(5n), data(2n)], 1), "peer");
  assert.equal(v2.status, "admitted", v2.message ?? "");
  // Not descending from the creation: the account's key is known here, but not in that vertex's past.
  const other = await dag.submit(vertex([], [], 2), "peer");
  rejected(await dag.submit(vertex([other.id!], [data(7n)], 3), "peer"), "tx_out_of_order");
});

Deno.test("admission refuses a transaction of an account nothing created, once the vertex's parents are here", async () => {
  const { dag } = service();
  rejected(await dag.submit(vertex([], [data(1n)]), "peer"), "tx_unknown_account");
  const validate = await dag.validate(vertex([], [data(1n)], 1));
  rejected(validate, "tx_unknown_account");
});

Deno.test("a vertex whose transactions' keys come with a missing parent waits, then is checked in full", async () => {
  const { dag } = service();
  const parent = vertex([], [create()]);
  const parentId = (await dag.validate(parent)).id!;
  const good = vertex([parentId], [data(1n)], 1);
  const bad = vertex([parentId], [forged(1n)], 2);
  assert.equal((await dag.submit(good, "peer")).status, "waiting");
  assert.equal((await dag.submit(bad, "peer")).status, "waiting");
  assert.equal((await dag.submit(parent, "peer")).status, "admitted");
  // The waiting children are checked again, signatures included, asynchronously.
  for (let i = 0; i < 100 && dag.stats().vertices < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(dag.stats().vertices, 2, "the parent and the good child; the forged child is refused");
  assert.equal((await dag.submit(good, "peer")).status, "duplicate");
  rejected(await dag.submit(bad, "peer"), "tx_bad_signature");
});
