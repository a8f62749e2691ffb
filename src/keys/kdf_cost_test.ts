import assert from "node:assert/strict";
import { createNobleBackend } from "../crypto/noble.ts";
import { KDF_MEMORY_BYTES_MAX, KDF_WORK_MAX, KeyError, KeyStore } from "./mod.ts";

const PASS = "correct horse battery staple";

function store(dir: string): KeyStore {
  return new KeyStore({ dir: `${dir}/keys`, backend: createNobleBackend(), kdf: { log2N: 10, r: 8, p: 1 } });
}

function refused(fn: () => unknown): KeyError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KeyError, String(e));
    return e;
  }
  assert.fail("expected a KeyError");
}

Deno.test("KeyStore refuses a key file that asks for more scrypt memory or work than allowed: key_kdf_refused", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "qudag_kdf_cost_test_" });
  try {
    const s = store(dir);
    const info = await s.generate("ml-dsa", "node", PASS);
    const good = Deno.readTextFileSync(info.path);
    const cases: [string, Record<string, number>, RegExp][] = [
      // 128 * 2^20 * 32 bytes = 4 GiB: what a file could ask for before.
      ["4 GiB", { log2N: 20, r: 32, p: 1 }, /N=2\^20, r=32, p=1, which needs 4096 MiB of memory; at most 256 MiB/],
      ["512 MiB", { log2N: 18, r: 16, p: 1 }, /needs 512 MiB of memory; at most 256 MiB/],
      ["16x the default work", { log2N: 17, r: 8, p: 16 }, /N·r·p = 2\^24; at most 2\^22/],
    ];
    for (const [name, kdf, re] of cases) {
      const j = JSON.parse(good);
      Object.assign(j.kdf, kdf);
      Deno.writeTextFileSync(info.path, JSON.stringify(j));
      // Refused from the header, before any derivation: read() and unlock() alike.
      const e = refused(() => s.read(info.path));
      assert.equal(e.code, "key_kdf_refused", name);
      assert.match(e.message, re, name);
      let caught: unknown;
      await s.unlock(info.path, PASS).catch((err) => caught = err);
      assert.ok(caught instanceof KeyError && caught.code === "key_kdf_refused", `${name}: ${String(caught)}`);
    }
    assert.equal(KDF_MEMORY_BYTES_MAX, 256 * 1024 * 1024);
    assert.equal(KDF_WORK_MAX, 2 ** 22);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("KeyStore will not write key files it would refuse to open", () => {
  assert.throws(
    () => new KeyStore({ dir: "/nonexistent", kdf: { log2N: 20, r: 16, p: 1 } }),
    (e: unknown) => e instanceof KeyError && e.code === "key_kdf_refused",
  );
});
