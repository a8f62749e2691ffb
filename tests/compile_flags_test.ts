/**
 * The single binary's permissions are the `compile` task's flags. `deno
 * compile` cannot download its runtime here, so `deno run` with exactly those
 * flags stands in for the binary (as in `deno task fly:rehearse`, where nodes
 * run that way with their data at /data, the genesis in /etc/qudag and key
 * files in /keys). This shows what the flags refuse off those paths: another
 * data directory, a genesis elsewhere, a native library elsewhere, a
 * subprocess, an environment name outside the list.
 */
import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { baseEnv, compileTaskRunFlags, ROOT } from "../scripts/node_process.ts";

const FLAGS = compileTaskRunFlags();

async function runWithCompileFlags(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, `${ROOT}/main.ts`, ...args],
    cwd: ROOT,
    env: { ...baseEnv(), NETWORK_MODE: "testnet", ...env },
    clearEnv: true,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("the compile task's flags are narrow: read /data, /etc/qudag, /keys; write /data; FFI on the library's two builds", () => {
  assert.deepEqual(FLAGS.filter((f) => !f.startsWith("--allow-env=") && !f.startsWith("--v8-flags=")), [
    "--no-prompt",
    "--allow-net",
    "--allow-read=/data,/etc/qudag,/keys",
    "--allow-write=/data",
    "--allow-ffi=/app/libqudag_native.so,/app/libqudag_native.x86-64-v4.so",
  ]);
  for (const broad of ["--allow-all", "-A", "--allow-run", "--allow-sys", "--allow-env ", "--allow-read "]) {
    assert.ok(!`${denoJson.tasks.compile} `.includes(` ${broad}`), `${broad.trim()} is not granted`);
  }
});

Deno.test("the binary and `deno task start` run V8 alike (the young generation and the heap growing factor: bench/PROFILE.md)", () => {
  const v8 = (task: string) => task.split(/\s+/).filter((w) => w.startsWith("--v8-flags="));
  assert.deepEqual(v8(denoJson.tasks.compile), ["--v8-flags=--max-semi-space-size=8,--heap-growing-percent=50"]);
  assert.deepEqual(v8(denoJson.tasks.start), v8(denoJson.tasks.compile));
  assert.deepEqual(FLAGS.filter((f) => f.startsWith("--v8-flags=")), v8(denoJson.tasks.compile), "the stand-in too");
});

Deno.test("with the compile task's flags, a data directory off /data is refused, naming the path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-compile-flags-" });
  try {
    const r = await runWithCompileFlags(["start", "--data-dir", dir, "--http-port", "0", "--p2p-port", "0"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error: .*Requires (read|write) access to "${dir}`));
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing was written there");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with the compile task's flags, a genesis outside /etc/qudag and /data cannot be read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "qudag-compile-flags-" });
  try {
    Deno.writeTextFileSync(`${dir}/genesis.json`, "{}");
    const r = await runWithCompileFlags(["genesis", "show", `${dir}/genesis.json`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot read genesis file .*genesis\.json: Requires read access to/);
    // The CLI's own reads are bound the same way: a proof document outside /keys and /data.
    const proof = await runWithCompileFlags([
      "exchange",
      "verify-agent",
      "--account",
      "alice",
      "--proof-path",
      `${dir}/p.json`,
    ]);
    assert.equal(proof.code, 2);
    assert.match(proof.stderr, /cannot read --proof-path .*p\.json: Requires read access to/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with the compile task's flags, subprocesses, other files, environment names, FFI and sys are refused", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, `${ROOT}/tests/fixtures/permission_probe.ts`],
    env: baseEnv(),
    clearEnv: true,
    stdin: "null",
  }).output();
  assert.deepEqual(JSON.parse(new TextDecoder().decode(out.stdout)), {
    "run": "refused",
    "read /etc/passwd": "refused",
    "write /tmp": "refused",
    "env HOME": "refused",
    // A Fly Machine dials its peers by 6PN address and name: the binary keeps --allow-net.
    "net 192.0.2.1:80": "allowed",
    "ffi other library": "refused",
    "sys": "refused",
  });
});
