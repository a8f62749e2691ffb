/**
 * `qudag genesis init` for four validators, then four real nodes started from
 * what it wrote (the genesis file, each node's secrets file, the seed's
 * fly.toml [env]) with their peers listed in QUDAG_PEERS: they connect, agree
 * on the chain and the exchange, and serve its reads on the public port. A
 * node whose environment disagrees with the genesis (a fee), or sets a name
 * qudag does not read, refuses to start and says where the setting lives.
 */
import assert from "node:assert/strict";
import { runCliOnce, spawnNode } from "./_node.ts";

const NAMES = ["node1", "node2", "node3", "node4"];

/** The seed's fly.toml [env] (fly-testnet-exchange-guide.md, "fly.toml Configuration with Exchange Support"). */
const SEED_ENV: Record<string, string> = {
  NETWORK_MODE: "testnet",
  QUDAG_EXCHANGE_ENABLED: "true",
  EXCHANGE_NODE_TYPE: "full",
  FEE_MODEL_ENABLED: "true",
  FEE_F_MIN: "0.001",
  FEE_F_MAX: "0.010",
  FEE_F_MIN_VERIFIED: "0.0025",
  FEE_F_MAX_VERIFIED: "0.005",
  FEE_TIME_CONSTANT_DAYS: "90",
  FEE_USAGE_THRESHOLD: "10000",
  IMMUTABLE_DEPLOYMENT: "false",
  IMMUTABLE_GRACE_PERIOD_HOURS: "24",
  RUST_LOG: "info,qudag_exchange=debug",
};

function secretsOf(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of Deno.readTextFileSync(file).split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

function freePorts(n: number): number[] {
  const ls = Array.from({ length: n }, () => Deno.listen({ hostname: "127.0.0.1", port: 0 }));
  const ports = ls.map((l) => (l.addr as Deno.NetAddr).port);
  for (const l of ls) l.close();
  return ports;
}

async function json(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url);
  const body = await res.json();
  assert.equal(res.status, 200, `${url}: ${JSON.stringify(body)}`);
  return body;
}

Deno.test({
  name: "genesis init: four validators start from its files and the seed's [env], connect and agree",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qudag-genesis-init-" });
    const nodes: ReturnType<typeof spawnNode>[] = [];
    try {
      const out = `${dir}/net`;
      const made = await runCliOnce(dir, [
        "genesis",
        "init",
        "--validators",
        NAMES.join(","),
        "--out",
        out,
        "--exchange",
      ], SEED_ENV);
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /validators {2}4\n {2}node1 {8}[0-9a-f]{64}/);
      for (const f of ["genesis.json", "api-key", ...NAMES.map((n) => `secrets/${n}.env`), "keys/governance.seed"]) {
        const info = Deno.statSync(`${out}/${f}`);
        if (f !== "genesis.json") assert.equal(info.mode! & 0o077, 0, `${f} is private`);
      }
      const node1Secrets = secretsOf(`${out}/secrets/node1.env`);
      assert.ok(node1Secrets.EXCHANGE_MASTER_KEY && node1Secrets.GOVERNANCE_KEY_PEM, "node1 holds the authorities");
      assert.equal(secretsOf(`${out}/secrets/node2.env`).EXCHANGE_MASTER_KEY, undefined);

      const shown = await runCliOnce(dir, ["genesis", "show", `${out}/genesis.json`, "--json"]);
      assert.equal(shown.code, 0, shown.stderr);
      const g = JSON.parse(shown.stdout);
      assert.deepEqual(g.validators.map((v: { name: string }) => v.name), NAMES);

      // One port set per node; each lists the others' p2p addresses, as QUDAG_PEERS does on Fly.
      const ports = freePorts(NAMES.length * 4);
      const p2p = (i: number) => `127.0.0.1:${ports[i * 4 + 2]}`;
      const envOf = (i: number, extra: Record<string, string> = {}) => ({
        ...SEED_ENV,
        ...secretsOf(`${out}/secrets/${NAMES[i]}.env`),
        NODE_ID: NAMES[i],
        QUDAG_GENESIS_FILE: `${dir}/node${i + 1}/genesis.json`,
        QUDAG_HTTP_PORT: String(ports[i * 4]),
        QUDAG_METRICS_PORT: String(ports[i * 4 + 1]),
        QUDAG_P2P_PORT: String(ports[i * 4 + 2]),
        QUDAG_EXCHANGE_PORT: String(ports[i * 4 + 3]),
        QUDAG_PEERS: NAMES.map((_, j) => p2p(j)).filter((_, j) => j !== i).join(","),
        ...extra,
      });
      for (let i = 0; i < NAMES.length; i++) {
        // The genesis reaches each node as a file it may read (on Fly: /etc/qudag/genesis.json from [[files]]).
        Deno.mkdirSync(`${dir}/node${i + 1}`);
        Deno.copyFileSync(`${out}/genesis.json`, `${dir}/node${i + 1}/genesis.json`);
        nodes.push(spawnNode({ dataDir: `${dir}/node${i + 1}`, env: envOf(i) }));
      }
      const ready = await Promise.all(nodes.map((n) => n.ready(30_000)));

      // Everyone connected to the three others.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const counts = await Promise.all(
          ready.map(async (r) => ((await json(`${r.http}/api/v1/status`)).peers as []).length),
        );
        if (counts.every((c) => c === NAMES.length - 1)) break;
        assert.ok(Date.now() < deadline, `peers not all connected: ${counts}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      // The same chain and exchange everywhere; the exchange's reads on the public port (/exchange/*).
      const statuses = await Promise.all(ready.map((r) => json(`${r.http}/exchange/status`)));
      for (const s of statuses) {
        assert.equal(s.chainId, g.chainId);
        assert.equal(s.stateHash, statuses[0].stateHash);
      }
      const accounts = await json(`${ready[1].http}/exchange/accounts`);
      assert.deepEqual(
        (accounts.accounts as { name: string }[]).map((a) => a.name).sort(),
        ["agent-verifier", "exchange-master", "fee-admin", "fees", "governance"],
      );
      // Only the reads are on the public port: a submission there finds no route (it goes to the exchange port).
      const write = await fetch(`${ready[0].http}/exchange/transactions`, { method: "POST", body: "x" });
      assert.equal(write.status, 404);
      assert.match((await write.json()).error.message, /send POST to the exchange API \(port \d+/);

      // A fifth start with a fee that differs from the genesis, and a name qudag does not read: refused, saying where.
      Deno.mkdirSync(`${dir}/wrong`);
      Deno.copyFileSync(`${out}/genesis.json`, `${dir}/wrong/genesis.json`);
      const wrong = spawnNode({
        dataDir: `${dir}/wrong`,
        env: envOf(0, {
          QUDAG_GENESIS_FILE: `${dir}/wrong/genesis.json`,
          FEE_F_MIN: "0.002",
          EXCHANGE_NETWORK_KEY: "shared-network-secret",
        }),
      });
      const status = await wrong.status;
      assert.equal(status.code, 1);
      const err = wrong.stderr();
      assert.match(err, /2 settings disagree/);
      assert.match(err, /EXCHANGE_NETWORK_KEY is set, but qudag does not read it: peers authenticate with/);
      assert.match(err, /fees\.f_min = 0\.2000% \(env FEE_F_MIN\) differs from this chain's genesis value 0\.1000%/);
      assert.ok(!err.includes("shared-network-secret"), "a refused secret's value is never printed");
    } finally {
      await Promise.all(nodes.map((n) => n.stop().catch(() => {})));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
