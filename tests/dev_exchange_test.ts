/**
 * A newcomer's first minutes: the node `deno task dev` starts (local mode,
 * --enable-exchange, a fresh data directory) has the exchange, and the seed's
 * phase 4 commands work right away from the CLI in local mode, with no secret
 * set: the dev chain's authority keys live beside its data. A node that wants
 * an API key says how to send it.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { runCliOnce, spawnNode } from "./_node.ts";

Deno.test("the dev task starts the node with the exchange", () => {
  assert.match(denoJson.tasks.dev, /deno task start --enable-exchange$/);
});

Deno.test({
  name: "deno task dev's node: the seed's exchange commands work at once, in local mode, without secrets",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qudag-dev-exchange-" });
    const node = spawnNode({
      dataDir: dir,
      args: ["--enable-exchange", "--http-port", "0", "--metrics-port", "0", "--p2p-port", "0", "--exchange-port", "0"],
    });
    try {
      const ready = await node.ready(30_000);
      const exchange = String(ready.line.exchange);
      for (const name of ["exchange-master", "fee-admin", "agent-verifier", "governance", "fees"]) {
        assert.equal(Deno.statSync(`${dir}/exchange-keys/${name}.seed`).mode! & 0o077, 0, `${name}.seed is private`);
      }
      const qudag = async (line: string) => {
        const r = await runCliOnce(dir, line.split(/\s+/), { QUDAG_EXCHANGE_URL: exchange });
        assert.equal(r.code, 0, `qudag ${line}:\n${r.stdout}\n${r.stderr}`);
        return r.stdout;
      };
      // fly-testnet-exchange-guide.md, phase 4, as written.
      await qudag("exchange create-account --name genesis-treasury");
      await qudag("exchange mint --account genesis-treasury --amount 10000000");
      await qudag("exchange create-account --name alice");
      await qudag("exchange create-account --name bob");
      await qudag("exchange transfer --from genesis-treasury --to alice --amount 50000");
      await qudag("exchange transfer --from genesis-treasury --to bob --amount 30000");
      const fees = await qudag(
        "exchange configure-fees --f-min 0.001 --f-max 0.010 --f-min-verified 0.0025 --f-max-verified 0.005 " +
          "--time-constant-days 90 --usage-threshold 10000",
      );
      assert.match(fees, /already in force on this chain; nothing to change/);
      assert.match(await qudag("exchange balance --account alice"), /alice \(.*\) {2}50000 rUv/);
      assert.match(await qudag("exchange supply"), /supply {2}10000000 rUv/);
    } finally {
      await node.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a write without the node's API key says how to set it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "qudag-api-key-" });
    const node = spawnNode({
      dataDir: dir,
      args: ["--enable-exchange", "--http-port", "0", "--metrics-port", "0", "--p2p-port", "0", "--exchange-port", "0"],
      env: { QUDAG_API_KEY: "k".repeat(32) },
    });
    try {
      const ready = await node.ready(30_000);
      const r = await runCliOnce(dir, ["exchange", "create-account", "--name", "alice"], {
        QUDAG_EXCHANGE_URL: String(ready.line.exchange),
      });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /refused the write: this call needs an x-api-key header with the node's QUDAG_API_KEY/);
      assert.match(r.stderr, /Set QUDAG_API_KEY to the node's API key \(export QUDAG_API_KEY=…; .*\[unauthorized\]$/m);
      const res = await fetch(`${ready.line.exchange}/api/v1/exchange/transactions`, { method: "POST", body: "" });
      const body = await res.json();
      assert.equal(res.status, 401);
      assert.match(body.error.message, /curl -H 'x-api-key: …'/);
    } finally {
      await node.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
