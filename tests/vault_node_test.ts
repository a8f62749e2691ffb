/**
 * The vault on a real node process (the start task's permissions), driven by
 * the real CLI (`qudag vault`, the value piped on stdin) and over HTTP: a
 * secret's value and notes never reach the node's log (debug level), its
 * metrics, an error body or the database file and WAL; after `vault rm`,
 * nothing of the secret is left in the database file or the WAL.
 */
import assert from "node:assert/strict";
import { baseEnv, ROOT } from "../scripts/node_process.ts";
import { spawnNode } from "./_node.ts";

const API_KEY = "vault-node-test-key-5b8e";
const VALUE = "v4lue-7c2f9a-never-stored-plain";
const NOTES = "n0tes-7c2f9a-never-stored-plain";
const LABEL = "label-7c2f9a";
/**
 * Long enough that the scan of the database's bytes cannot find them by chance: "ann" and "bank" were once found in
 * random bytes (keys, signatures) after rm, a 3-byte string turning up in a few MiB of such bytes now and then.
 */
const USERNAME = "ann-7c2f9a";
const TAG = "bank-7c2f9a";

function diskText(dataDir: string): string {
  let text = "";
  for (const f of ["qudag.db", "qudag.db-wal"]) {
    try {
      text += new TextDecoder("latin1").decode(Deno.readFileSync(`${dataDir}/${f}`));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return text;
}

/** `qudag vault ...` as a process, talking to the node over HTTP, with optional stdin. */
async function cli(nodeUrl: string, args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-net=127.0.0.1", "--allow-env", "--allow-read", "main.ts", "vault", ...args],
    cwd: ROOT,
    env: { ...baseEnv(), QUDAG_NODE_URL: nodeUrl, QUDAG_API_KEY: API_KEY },
    clearEnv: true,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout).trim(), stderr: dec.decode(out.stderr).trim() };
}

Deno.test({
  name: "vault on a real node: CLI and HTTP; no value in log, metrics, errors or disk; nothing left after rm",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dataDir = Deno.makeTempDirSync({ prefix: "qudag-vault-node-" });
    const node = spawnNode({
      dataDir,
      env: {
        QUDAG_API_KEY: API_KEY,
        QUDAG_VAULT_PASSPHRASE: "vault node test passphrase",
        LOG_LEVEL: "debug",
        QUDAG_HTTP_PORT: "0",
        QUDAG_METRICS_PORT: "0",
        QUDAG_P2P_PORT: "0",
      },
    });
    try {
      const { http, metrics } = await node.ready();
      const added = await cli(
        http,
        ["add", LABEL, "--username", USERNAME, "--tag", TAG, "--notes", NOTES],
        VALUE + "\n",
      );
      assert.equal(added.code, 0, added.stderr);
      const id = /^stored ([0-9a-f]{32}) /.exec(added.stdout)?.[1];
      assert.ok(id, added.stdout);

      const got = await cli(http, ["get", id]);
      assert.equal(got.stdout, VALUE);
      const key = { "x-api-key": API_KEY, "content-type": "application/json" };
      const put = await fetch(`${http}/api/v1/vault/secrets/${id}`, {
        method: "PUT",
        headers: key,
        body: JSON.stringify({ value: `${VALUE}-2` }),
      });
      assert.equal(put.status, 200);
      assert.equal((await put.json()).version, 2);
      const tooLong = await fetch(`${http}/api/v1/vault/secrets`, {
        method: "POST",
        headers: key,
        body: JSON.stringify({ label: "x", value: VALUE.repeat(3000) }),
      });
      assert.equal(tooLong.status, 400);
      assert.ok(!(await tooLong.text()).includes(VALUE), "an error echoes the value");
      assert.match(
        (await cli(http, ["search", TAG.toUpperCase()])).stdout,
        new RegExp(`^${id}  ${LABEL}  ${USERNAME}  \\[${TAG}\\]$`),
      );

      const metricsText = await (await fetch(metrics)).text();
      assert.match(metricsText, /route="\/api\/v1\/vault\/secrets\/:id"/);
      const disk = diskText(dataDir);
      assert.ok(disk.includes(LABEL), "the label is on disk (in clear, for search): the scan below can see text");
      for (const s of [VALUE, NOTES]) {
        assert.ok(!metricsText.includes(s), "metrics");
        assert.ok(!disk.includes(s), "database file or WAL");
      }

      const rm = await cli(http, ["rm", id]);
      assert.equal(rm.stdout, `deleted ${id} (2 versions)`);
      const after = diskText(dataDir);
      for (const s of [LABEL, USERNAME, TAG, VALUE, NOTES]) {
        assert.ok(!after.includes(s), `${s} stays on disk after rm`);
      }
      assert.equal((await cli(http, ["get", id])).code, 1);
    } finally {
      await node.stop();
      const log = node.stderr();
      for (const s of [VALUE, NOTES]) assert.ok(!log.includes(s), "the node log holds a secret");
      assert.ok(log.includes('"route":"/api/v1/vault/secrets/:id"'), "the log has the vault requests (debug level)");
      Deno.removeSync(dataDir, { recursive: true });
    }
  },
});
