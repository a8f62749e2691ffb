/** `qudag vault` against a real HTTP server serving the vault API (over loopback, as against a node). */
import assert from "node:assert/strict";
import { createNobleBackend } from "../crypto/noble.ts";
import { createVaultApi, VAULT_API_BASE } from "../http/vault.ts";
import { TEST_API_KEY, testApp } from "../http/_testing.ts";
import { MemoryStorage } from "../storage/mod.ts";
import { Vault } from "../vault/mod.ts";
import { type Io, runCli } from "./mod.ts";

async function withServer(fn: (url: string) => Promise<void>): Promise<void> {
  const vault = await Vault.open({
    store: new MemoryStorage().vault,
    backend: createNobleBackend(),
    passphrase: "p",
    kdf: { log2N: 10, r: 8, p: 1 },
    nowMs: (() => {
      let t = 1;
      return () => t++;
    })(),
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
  });
  const { app } = testApp({ [VAULT_API_BASE]: createVaultApi(vault, { apiKey: TEST_API_KEY }) });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

async function run(args: string[], url: string, o: { stdin?: string; apiKey?: string | null } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    isTerminal: () => false,
    readSecret: () => Promise.reject(new Error("no terminal")),
    readStdin: o.stdin === undefined ? undefined : () => Promise.resolve(o.stdin!),
    env: () => ({
      QUDAG_NODE_URL: url,
      ...(o.apiKey === null ? {} : { QUDAG_API_KEY: o.apiKey ?? TEST_API_KEY }),
    }),
  };
  const code = await runCli(args, io);
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("qudag vault add|get|list|search|rm against a node's vault API", () =>
  withServer(async (url) => {
    const added = await run(["vault", "add", "Bank", "--username", "ann", "--tag", "money", "--tag", "home"], url, {
      stdin: "s3cret-value\n",
    });
    assert.equal(added.code, 0, added.err);
    const id = added.out.match(/^stored ([0-9a-f]{32}) \(version 1\)$/)?.[1];
    assert.ok(id, added.out);
    await run(["vault", "add", "Mail"], url, { stdin: "other" });

    const got = await run(["vault", "get", id], url);
    assert.equal(got.code, 0, got.err);
    assert.equal(got.out, "s3cret-value", "the value, without the trailing newline, and nothing else");
    const json = JSON.parse((await run(["vault", "get", id, "--json"], url)).out);
    assert.equal(json.username, "ann");
    assert.deepEqual(json.tags, ["money", "home"]);

    const listed = await run(["vault", "list"], url);
    assert.equal(listed.code, 0, listed.err);
    const lines = listed.out.split("\n");
    assert.equal(lines.length, 2);
    assert.match(lines[1], new RegExp(`^${id}  Bank  ann  \\[money, home\\]$`));
    assert.ok(!listed.out.includes("s3cret-value"));
    const paged = await run(["vault", "list", "--limit", "1"], url);
    assert.match(paged.out, /^[0-9a-f]{32} {2}Mail\nmore: --cursor \S+$/);
    const cursor = paged.out.split("--cursor ")[1];
    assert.match((await run(["vault", "list", "--limit", "1", "--cursor", cursor], url)).out, /Bank/);

    assert.match((await run(["vault", "search", "HOME"], url)).out, /Bank/);
    assert.equal((await run(["vault", "search", "s3cret"], url)).out, 'no secret matches "s3cret"');

    const removed = await run(["vault", "rm", id], url);
    assert.equal(removed.out, `deleted ${id} (1 version)`);
    const gone = await run(["vault", "get", id], url);
    assert.equal(gone.code, 1);
    assert.match(gone.err, /\[not_found\]$/);
  }));

Deno.test("qudag vault refuses without an API key, a bad id, or a value on the command line", () =>
  withServer(async (url) => {
    const noKey = await run(["vault", "list"], url, { apiKey: null });
    assert.equal(noKey.code, 1);
    assert.match(noKey.err, /QUDAG_API_KEY.*\[api_key_required\]/);
    const wrongKey = await run(["vault", "list"], url, { apiKey: "nope" });
    assert.match(wrongKey.err, /\[unauthorized\]$/);
    assert.equal((await run(["vault", "get", "xyz"], url)).code, 2);
    assert.equal((await run(["vault", "add", "L", "--value", "v"], url)).code, 2, "no --value flag exists");
    const noValue = await run(["vault", "add", "L"], url);
    assert.equal(noValue.code, 2);
    assert.match(noValue.err, /--value-file FILE or on stdin/);
    assert.equal((await run(["vault", "add", "L"], url, { stdin: "\n" })).code, 2, "an empty value");
  }));
