/**
 * The replica runs where FFI is not at hand and must not drag the node in:
 * the modules it runs (from edge/main.ts, type-only imports aside) holds no FFI module (src/crypto/ffi.ts,
 * native.ts, select.ts), nothing of src/node/, src/net/ or src/storage/, and
 * no Deno.dlopen anywhere.
 */
import assert from "node:assert/strict";

Deno.test("edge/main.ts imports no FFI, node, network or storage module", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "edge/main.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
  };
  // What runs: follow code imports only (a type-only import is erased).
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const local: string[] = [];
  const seen = new Set<string>(graph.roots);
  const queue = [...graph.roots];
  while (queue.length > 0) {
    const s = queue.shift()!;
    if (!s.startsWith("file://") || s.includes("/node_modules/")) continue;
    local.push(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      const next = d.code?.specifier;
      if (next !== undefined && !seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  assert.ok(local.some((s) => s.endsWith("/src/core/ledger.ts")), "the graph holds the WASM core");
  const forbidden = local.filter((s) =>
    /\/src\/(node|net|storage)\//.test(s) || /\/src\/crypto\/(ffi|native|select)\.ts$/.test(s)
  );
  assert.deepEqual(forbidden, []);
  for (const s of local) {
    const text = await Deno.readTextFile(new URL(s));
    assert.ok(!text.includes("Deno.dlopen"), `${s} mentions Deno.dlopen`);
  }
});
