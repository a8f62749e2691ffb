/**
 * The DAG through the real node process: REST and CLI, admission, waiting
 * for parents, every rejection reason counted in metrics, persistence across
 * a restart. Vertices are built with the WASM core and signed with ML-DSA-87
 * by an independent implementation (noble), as a validator would.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { encodeTransaction, encodeVertex, transactionSigningMessage, vertexSigningMessage } from "../src/core/mod.ts";
import { fromHex, keyIdOf, toHex } from "../src/keys/mod.ts";
import { runCliOnce, spawnNode } from "./_node.ts";

const SEED = new Uint8Array(32).fill(7);
const OTHER_SEED = new Uint8Array(32).fill(9);
const validator = ml_dsa87.keygen(SEED);
const outsider = ml_dsa87.keygen(OTHER_SEED);
const VALIDATOR_ID = keyIdOf(validator.publicKey);

/** One account's transactions: its create_account (nonce 0) must come before (or with) its data. */
const account = ml_dsa87.keygen(new Uint8Array(32).fill(20));

function dataTx(chainId: Uint8Array, nonce: bigint): Uint8Array {
  const unsigned = {
    kind: "data" as const,
    chainId,
    account: fromHex(keyIdOf(account.publicKey)),
    nonce,
    timestampMs: 0n,
    maxFee: 0n,
    data: new TextEncoder().encode(`payload ${nonce}`),
  };
  const signature = ml_dsa87.sign(transactionSigningMessage(unsigned), account.secretKey);
  return encodeTransaction({ ...unsigned, signature });
}

function createTx(chainId: Uint8Array): Uint8Array {
  const unsigned = {
    kind: "create_account" as const,
    chainId,
    account: fromHex(keyIdOf(account.publicKey)),
    nonce: 0n,
    timestampMs: 0n,
    maxFee: 0n,
    name: "dag-api-test",
    publicKey: account.publicKey,
  };
  const signature = ml_dsa87.sign(transactionSigningMessage(unsigned), account.secretKey);
  return encodeTransaction({ ...unsigned, signature });
}

function vertex(o: {
  chainId: Uint8Array;
  parents: string[];
  round: bigint;
  txs?: Uint8Array[];
  key?: { secretKey: Uint8Array; publicKey: Uint8Array };
  timestampMs?: bigint;
}): { bytes: Uint8Array; id?: string } {
  const key = o.key ?? validator;
  const unsigned = {
    chainId: o.chainId,
    author: fromHex(keyIdOf(key.publicKey)),
    round: o.round,
    timestampMs: o.timestampMs ?? BigInt(Date.now()),
    parents: [...o.parents].sort().map(fromHex),
    transactions: o.txs ?? [],
  };
  const signature = ml_dsa87.sign(vertexSigningMessage(unsigned), key.secretKey);
  return { bytes: encodeVertex({ ...unsigned, signature }) };
}

async function post(http: string, path: string, bytes: Uint8Array) {
  const res = await fetch(`${http}${path}`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: bytes.slice().buffer,
  });
  return { status: res.status, body: await res.json() };
}

Deno.test("DAG API: admits, waits for parents, refuses with reasons, counts them, and keeps vertices across a restart", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "qudag-dag-" });
  const env = { NODE_PRIVATE_KEY: toHex(SEED) };
  const args = ["--http-port", "0", "--metrics-port", "0", "--p2p-port", "0"];
  let node = spawnNode({ dataDir, args, env });
  let v1Id = "";
  try {
    const { http, metrics } = await node.ready();
    const status = await (await fetch(`${http}/api/v1/status`)).json();
    assert.equal(status.node.keyId, VALIDATOR_ID);
    assert.equal(status.chain.isValidator, true);
    const chainId = fromHex(status.chain.id);

    // The node authored its first vertex at start: the only tip.
    const stats0 = await (await fetch(`${http}/api/v1/dag/stats`)).json();
    assert.equal(stats0.vertices, 1);
    const [root] = stats0.tips as string[];

    const v1 = vertex({ chainId, parents: [root], round: 1n, txs: [createTx(chainId), dataTx(chainId, 2n)] });
    const r1 = await post(http, "/api/v1/dag/nodes", v1.bytes);
    assert.equal(r1.status, 201, JSON.stringify(r1.body));
    assert.equal(r1.body.status, "admitted");
    v1Id = r1.body.id;

    assert.equal((await post(http, "/api/v1/dag/nodes", v1.bytes)).body.status, "duplicate");

    const view = await (await fetch(`${http}/api/v1/dag/nodes/${v1Id}`)).json();
    assert.equal(view.author, VALIDATOR_ID);
    assert.equal(view.round, "1");
    assert.deepEqual(view.parents, [root]);
    assert.equal(view.transactions.length, 2);
    assert.equal(view.transactions[0].kind, "create_account");
    assert.equal(view.transactions[1].kind, "data");
    const kids = await (await fetch(`${http}/api/v1/dag/nodes/children/${root}`)).json();
    assert.deepEqual(kids.children, [v1Id]);

    // A child that arrives before its parent waits, then enters when the parent does.
    const v2 = vertex({ chainId, parents: [v1Id], round: 2n });
    const v2Id = (await post(http, "/api/v1/dag/validate", v2.bytes)).body.id as string;
    const v3 = vertex({ chainId, parents: [v2Id], round: 3n });
    const r3 = await post(http, "/api/v1/dag/nodes", v3.bytes);
    assert.equal(r3.status, 202);
    assert.deepEqual(r3.body.missing, [v2Id]);
    assert.equal((await fetch(`${http}/api/v1/dag/nodes/${r3.body.id}`)).status, 404);
    assert.equal((await post(http, "/api/v1/dag/nodes", v2.bytes)).status, 201);
    const v3View = await fetch(`${http}/api/v1/dag/nodes/${r3.body.id}`);
    assert.equal(v3View.status, 200, "the waiting child was not admitted after its parent");
    await v3View.body?.cancel();

    // Refusals, each with its own code.
    const tampered = v1.bytes.slice();
    tampered[tampered.length - 10] ^= 1;
    const refusals: [string, Uint8Array][] = [
      [
        "bad_signature",
        vertex({ chainId, parents: [root], round: 1n, txs: [dataTx(chainId, 5n)] }).bytes.map((b, i, a) =>
          i === a.length - 1 ? b ^ 1 : b
        ),
      ],
      ["unknown_author", vertex({ chainId, parents: [root], round: 1n, key: outsider }).bytes],
      ["wrong_chain", vertex({ chainId: new Uint8Array(32).fill(1), parents: [root], round: 1n }).bytes],
      [
        "clock_drift",
        vertex({ chainId, parents: [root], round: 1n, timestampMs: BigInt(Date.now() + 3_600_000) }).bytes,
      ],
      ["round_not_after_parents", vertex({ chainId, parents: [v1Id], round: 1n }).bytes],
      // The account's creation (in v1) is not in this vertex's causal past.
      ["tx_out_of_order", vertex({ chainId, parents: [root], round: 1n, txs: [dataTx(chainId, 3n)] }).bytes],
      ["truncated", v1.bytes.slice(0, 100)],
      ["trailing_bytes", new Uint8Array([...v1.bytes, 0])],
    ];
    for (const [code, bytes] of refusals) {
      const r = await post(http, "/api/v1/dag/nodes", bytes);
      assert.equal(r.status, 422, `${code}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code);
    }
    const check = await post(http, "/api/v1/dag/validate", tampered);
    assert.equal(check.body.valid, false);

    const scrape = await (await fetch(metrics)).text();
    for (const [code] of refusals) {
      assert.match(scrape, new RegExp(`qudag_dag_vertices_rejected_total\\{reason="${code}"\\} 1\\b`), code);
    }
    assert.match(scrape, /qudag_dag_vertices_received_total\{origin="api",result="waiting"\} 1/);

    // The CLI against the same node.
    const file = `${dataDir}/v4.b64`;
    const v4 = vertex({ chainId, parents: [r3.body.id], round: 4n });
    Deno.writeTextFileSync(file, btoa(String.fromCharCode(...v4.bytes)));
    const cli = (a: string[]) => runCliOnce(dataDir, [...a, "--node", http], env);
    const add = await cli(["dag", "add", "--file", file]);
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /^admitted [0-9a-f]{64}/);
    const stats = await cli(["dag", "stats", "--json"]);
    assert.equal(JSON.parse(stats.stdout).vertices, 5);
    const get = await cli(["dag", "get", v1Id]);
    assert.match(get.stdout, /round\s+1/);
    const ch = await cli(["dag", "children", root]);
    assert.equal(ch.stdout.trim(), v1Id);
    const bad = await cli(["dag", "get", "xyz"]);
    assert.equal(bad.code, 2);
    const missing = await cli(["dag", "get", "ab".repeat(32)]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[not_found\]/);
  } finally {
    assert.equal((await node.stop()).code, 0);
  }

  node = spawnNode({ dataDir, args, env });
  try {
    const { http } = await node.ready();
    const res = await fetch(`${http}/api/v1/dag/nodes/${v1Id}`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).transactions.length, 2);
    assert.equal((await (await fetch(`${http}/api/v1/dag/stats`)).json()).vertices, 5);
  } finally {
    const { code } = await node.stop();
    Deno.removeSync(dataDir, { recursive: true });
    assert.equal(code, 0);
  }
});
