/**
 * deno task bench:testnet [-- --json] [-- --txs N] [-- --nodes N]
 * Starts a local testnet, drives pre-signed transactions into all its nodes
 * and reports accepted tx/s and the time from submission to acceptance
 * (p50/p99) as seen by a client polling the nodes. Bounded: N transactions
 * (default 1,000) and 180 s at most.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { encodeTransaction, transactionSigningMessage } from "../src/core/mod.ts";
import { fromHex, keyIdOf } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { BENCH_NODE_ENV } from "./_node_path.ts";

const args = Deno.args;
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const json = args.includes("--json");
const TXS = flag("--txs", 1000);
const NODES = flag("--nodes", 4);
const ACCOUNTS = 50;
const TIME_MAX_MS = 180_000;

const log = (s: string) => json || console.log(s);

const dir = Deno.makeTempDirSync({ prefix: "qudag-bench-testnet-" });
const net = await startTestnet({ nodes: NODES, dir, basePort: 0, exchange: false, env: { ...BENCH_NODE_ENV } });
const nodes = net.description.nodes;
const apiKey = Deno.readTextFileSync(net.description.apiKeyFile).trim();
try {
  const chainId = fromHex(net.description.chainId);
  log(`testnet of ${NODES} nodes up; signing ${TXS} transactions from ${ACCOUNTS} accounts…`);
  const keys = Array.from({ length: ACCOUNTS }, (_, i) => ml_dsa87.keygen(new Uint8Array(32).fill(i + 1)));
  const txs: Uint8Array[] = [];
  for (let i = 0; i < TXS; i++) {
    const k = keys[i % ACCOUNTS];
    const u = {
      kind: "data" as const,
      chainId,
      account: fromHex(keyIdOf(k.publicKey)),
      nonce: BigInt(Math.floor(i / ACCOUNTS) + 1),
      timestampMs: 0n,
      maxFee: 0n,
      data: new TextEncoder().encode(`bench ${i}`),
    };
    txs.push(encodeTransaction({ ...u, signature: ml_dsa87.sign(transactionSigningMessage(u), k.secretKey) }));
  }
  // Each account's create_account first: its key must be on the chain before its transactions.
  const creates = keys.map((k, i) => {
    const u = {
      kind: "create_account" as const,
      chainId,
      account: fromHex(keyIdOf(k.publicKey)),
      nonce: 0n,
      timestampMs: 0n,
      maxFee: 0n,
      name: `bench-${i}`,
      publicKey: k.publicKey,
    };
    return encodeTransaction({ ...u, signature: ml_dsa87.sign(transactionSigningMessage(u), k.secretKey) });
  });
  // Wait for the mesh.
  for (let i = 0; i < 100; i++) {
    const peers = await Promise.all(
      nodes.map(async (n) => (await (await fetch(`${n.http}/api/v1/status`)).json()).peers.length),
    );
    if (peers.every((p) => p === NODES - 1)) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  log(`creating the ${ACCOUNTS} accounts…`);
  const createIds: string[] = [];
  for (const tx of creates) {
    const res = await fetch(`${nodes[0].http}/api/v1/transactions`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
      body: tx.slice().buffer,
    });
    createIds.push((await res.json()).id);
  }
  for (let i = 0; i < 600; i++) {
    const views = await Promise.all(nodes.map(async (n) =>
      (await (await fetch(`${n.http}/api/v1/transactions/status`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": apiKey },
        body: JSON.stringify({ ids: createIds }),
      })).json()).states as Record<string, string>
    ));
    if (views.every((v) => createIds.every((id) => v[id] === "accepted"))) break;
    await new Promise((r) => setTimeout(r, 100));
  }

  const submittedAt = new Map<string, number>();
  const acceptedAt = new Map<string, number>();
  const t0 = performance.now();
  const CONCURRENCY = 32;
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < txs.length) {
      const i = next++;
      const at = performance.now();
      const res = await fetch(`${nodes[i % NODES].http}/api/v1/transactions`, {
        method: "POST",
        headers: { "content-type": "application/octet-stream", "x-api-key": apiKey },
        body: txs[i].slice().buffer,
      });
      const { id } = await res.json();
      submittedAt.set(id, at);
    }
  }));
  const submitDone = performance.now();
  const pending = () => [...submittedAt.keys()].filter((id) => !acceptedAt.has(id));
  while (pending().length > 0 && performance.now() - t0 < TIME_MAX_MS) {
    const ids = pending().slice(0, 1000);
    const now = performance.now();
    const states = (await (await fetch(`${nodes[0].http}/api/v1/transactions/status`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": apiKey },
      body: JSON.stringify({ ids }),
    })).json()).states as Record<string, string>;
    for (const [id, s] of Object.entries(states)) if (s === "accepted") acceptedAt.set(id, now);
    await new Promise((r) => setTimeout(r, 50));
  }
  const tEnd = Math.max(...acceptedAt.values(), submitDone);
  const lat = [...acceptedAt].map(([id, at]) => (at - submittedAt.get(id)!) / 1000).sort((a, b) => a - b);
  const pct = (p: number) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN;
  const status = await (await fetch(`${nodes[0].http}/api/v1/status`)).json();
  const result = {
    nodes: NODES,
    transactions: TXS,
    accepted: acceptedAt.size,
    submitSeconds: (submitDone - t0) / 1000,
    acceptedPerSecond: acceptedAt.size / ((tEnd - t0) / 1000),
    latencySeconds: { p50: pct(0.5), p99: pct(0.99) },
    cryptoBackend: status.crypto.backend,
    goal: { acceptedPerSecond: 1000, p50Seconds: 1 },
  };
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `accepted ${result.accepted}/${TXS} in ${((tEnd - t0) / 1000).toFixed(1)} s: ${
        result.acceptedPerSecond.toFixed(0)
      } tx/s (goal 1,000)`,
    );
    console.log(
      `submission -> acceptance: p50 ${result.latencySeconds.p50.toFixed(2)} s, p99 ${
        result.latencySeconds.p99.toFixed(2)
      } s (goal p50 <= 1 s); crypto backend ${result.cryptoBackend}`,
    );
  }
} finally {
  await net.stop();
}
