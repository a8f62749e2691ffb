/**
 * The real node as a subprocess, under the start task's permission flags:
 * endpoints, metrics, clean shutdown, restart with its data, and every
 * start-up failure a user can cause, each with one clear line and no stack.
 */
import assert from "node:assert/strict";
import { runCliOnce, spawnNode, startTaskArgs } from "./_node.ts";
import { makeGenesis } from "../src/node/genesis.ts";
import { fromHex } from "../src/keys/mod.ts";
import { openFastestNative } from "../src/crypto/ffi.ts";

const FAST = ["--http-port", "0", "--metrics-port", "0", "--p2p-port", "0"];

function tempDir(prefix: string): string {
  return Deno.makeTempDirSync({ prefix: `qudag-${prefix}-` });
}

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `expected no stack trace in:\n${text}`);
}

/** Parses Prometheus text exposition strictly enough to catch a malformed line. */
function parseExposition(text: string): Map<string, { type: string; samples: { labels: string; value: number }[] }> {
  const families = new Map<string, { type: string; samples: { labels: string; value: number }[] }>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const t = line.match(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/);
    if (t) {
      families.set(t[1], { type: t[2], samples: [] });
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    const m = line.match(sample);
    assert.ok(m, `malformed exposition line: ${line}`);
    const base = m[1].replace(/_(bucket|sum|count)$/, "");
    const fam = families.get(m[1]) ?? families.get(base);
    assert.ok(fam, `sample before its # TYPE: ${line}`);
    fam.samples.push({ labels: m[2] ?? "", value: Number(m[3]) });
  }
  return families;
}

Deno.test("node: serves /health, /ready, /api/v1/status and /metrics; SIGTERM stops it cleanly; a restart keeps its data", async () => {
  const dataDir = tempDir("node");
  const node = spawnNode({ dataDir, args: FAST, env: { NODE_ID: "itest-1", LOG_LEVEL: "info" } });
  let first: { keyId: string; firstStartedAt: string };
  try {
    const { http, metrics } = await node.ready();
    const health = await fetch(`${http}/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "alive" });
    assert.ok(health.headers.get("x-request-id"));

    const ready = await fetch(`${http}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });

    const status = await (await fetch(`${http}/api/v1/status`, { headers: { "x-request-id": "itest-req-1" } })).json();
    assert.equal(status.node.id, "itest-1");
    assert.match(status.node.keyId, /^[0-9a-f]{64}$/);
    assert.equal(status.node.networkMode, "local");
    assert.equal(status.node.boots, 1);
    assert.equal(typeof status.node.uptimeS, "number");
    assert.ok(["native", "webcrypto", "noble"].includes(status.crypto.backend));
    // The start task's --allow-ffi names both builds of the native library: where this process can open the
    // AVX-512 one, so can the node.
    const fastest = openFastestNative();
    const build = status.crypto.backend === "native" ? (fastest.ok ? fastest.library.build : "?") : null;
    assert.equal(status.crypto.build, build);
    first = { keyId: status.node.keyId, firstStartedAt: status.node.firstStartedAt };

    const missing = await fetch(`${http}/api/v1/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");

    const scrape = await fetch(metrics);
    assert.equal(scrape.status, 200);
    assert.match(scrape.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const families = parseExposition(await scrape.text());
    assert.equal(families.get("qudag_http_request_duration_seconds")?.type, "histogram");
    const statusSeries = families.get("qudag_http_request_duration_seconds")!.samples.filter((s) =>
      s.labels.includes('route="/api/v1/status"') && s.labels.includes('method="GET"') &&
      s.labels.includes('status="200"')
    );
    assert.ok(statusSeries.length > 0, "no histogram series for GET /api/v1/status 200");
    assert.ok(
      families.get("qudag_http_request_duration_seconds")!.samples.some((s) =>
        s.labels.includes('route="unmatched"') && s.labels.includes('status="404"')
      ),
    );
    assert.equal(families.get("qudag_build_info")?.samples[0].value, 1);
    assert.ok(families.get("process_resident_memory_bytes")!.samples[0].value > 0);
    assert.ok(families.has("qudag_crypto_backend_info"));

    // Every log line is JSON with a level; request lines carry their request id (written within 20 ms: src/log).
    const logged = () => node.lines.some((l) => l.msg === "http request" && l.requestId === "itest-req-1");
    for (let i = 0; i < 50 && !logged(); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(logged());
  } finally {
    const t0 = performance.now();
    const s = await node.stop("SIGTERM");
    assert.equal(s.code, 0, node.stderr());
    assert.ok(performance.now() - t0 < 5_000, "shutdown took longer than 5 s");
  }
  assert.ok(node.lines.some((l) => l.msg === "node stopped"));
  assertNoStack(node.stderr());

  const again = spawnNode({ dataDir, args: FAST, env: { NODE_ID: "itest-1" } });
  try {
    const { http } = await again.ready();
    const status = await (await fetch(`${http}/api/v1/status`)).json();
    assert.equal(status.node.keyId, first!.keyId, "the node key must survive a restart");
    assert.equal(status.node.firstStartedAt, first!.firstStartedAt);
    assert.equal(status.node.boots, 2);
  } finally {
    assert.equal((await again.stop("SIGINT")).code, 0);
  }
});

Deno.test("node: an occupied port stops start-up with a clear error and a non-zero exit", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (blocker.addr as Deno.NetAddr).port;
    const r = await runCliOnce(tempDir("port"), [
      "start",
      "--http-port",
      String(port),
      "--metrics-port",
      "0",
      "--p2p-port",
      "0",
    ]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`cannot listen for the HTTP API on 127\\.0\\.0\\.1:${port}: address already in use`),
    );
    assert.match(r.stderr, /\[port_in_use\]/);
    assertNoStack(r.stderr);
  } finally {
    blocker.close();
  }
});

Deno.test("node: a second node on the same data directory is refused", async () => {
  const dataDir = tempDir("lock");
  const first = spawnNode({ dataDir, args: FAST });
  try {
    await first.ready();
    const r = await runCliOnce(dataDir, ["start", ...FAST]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /data directory .* is in use by another qudag node \(pid \d+/);
    assert.match(r.stderr, /\[storage_locked\]/);
    assertNoStack(r.stderr);
  } finally {
    await first.stop();
  }
});

Deno.test("node: bad configuration names the key, the value and what was expected", async (t) => {
  const dataDir = tempDir("cfg");
  const cases: { name: string; toml?: string; args?: string[]; env?: Record<string, string>; expect: RegExp }[] = [
    {
      name: "malformed TOML",
      toml: "[http\nport = 1",
      expect: /qudag\.toml is not valid TOML: .*\(line \d+, column \d+\)/,
    },
    {
      name: "unknown key",
      toml: "[http]\nprot = 8080\n",
      expect: /unknown key "http\.prot" in .*qudag\.toml \(known keys in \[http\]: host, port/,
    },
    {
      name: "out-of-range value in TOML",
      toml: "[metrics]\nport = 70000\n",
      expect: /metrics\.port = 70000 \(from .*qudag\.toml\) is invalid: expected a port number from 0 to 65535/,
    },
    {
      name: "out-of-range env",
      env: { FEE_F_MAX: "2" },
      expect: /fees\.f_max = "2" \(from environment FEE_F_MAX\) is invalid: expected a number from 0 to 0\.5/,
    },
    {
      name: "bad enum flag",
      args: ["--crypto-backend", "rsa"],
      expect:
        /crypto\.backend = "rsa" \(from flag --crypto-backend\) is invalid: expected one of auto, native, webcrypto, noble/,
    },
    {
      name: "secret in TOML",
      toml: '[secrets]\nfee_admin_key = "x"\n',
      expect: /secrets\.fee_admin_key cannot be set in .*: secrets come only from the environment \(FEE_ADMIN_KEY\)/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const args = ["start", ...(c.args ?? [])];
      if (c.toml !== undefined) {
        Deno.writeTextFileSync(`${dataDir}/qudag.toml`, c.toml);
        args.push("--config", `${dataDir}/qudag.toml`);
      }
      const r = await runCliOnce(dataDir, args, c.env);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, c.expect);
      assert.equal(r.stderr.trim().split("\n").length, 1, `expected one line, got:\n${r.stderr}`);
      assertNoStack(r.stderr);
    });
  }
});

Deno.test("node: key passphrase and key file failures are refused with their own messages", async (t) => {
  const dataDir = tempDir("keys");
  const env = { NETWORK_MODE: "testnet", QUDAG_KEY_PASSPHRASE: "correct horse" };

  await t.step("missing passphrase outside local mode", async () => {
    const r = await runCliOnce(dataDir, ["start", ...FAST], { NETWORK_MODE: "testnet" });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /network mode testnet needs NODE_PRIVATE_KEY or QUDAG_KEY_PASSPHRASE for the node key \[key_passphrase_missing\]/,
    );
  });

  await t.step("missing genesis outside local mode", async () => {
    const r = await runCliOnce(dataDir, ["start", ...FAST], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /network mode testnet needs a genesis file: none at .*genesis\.json .*\[genesis_invalid\]/);
  });

  // That first start made the node key under the passphrase; a genesis naming it lets the node start.
  const show = await runCliOnce(dataDir, ["key", "show", "node", "--public-key", "--json"], env);
  assert.equal(show.code, 0, show.stderr);
  const publicKey = fromHex(JSON.parse(show.stdout).publicKey);
  Deno.writeFileSync(
    `${dataDir}/genesis.json`,
    makeGenesis("testnet", new Date().toISOString(), [{ name: "n1", publicKey }]),
  );
  const node = spawnNode({ dataDir, args: FAST, env });
  await node.ready();
  assert.equal((await node.stop()).code, 0);

  await t.step("wrong passphrase", async () => {
    const r = await runCliOnce(dataDir, ["start", ...FAST], { ...env, QUDAG_KEY_PASSPHRASE: "wrong" });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /wrong passphrase for key file .*node-[0-9a-f]{16}\.key\.json \[key_passphrase_wrong\]/);
    assertNoStack(r.stderr);
  });

  await t.step("corrupted key file", async () => {
    const keyFile = [...Deno.readDirSync(`${dataDir}/keys`)].find((e) => e.name.endsWith(".key.json"))!.name;
    const path = `${dataDir}/keys/${keyFile}`;
    const json = JSON.parse(Deno.readTextFileSync(path));
    const ct = atob(json.ciphertext);
    json.ciphertext = btoa(String.fromCharCode(ct.charCodeAt(0) ^ 1) + ct.slice(1));
    Deno.writeTextFileSync(path, JSON.stringify(json));
    const r = await runCliOnce(dataDir, ["start", ...FAST], env);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /key file .* is corrupt: the passphrase is right but the sealed key or its header was modified \[key_file_corrupt\]/,
    );

    Deno.writeTextFileSync(path, "{ not json");
    const r2 = await runCliOnce(dataDir, ["start", ...FAST], env);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /key file .* is corrupt: not valid JSON \[key_file_corrupt\]/);
    assertNoStack(r2.stderr);
  });
});

Deno.test("node: the start task's permissions refuse subprocesses, foreign files, other env and other libraries", async () => {
  const dataDir = tempDir("perm");
  const out = await new Deno.Command(Deno.execPath(), {
    args: startTaskArgs(dataDir, "tests/fixtures/permission_probe.ts", []),
    cwd: new URL("..", import.meta.url).pathname,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(text), {
    "run": "refused",
    "read /etc/passwd": "refused",
    "write /tmp": "refused",
    "env HOME": "refused",
    "net 192.0.2.1:80": "refused",
    "ffi other library": "refused",
    "sys": "refused",
  });
  assert.doesNotMatch(denoTasks(), /(^|\s)(-A|--allow-all)(\s|$)/m, "a task the node runs under uses -A");
});

function denoTasks(): string {
  const j = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  return [j.tasks.start, j.tasks.dev].join("\n");
}
