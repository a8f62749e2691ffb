/**
 * `qudag exchange` against 4 real nodes, run as a subprocess under the start
 * task's permission flags: the seeds' phases (create genesis-treasury, mint
 * 10,000,000 rUv, create alice and bob, transfer 50,000 and 30,000, configure
 * fees, verify alice, deploy-immutable with a fractional grace period), then
 * status, accounts and fee-status agree on every node and balances are exact
 * to the smallest unit, fees included; then refusals.
 */
import assert from "node:assert/strict";
import { createNobleBackend } from "../src/crypto/noble.ts";
import { fromHex, KeyStore } from "../src/keys/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { runCliOnce } from "./_node.ts";

const RUV = 1_000_000n;
const PASS = "exchange cli test passphrase";

Deno.test({
  name: "exchange CLI: the seeds' phases on 4 real nodes, same answers everywhere, exact balances, refusals",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-exchange-cli-" });
    const cliDir = `${dir}/cli`;
    const otherDir = `${dir}/other-operator`;
    Deno.mkdirSync(cliDir);
    Deno.mkdirSync(otherDir);
    const net = await startTestnet({ nodes: 4, dir, basePort: 0 });
    const d = net.description;
    const seed = (role: string) => Deno.readTextFileSync(d.exchangeKeys[role]).trim();
    const env: Record<string, string> = {
      QUDAG_API_KEY: Deno.readTextFileSync(d.apiKeyFile).trim(),
      EXCHANGE_MASTER_KEY: seed("exchange-master"),
      FEE_ADMIN_KEY: seed("fee-admin"),
      AGENT_VERIFICATION_KEY: seed("agent-verifier"),
      QUDAG_KEY_PASSPHRASE: PASS,
    };
    const cli = async (node: number, args: string[], o: { env?: Record<string, string>; dataDir?: string } = {}) => {
      const [group, command, ...rest] = args;
      const r = await runCliOnce(o.dataDir ?? cliDir, [group, command, "--node", d.nodes[node].exchange, ...rest], {
        ...env,
        ...o.env,
      });
      return r;
    };
    const ok = async (node: number, args: string[], o?: { env?: Record<string, string> }) => {
      const r = await cli(node, args, o);
      assert.equal(r.code, 0, `${args.join(" ")} on node ${node}:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    const refused = async (
      node: number,
      args: string[],
      code: string,
      o?: { env?: Record<string, string>; dataDir?: string },
    ) => {
      const r = await cli(node, args, o);
      assert.equal(r.code, 1, `${args.join(" ")} should fail:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error: .*\\[${code}\\]$`, "m"), r.stderr);
      return r.stderr;
    };
    const exchangeJson = (i: number, path: string) =>
      fetch(`${d.nodes[i].exchange}/api/v1/exchange${path}`).then((r) => r.json());

    try {
      // The governance key as a sealed key file (the seed's --key-path), cheap KDF for the test.
      const governanceKey = await new KeyStore({
        dir: `${cliDir}/role-keys`,
        backend: createNobleBackend(),
        kdf: { log2N: 10, r: 8, p: 1 },
      }).import("ml-dsa", "immutable-governance", fromHex(seed("governance")), PASS, `${cliDir}/governance.key.json`);

      // Phase 4: exchange initialization, each step on a different node.
      const ex = (...a: string[]) => ["exchange", ...a];
      assert.match(await ok(0, ex("create-account", "--name", "genesis-treasury")), /created account genesis-treasury/);
      assert.match(
        await ok(1, ex("mint", "--account", "genesis-treasury", "--amount", "10000000")),
        /minted 10000000 rUv to genesis-treasury/,
      );
      await ok(2, ex("create-account", "--name", "alice"));
      await ok(3, ex("create-account", "--name", "bob"));
      const t1 = JSON.parse(
        await ok(0, ex("transfer", "--from", "genesis-treasury", "--to", "alice", "--amount", "50000", "--json")),
      );
      const t2 = JSON.parse(
        await ok(1, [...ex("transfer", "--from", "genesis-treasury", "--to", "bob"), "--amount", "30000", "--json"]),
      );
      assert.equal(t1.receipt.code, "ok");
      assert.equal(t2.receipt.code, "ok");
      assert.equal(BigInt(t1.receipt.feeUnits), 50n * RUV, "0.1% of 50,000 rUv for a new account");

      // Phase 4 step 8: fee model (the seed's values).
      await ok(2, [
        ...ex("configure-fees", "--f-min", "0.001", "--f-max", "0.010", "--f-min-verified", "0.0025"),
        ...["--f-max-verified", "0.005", "--time-constant-days", "90", "--usage-threshold", "10000"],
      ]);

      // Phase 5: agent verification and immutable deployment (grace 0.001 h = 3.6 s).
      Deno.writeTextFileSync(
        `${cliDir}/alice-kyc.json`,
        JSON.stringify({
          format: "qudag-agent-proof/1",
          account: "alice",
          issuedAt: new Date(Date.now() - 60_000).toISOString(),
          issuer: "test-kyc",
          evidence: { method: "document-check", reference: "case-1" },
        }),
      );
      assert.match(
        await ok(3, ex("verify-agent", "--account", "alice", "--proof-path", `${cliDir}/alice-kyc.json`)),
        /verified agent alice/,
      );
      assert.match(await ok(1, ex("burn", "--account", "alice", "--amount", "100")), /burned 100 rUv/);
      assert.match(
        await ok(0, ex("deploy-immutable", "--grace-period", "0.001", "--key-path", governanceKey.path)),
        /locked configuration [0-9a-f]{64}\nchanges accepted until .* \(grace 0h 0m 3s\)/,
      );
      assert.match(await ok(2, ex("immutable-status")), /state +locked/);

      // Every node has applied everything.
      const deadline = Date.now() + 20_000;
      while (true) {
        const hashes = await Promise.all(d.nodes.map((_, i) => exchangeJson(i, "/status")));
        if (hashes.every((s) => s.stateHash === hashes[0].stateHash && s.locked)) break;
        assert.ok(Date.now() < deadline, "the nodes did not converge");
        await new Promise((r) => setTimeout(r, 200));
      }

      // Phase 6: the same answers from every node.
      for (const args of [ex("status"), ex("accounts", "--format", "json"), ex("fee-status", "--examples")]) {
        const outs = await Promise.all(d.nodes.map((_, i) => ok(i, args)));
        for (const o of outs) assert.equal(o, outs[0], args.join(" "));
      }
      const fees = await ok(3, ex("fee-status", "--examples"));
      assert.match(fees, /t=0, u=0\) +0\.100% +1 rUv/);
      assert.match(fees, /5000 rUv sent in 30 days +0\.324% +3\.23848 rUv/);
      assert.match(fees, /20000 rUv sent in 30 days +0\.279% /);

      // Exact balances, fees included, from the CLI's JSON.
      const list: { name: string; balanceUnits: string; attestation: unknown }[] =
        JSON.parse(await ok(1, ex("accounts", "--format", "json"))).accounts;
      const bal = (name: string) => BigInt(list.find((a) => a.name === name)!.balanceUnits);
      const feePaid = BigInt(t1.receipt.feeUnits) + BigInt(t2.receipt.feeUnits);
      assert.equal(bal("fees"), feePaid);
      assert.equal(bal("alice"), 49_900n * RUV);
      assert.equal(bal("bob"), 30_000n * RUV);
      assert.equal(bal("genesis-treasury"), 10_000_000n * RUV - 80_000n * RUV - feePaid);
      assert.ok(list.find((a) => a.name === "alice")!.attestation);
      const supply = await ok(2, ex("supply"));
      assert.match(supply, /^supply +9999900 rUv$/m);
      assert.match(supply, /^burned +100 rUv$/m);
      assert.match(await ok(3, ex("balance", "--account", "bob")), /^bob \([0-9a-f]{16}…\) +30000 rUv$/m);
      const usage = await ok(0, ex("update-usage", "--account", "genesis-treasury"));
      assert.match(usage, /30-day usage +80000 rUv sent/);
      const quote = await ok(1, ex("calculate-fee", "--account", "alice", "--amount", "1000"));
      assert.match(quote, /verified +yes/);
      assert.match(quote, /fee rate +0\.250%/);
      assert.match(quote, /fee +2\.50\d* rUv/); // 0.25% and a hair: alice is seconds old

      // Refusals.
      await refused(2, ex("transfer", "--from", "bob", "--to", "alice", "--amount", "1000000"), "insufficient_funds");
      await refused(3, ex("mint", "--account", "bob", "--amount", "5"), "not_authorized", {
        env: { EXCHANGE_MASTER_KEY: seed("fee-admin") },
      });
      await refused(0, ex("create-account", "--name", "alice"), "name_taken", { dataDir: otherDir });
      // After the grace period (3.6 s by the node's clock) fee changes are refused.
      while ((await exchangeJson(1, "/immutable")).lock.inGracePeriod) await new Promise((r) => setTimeout(r, 200));
      await refused(1, ex("configure-fees", "--f-min", "0.002"), "config_locked");
      await refused(
        2,
        ex("deploy-immutable", "--grace-period", "1", "--key-path", governanceKey.path),
        "already_locked",
      );
      const noKey = await refused(0, ex("deploy-immutable", "--grace-period", "1"), "key_missing");
      assert.match(noKey, /IMMUTABLE_GOVERNANCE_KEY/);
      const badAmount = await cli(0, ex("transfer", "--from", "alice", "--to", "bob", "--amount", "1.0000001"));
      assert.equal(badAmount.code, 2);
      assert.match(badAmount.stderr, /--amount "1\.0000001" .*\[amount_too_many_decimals\]/);
    } finally {
      await net.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
