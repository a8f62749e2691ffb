/**
 * `qudag exchange governance-override` on 2 real nodes, the CLI run as a
 * subprocess under the start task's permission flags: refused while unlocked
 * (not_locked) and for a key that is not the governance key (not_authorized,
 * by the CLI and by the ledger of every node); deploy-immutable with a
 * fractional grace period, fee changes refused once it is over, then a valid
 * override lifts the lock on every node, leaves lock + override with its reason
 * on every node's audit trail, and fees and a new deploy-immutable are possible
 * again. Without a node: what --reason and --config-hash accept.
 */
import assert from "node:assert/strict";
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { blake3, encodeTransaction, transactionSigningMessage, type UnsignedTransaction } from "../src/core/mod.ts";
import { fromHex } from "../src/keys/mod.ts";
import { type Io, runCli } from "../src/cli/mod.ts";
import { startTestnet } from "../scripts/testnet.ts";
import { runCliOnce } from "./_node.ts";

const PASS = "exchange override test passphrase";
const REASON = "incident 7: restore default fees ✓";
/** How long every node gets to apply a transaction another node took. */
const CONVERGE_MS = 20_000;

type Json = Record<string, unknown>;
interface AuditView {
  txId: string;
  timeMs: string;
  action: string;
  configHash: string;
  reason: string;
}

async function until<T>(what: string, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + CONVERGE_MS;
  while (true) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${CONVERGE_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

Deno.test({
  name: "exchange governance-override: refusals, then the lock is lifted on every node with its audit trail",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "qudag-exchange-override-" });
    const cliDir = `${dir}/cli`;
    Deno.mkdirSync(cliDir);
    const net = await startTestnet({ nodes: 2, dir, basePort: 0 });
    const d = net.description;
    const seed = (role: string) => Deno.readTextFileSync(d.exchangeKeys[role]).trim();
    // Seed files inside the CLI's data directory: the start task's flags let it read nothing else.
    const seedFile = (role: string) => {
      const path = `${cliDir}/${role}.seed`;
      Deno.writeTextFileSync(path, seed(role) + "\n", { mode: 0o600 });
      return path;
    };
    const governanceKeyPath = seedFile("governance");
    const feeAdminKeyPath = seedFile("fee-admin");
    const env: Record<string, string> = {
      QUDAG_API_KEY: Deno.readTextFileSync(d.apiKeyFile).trim(),
      FEE_ADMIN_KEY: seed("fee-admin"),
      QUDAG_KEY_PASSPHRASE: PASS,
    };
    const withGovernanceSecret = { IMMUTABLE_GOVERNANCE_KEY: seed("governance") };
    const cli = (node: number, args: string[], extraEnv: Record<string, string> = {}) =>
      runCliOnce(cliDir, ["exchange", args[0], "--node", d.nodes[node].exchange, ...args.slice(1)], {
        ...env,
        ...extraEnv,
      });
    const ok = async (node: number, args: string[], extraEnv?: Record<string, string>) => {
      const r = await cli(node, args, extraEnv);
      assert.equal(r.code, 0, `${args.join(" ")} on node ${node}:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    const refused = async (node: number, args: string[], code: string, extraEnv?: Record<string, string>) => {
      const r = await cli(node, args, extraEnv);
      assert.equal(r.code, 1, `${args.join(" ")} should fail with ${code}:\n${r.stdout}\n${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^error: .*\\[${code}\\]$`, "m"), r.stderr);
      return r.stderr;
    };
    const exchange = (i: number, path: string): Promise<Json> =>
      fetch(`${d.nodes[i].exchange}/api/v1/exchange${path}`).then((r) => r.json());
    const everyNode = (path: string) => Promise.all(d.nodes.map((_, i) => exchange(i, path)));

    try {
      // Unlocked: nothing to override; the CLI says so before sending anything.
      const before = await ok(0, ["immutable-status"]);
      assert.match(before, /^state +unlocked/m);
      assert.match(before, /^audit +none/m);
      const notLocked = await refused(
        1,
        ["governance-override", "--reason", REASON, "--key-path", governanceKeyPath],
        "not_locked",
      );
      assert.match(notLocked, /the configuration is not locked/);

      // Lock with a fractional grace period: 0.001 h = 3.6 s (the env secret as key source).
      assert.match(
        await ok(0, ["deploy-immutable", "--grace-period", "0.001"], withGovernanceSecret),
        /locked configuration [0-9a-f]{64}\nchanges accepted until .* \(grace 0h 0m 3s\)/,
      );
      const locked = await until("every node locked", async () => {
        const s = await everyNode("/immutable");
        return s.every((x) => x.locked === true) ? s : null;
      });
      const lockTx = String((locked[0].lock as Json).lockTx);

      // A key that is not the governance key: refused by the CLI before sending...
      const byFeeAdmin = await refused(
        1,
        ["governance-override", "--reason", REASON, "--key-path", feeAdminKeyPath],
        "not_authorized",
      );
      assert.match(byFeeAdmin, /is not the immutable governance key .* of this ledger/);
      // ...and by every node when sent anyway, signed by the fee account (which signs nothing else here). A node
      // refuses it at submission (the ledger's dry run: 422 with the code) or, if it takes it into consensus, in
      // the receipt every node's ledger gives it.
      const fees = ml_dsa87.keygen(fromHex(seed("fees")));
      const unsigned = {
        chainId: fromHex(d.chainId),
        account: blake3(fees.publicKey),
        nonce: 0n,
        timestampMs: BigInt(Date.now()),
        maxFee: 0n,
        kind: "governance_override",
        configHash: fromHex(String(locked[0].configHash)),
        reason: "not mine to lift",
      } as UnsignedTransaction;
      const forged = encodeTransaction({
        ...unsigned,
        signature: ml_dsa87.sign(transactionSigningMessage(unsigned), fees.secretKey),
      });
      for (let i = 0; i < d.nodes.length; i++) {
        const res = await fetch(`${d.nodes[i].exchange}/api/v1/exchange/transactions`, {
          method: "POST",
          headers: { "content-type": "application/octet-stream", "x-api-key": env.QUDAG_API_KEY },
          body: forged.slice().buffer,
        });
        const body = await res.json();
        if (!res.ok) {
          assert.equal(res.status, 422, JSON.stringify(body));
          assert.equal(body.error.code, "not_authorized", JSON.stringify(body));
          continue;
        }
        const views = await until("every node's receipt of the forged override", async () => {
          const v = await everyNode(`/transactions/${body.id}`);
          return v.every((x) => x.receipt) ? v : null;
        });
        for (const v of views) assert.equal((v.receipt as Json).code, "not_authorized", JSON.stringify(v));
      }
      assert.equal((await exchange(0, "/immutable")).locked, true);

      // After the grace period (by the node's clock) fee changes are refused.
      await until("the grace period to end", async () => {
        const im = await exchange(1, "/immutable");
        return (im.lock as Json).inGracePeriod === false ? true : null;
      });
      await refused(1, ["configure-fees", "--f-min", "0.002"], "config_locked");

      // The valid override, on the other node, with the governance key as a --key-path seed file.
      const out = await ok(1, ["governance-override", "--reason", REASON, "--key-path", governanceKeyPath]);
      assert.match(out, new RegExp(`^lifted the lock on configuration ${locked[0].configHash} \\(locked at `, "m"));
      assert.ok(out.includes(`reason ${JSON.stringify(REASON)}`), out);
      const sent = { id: /^transaction ([0-9a-f]{64})$/m.exec(out)?.[1] };
      assert.ok(sent.id, out);

      // Every node: unlocked, audit = lock then override (with the reason), same state hash.
      const after = await until("every node applied the override", async () => {
        const s = await everyNode("/immutable");
        return s.every((x) => x.locked === false && (x.audit as unknown[]).length === 2) ? s : null;
      });
      for (const im of after) {
        assert.equal(im.lock, null);
        const [lock, override] = im.audit as AuditView[];
        assert.equal(lock.action, "lock");
        assert.equal(lock.txId, lockTx);
        assert.equal(lock.configHash, locked[0].configHash);
        assert.equal(lock.reason, "");
        assert.equal(override.action, "override");
        assert.equal(override.txId, sent.id);
        assert.equal(override.reason, REASON);
        assert.equal(override.configHash, im.configHash, "the default config hash is the node's current one");
        assert.ok(BigInt(override.timeMs) >= BigInt(lock.timeMs));
      }
      assert.deepEqual(after[1].audit, after[0].audit);
      const hashes = (await everyNode("/status")).map((s) => s.stateHash);
      assert.equal(hashes[1], hashes[0]);

      // immutable-status shows the trail, as text and in its JSON, on every node.
      for (let i = 0; i < d.nodes.length; i++) {
        const text = await ok(i, ["immutable-status"]);
        assert.match(text, /^state +unlocked/m);
        assert.match(text, /^audit +2 records, oldest first$/m);
        assert.match(text, new RegExp(`^  1\\. \\S+Z  lock +tx ${lockTx}$`, "m"));
        assert.match(text, new RegExp(`^  2\\. \\S+Z  override +tx ${sent.id}$`, "m"));
        assert.ok(text.includes(`reason       ${JSON.stringify(REASON)}`), text);
        const view = JSON.parse(await ok(i, ["immutable-status", "--json"]));
        assert.deepEqual(view.audit, after[0].audit);
      }

      // Unlocked again: fees change, a second override is refused, and a new lock is possible.
      assert.match(await ok(0, ["configure-fees", "--f-min", "0.002"]), /fee parameters changed/);
      await refused(
        0,
        ["governance-override", "--reason", "again", "--key-path", governanceKeyPath],
        "not_locked",
      );
      assert.match(
        await ok(1, ["deploy-immutable", "--grace-period", "0.5", "--key-path", governanceKeyPath]),
        /locked configuration [0-9a-f]{64}\nchanges accepted until .* \(grace 0h 30m 0s\)/,
      );
      const relocked = await until("every node locked again", async () => {
        const s = await everyNode("/immutable");
        return s.every((x) => x.locked === true && (x.audit as unknown[]).length === 3) ? s : null;
      });
      for (const im of relocked) {
        const actions = (im.audit as AuditView[]).map((a) => a.action);
        assert.deepEqual(actions, ["lock", "override", "lock"]);
        assert.equal((im.lock as Json).configHash, im.configHash, "the new lock fixes the changed fees");
        assert.notEqual(im.configHash, locked[0].configHash);
      }
      assert.match(await ok(0, ["immutable-status"]), /^state +locked, in its grace period/m);
    } finally {
      await net.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

function fakeIo(env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    isTerminal: () => false,
    readSecret: () => Promise.reject(new Error("no terminal in tests")),
    env: () => ({ ...env }),
  };
  return { io, out, err };
}

Deno.test("exchange governance-override checks --reason and --config-hash before contacting a node", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_exchange_override_args_" });
  // Nothing listens on port 9: whatever gets past the checks fails with node_unreachable, not a hang.
  const env = { QUDAG_DATA_DIR: dir, QUDAG_NODE_URL: "http://127.0.0.1:9", IMMUTABLE_GOVERNANCE_KEY: "11".repeat(32) };
  const run = async (args: string[]) => {
    const { io, err } = fakeIo(env);
    const code = await runCli(["exchange", "governance-override", ...args], io);
    return { code, err: err.join("\n") };
  };
  try {
    const help = fakeIo(env);
    assert.equal(await runCli(["exchange", "--help"], help.io), 0);
    assert.match(help.out.join("\n"), /^ {2}governance-override /m);
    for (
      const [args, message] of [
        [[], /--reason is required/],
        [["--reason", ""], /--reason must say why \(it is empty or only spaces\) \[reason_invalid\]/],
        [["--reason", "   "], /\[reason_invalid\]/],
        [["--reason", "x".repeat(257)], /--reason is 257 bytes of UTF-8, at most 256 \[reason_too_large\]/],
        [["--reason", "é".repeat(129)], /--reason is 258 bytes of UTF-8, at most 256 \[reason_too_large\]/],
        [["--reason", "line\nbreak"], /--reason "line\\nbreak" has control characters .*\[reason_invalid\]/],
        [["--reason", "bell\u0007"], /has control characters/],
        [["--reason", "ok", "--config-hash", "abc"], /--config-hash "abc" is not a configuration hash/],
        [["--reason", "ok", "--config-hash", "g".repeat(64)], /is not a configuration hash \(64 hex digits\)/],
        [["--reason", "ok", "--grace-period", "1"], /unknown flag --grace-period/],
      ] as const
    ) {
      const r = await run([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
      assert.match(r.err, message, args.join(" "));
      assert.match(r.err, /usage: qudag exchange governance-override --reason TEXT/);
    }
    // At the limit, and with an explicit hash, the next step is the node.
    for (const args of [["--reason", "é".repeat(128)], ["--reason", "ok", "--config-hash", "AB".repeat(32)]]) {
      const r = await run(args);
      assert.equal(r.code, 1, r.err);
      assert.match(r.err, /\[node_unreachable\]$/);
    }
    const { io, err } = fakeIo({ QUDAG_DATA_DIR: dir, QUDAG_NODE_URL: "http://127.0.0.1:9" });
    assert.equal(await runCli(["exchange", "governance-override", "--reason", "ok"], io), 1);
    assert.match(err.join("\n"), /IMMUTABLE_GOVERNANCE_KEY .* or pass --key-path FILE \[key_missing\]$/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
