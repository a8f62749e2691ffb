import assert from "node:assert/strict";
import { type Io, runCli } from "./mod.ts";
import { VERSION } from "../version.ts";

interface FakeIo extends Io {
  readonly outText: () => string;
  readonly errText: () => string;
}

function fakeIo(env: Record<string, string | undefined> = {}): FakeIo {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t) => void out.push(t),
    err: (t) => void err.push(t),
    isTerminal: () => false,
    readSecret: () => Promise.reject(new Error("no terminal in tests")),
    env: () => ({ ...env }),
    outText: () => out.join("\n"),
    errText: () => err.join("\n"),
  };
}

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const io = fakeIo(env);
  const code = await runCli(args, io);
  return { code, out: io.outText(), err: io.errText() };
}

async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_cli_test_" });
  try {
    await fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("runCli() with no arguments prints usage on stderr and exits 2", async () => {
  const r = await run([]);
  assert.equal(r.code, 2);
  assert.equal(r.out, "");
  assert.match(r.err, /usage: qudag <command>/);
});

Deno.test("runCli() with an unknown command exits 2", async () => {
  const r = await run(["launch"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /unknown command "launch"/);
  assert.match(r.err, /usage: qudag <command>/);
  const sub = await run(["key", "destroy"]);
  assert.equal(sub.code, 2);
  assert.match(sub.err, /unknown command "key destroy"/);
});

Deno.test("runCli() with an unknown flag exits 2 and shows the command's usage", async () => {
  const r = await run(["version", "--bogus"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /error: unknown flag --bogus/);
  assert.match(r.err, /usage: qudag version/);
  const k = await run(["key", "list", "--nope=1"]);
  assert.equal(k.code, 2);
  assert.match(k.err, /unknown flag --nope/);
  assert.match(k.err, /usage: qudag key list/);
});

Deno.test("runCli() with a group but no command shows the group usage and exits 2", async () => {
  const r = await run(["key"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /usage: qudag key <command>/);
});

for (
  const args of [
    ["--help"],
    ["-h"],
    ["start", "--help"],
    ["status", "--help"],
    ["key", "--help"],
    ["key", "generate", "--help"],
    ["key", "list", "--help"],
    ["key", "show", "-h"],
    ["version", "--help"],
    ["help"],
    ["help", "--help"],
  ]
) {
  Deno.test(`runCli() "${args.join(" ")}" prints help on stdout and exits 0`, async () => {
    const r = await run(args);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /usage: /);
    assert.equal(r.err, "");
  });
}

for (const args of [["help", "start"], ["help", "key"], ["help", "key", "generate"], ["help", "status"]]) {
  Deno.test(`runCli() "${args.join(" ")}" prints that command's usage and exits 0`, async () => {
    const r = await run(args);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes(`usage: qudag ${args.slice(1).join(" ")}`), r.out);
  });
}

Deno.test("runCli() help for an unknown command exits 2", async () => {
  const r = await run(["help", "key", "frobnicate"]);
  assert.equal(r.code, 2);
  assert.match(r.err, /no command "key frobnicate"/);
});

Deno.test("runCli() version prints the version, as text and as JSON", async () => {
  const text = await run(["version"]);
  assert.equal(text.code, 0);
  assert.equal(text.out, `qudag ${VERSION} (deno ${Deno.version.deno})`);
  const json = await run(["version", "--json"]);
  assert.equal(json.code, 0);
  const info = JSON.parse(json.out);
  assert.equal(info.version, VERSION);
  assert.equal(info.deno, Deno.version.deno);
  assert.equal((await run(["--version"])).out, text.out);
});

Deno.test("runCli() start --print-config prints the configuration with secrets redacted and exits 0", async () => {
  const passphrase = "pass-phrase-that-must-not-leak";
  const apiKey = "api-key-that-must-not-leak";
  const r = await run(["start", "--print-config", "--http-port", "8181", "--peer", "a:1", "--peer", "b:2"], {
    QUDAG_KEY_PASSPHRASE: passphrase,
    QUDAG_API_KEY: apiKey,
    QUDAG_METRICS_PORT: "9191",
  });
  assert.equal(r.code, 0, r.err);
  assert.ok(!r.out.includes(passphrase));
  assert.ok(!r.out.includes(apiKey));
  const printed = JSON.parse(r.out);
  assert.equal(printed.secrets.key_passphrase, "<redacted>");
  assert.equal(printed.secrets.api_key, "<redacted>");
  assert.equal(printed.http.port, 8181);
  assert.equal(printed.metrics.port, 9191);
  assert.deepEqual(printed.p2p.peers, ["a:1", "b:2"]);
  assert.equal(printed.sources["http.port"], "flag --http-port");
  assert.equal(printed.sources["metrics.port"], "env QUDAG_METRICS_PORT");
});

Deno.test("runCli() start --print-config accepts --enable-exchange=false", async () => {
  const on = await run(["start", "--print-config", "--enable-exchange=true"]);
  assert.equal(on.code, 0, on.err);
  assert.equal(JSON.parse(on.out).exchange.enabled, true);
  const off = await run(["start", "--print-config", "--enable-exchange=false"], { QUDAG_EXCHANGE_ENABLED: "true" });
  assert.equal(off.code, 0, off.err);
  assert.equal(JSON.parse(off.out).exchange.enabled, false);
});

Deno.test("runCli() start --print-config reads --config FILE", () =>
  withDataDir(async (dir) => {
    const file = `${dir}/qudag.toml`;
    Deno.writeTextFileSync(file, "[p2p]\nmax_peers = 12\n");
    const r = await run(["start", "--print-config", "--config", file]);
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).p2p.max_peers, 12);
  }));

Deno.test("runCli() with a bad configuration value exits 1 with one error line", async () => {
  const flag = await run(["start", "--print-config", "--http-port", "99999"]);
  assert.equal(flag.code, 1);
  assert.equal(flag.out, "");
  assert.match(flag.err, /^error: configuration: http\.port = "99999" \(from flag --http-port\) is invalid/);
  assert.ok(!flag.err.includes("\n"), flag.err);
  const env = await run(["start", "--print-config"], { NETWORK_MODE: "moonnet" });
  assert.equal(env.code, 1);
  assert.match(env.err, /^error: configuration: node\.network_mode/);
  assert.ok(!env.err.includes("\n"), env.err);
  const missing = await run(["start", "--print-config", "--config", "/nonexistent/qudag.toml"]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: configuration: cannot read config file \/nonexistent\/qudag\.toml: no such file$/);
});

Deno.test("runCli() with a malformed --config file exits 1 with one error line", () =>
  withDataDir(async (dir) => {
    const file = `${dir}/bad.toml`;
    Deno.writeTextFileSync(file, "[http\nport = 1\n");
    const r = await run(["start", "--print-config", "--config", file]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: configuration: .*bad\.toml is not valid TOML: .*\(line \d+, column \d+\)$/);
  }));

Deno.test("runCli() key generate without --algorithm exits 2", async () => {
  const r = await run(["key", "generate", "--purpose", "node"], { QUDAG_KEY_PASSPHRASE: "x" });
  assert.equal(r.code, 2);
  assert.match(r.err, /--algorithm is required/);
  assert.match(r.err, /usage: qudag key generate/);
  const bad = await run(["key", "generate", "--algorithm", "rsa", "--purpose", "node"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--algorithm "rsa" is not one of ml-dsa, ml-kem/);
});

Deno.test("runCli() key generate without a passphrase off a terminal exits 1", () =>
  withDataDir(async (dir) => {
    const r = await run(["key", "generate", "--algorithm", "ml-dsa", "--purpose", "node"], { QUDAG_DATA_DIR: dir });
    assert.equal(r.code, 1);
    assert.match(r.err, /^error: no key passphrase.*\[key_passphrase_missing\]$/);
  }));

Deno.test("runCli() key list with no keys says so and exits 0", () =>
  withDataDir(async (dir) => {
    const r = await run(["key", "list"], { QUDAG_DATA_DIR: dir });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `no keys in ${dir}/keys`);
    const json = await run(["key", "list", "--json", "--data-dir", dir]);
    assert.equal(json.code, 0);
    assert.deepEqual(JSON.parse(json.out), { keys: [], errors: [] });
  }));

Deno.test("runCli() key generate, key list --json and key show --public-key work in a data dir", () =>
  withDataDir(async (dir) => {
    const passphrase = "cli-test-passphrase";
    const env = { QUDAG_DATA_DIR: dir, QUDAG_KEY_PASSPHRASE: passphrase, QUDAG_CRYPTO_BACKEND: "noble" };
    const gen = await run(["key", "generate", "--algorithm", "ml-dsa", "--purpose", "node", "--json"], env);
    assert.equal(gen.code, 0, gen.err);
    const made = JSON.parse(gen.out);
    assert.match(made.keyId, /^[0-9a-f]{64}$/);
    assert.equal(made.algorithm, "ML-DSA-87");
    assert.equal(made.purpose, "node");
    assert.ok(made.path.startsWith(`${dir}/keys/`), made.path);
    assert.ok(!Deno.readTextFileSync(made.path).includes(passphrase));

    const list = await run(["key", "list", "--json"], env);
    assert.equal(list.code, 0, list.err);
    const listed = JSON.parse(list.out);
    assert.equal(listed.keys.length, 1);
    assert.equal(listed.keys[0].keyId, made.keyId);
    assert.deepEqual(listed.errors, []);

    const show = await run(["key", "show", "node", "--public-key", "--json"], env);
    assert.equal(show.code, 0, show.err);
    const shown = JSON.parse(show.out);
    assert.equal(shown.keyId, made.keyId);
    assert.match(shown.publicKey, /^[0-9a-f]{5184}$/);
    assert.ok(!("secret" in shown));

    const byId = await run(["key", "show", made.keyId.slice(0, 12)], env);
    assert.equal(byId.code, 0, byId.err);
    assert.ok(byId.out.includes(made.keyId));

    // A corrupt file is listed as an error, and the listing exits 1.
    Deno.writeTextFileSync(`${dir}/keys/broken.key.json`, "{");
    const bad = await run(["key", "list"], env);
    assert.equal(bad.code, 1);
    assert.ok(bad.out.includes(made.keyId.slice(0, 16)));
    assert.match(bad.err, /^warning: .*broken\.key\.json is corrupt.*\[key_file_corrupt\]$/);
  }));

Deno.test("runCli() key show without a reference exits 2, an unknown one exits 1", () =>
  withDataDir(async (dir) => {
    const none = await run(["key", "show"], { QUDAG_DATA_DIR: dir });
    assert.equal(none.code, 2);
    assert.match(none.err, /name a key/);
    const missing = await run(["key", "show", "node"], { QUDAG_DATA_DIR: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^error: no key matches "node".*\[key_not_found\]$/);
  }));

Deno.test("runCli() status against a refused connection exits 1 with node_unreachable", async () => {
  const r = await run(["status", "--node", "http://127.0.0.1:1"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: cannot reach a node at http:\/\/127\.0\.0\.1:1: .*\[node_unreachable\]$/);
  assert.ok(!r.err.includes("\n"), r.err);
});

Deno.test("runCli() status prints a running node's status", async () => {
  const status = {
    node: {
      id: "test-node-7",
      keyId: "ab".repeat(32),
      version: "0.1.0",
      networkMode: "local",
      uptimeS: 42,
      boots: 3,
      firstStartedAt: "2026-01-01T00:00:00.000Z",
    },
    crypto: { backend: "noble" },
    storage: { kind: "sqlite", schemaVersion: 2, vertices: 10 },
  };
  const paths: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    paths.push(new URL(req.url).pathname);
    return Response.json(status);
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const r = await run(["status", "--node", `${url}/`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^node\s+test-node-7 \(key abababababababab…\)/m);
    assert.match(r.out, /storage\s+sqlite, schema v2, 10 vertices/);
    const json = await run(["status", "--json"], { QUDAG_NODE_URL: url });
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), status);
    assert.deepEqual(paths, ["/api/v1/status", "/api/v1/status"]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("runCli() status exits 1 with the node's own error code when the node answers an error", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ error: { code: "not_ready" } }, { status: 503 }),
  );
  try {
    const r = await run(["status", "--node", `http://127.0.0.1:${server.addr.port}`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /failed with 503 \[not_ready\]$/);
  } finally {
    await server.shutdown();
  }
});
