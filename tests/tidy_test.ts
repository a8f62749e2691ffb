/**
 * Keeps the layering honest: pure folders do no I/O, read no clock, draw no
 * randomness, own no timers, and import nothing from the I/O layers. Test
 * files (`*_test.ts`) are exempt: they may use Deno.test and node:assert.
 * Add a folder to PURE_FOLDERS when it becomes pure.
 */
import assert from "node:assert/strict";

/** Folders whose non-test sources must stay pure. */
export const PURE_FOLDERS: readonly string[] = ["src/consensus", "src/engine", "src/checkpoint", "src/dag"];

/** Folders a pure folder must never import from. */
export const IMPURE_FOLDERS: readonly string[] = [
  "src/storage",
  "src/net",
  "src/http",
  "src/crypto",
  "src/cli",
  "src/config",
  "src/metrics",
];

const FORBIDDEN_CALLS: readonly { pattern: RegExp; why: string }[] = [
  { pattern: /\bDeno\./, why: "Deno APIs are I/O; inject what is needed" },
  { pattern: /\bDate\.now\b|\bnew Date\(|\bperformance\.now\b/, why: "time is an input (Clock)" },
  { pattern: /\bMath\.random\b|\bgetRandomValues\b/, why: "randomness is an input (Rng)" },
  { pattern: /\bset(Timeout|Interval)\b/, why: "a timeout arrives as a message; pure code owns no timers" },
  { pattern: /\bdlopen\b|\bffi\b/i, why: "only src/crypto/ffi.ts touches FFI" },
  { pattern: /\bfetch\(|\bWebSocket\b/, why: "network I/O belongs to src/net" },
];

/** Removes comments so that prose may name what code must not use. */
function stripComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

function resolve(fromFile: string, specifier: string): string {
  const parts = fromFile.split("/").slice(0, -1);
  for (const seg of specifier.split("/")) {
    if (seg === "..") parts.pop();
    else if (seg !== ".") parts.push(seg);
  }
  return parts.join("/");
}

/** Layering violations in one file of a pure folder; empty when tidy. */
export function violations(path: string, source: string): string[] {
  const out: string[] = [];
  const code = stripComments(source);
  for (const { pattern, why } of FORBIDDEN_CALLS) {
    const m = code.match(pattern);
    if (m) out.push(`${path}: uses ${m[0]}: ${why}`);
  }
  const imports = /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;
  for (const m of code.matchAll(imports)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith(".")) {
      out.push(`${path}: imports ${spec}: pure code imports only relative modules of pure folders`);
      continue;
    }
    const target = resolve(path, spec);
    const bad = IMPURE_FOLDERS.find((dir) => target === dir || target.startsWith(`${dir}/`));
    if (bad !== undefined) out.push(`${path}: imports ${spec}: ${bad} is not pure`);
  }
  return out;
}

async function* sources(dir: string): AsyncGenerator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) yield* sources(path);
    else if (entry.isFile && path.endsWith(".ts") && !path.endsWith("_test.ts")) yield path;
  }
}

Deno.test("pure folders do no I/O, read no clock, draw no randomness and import no I/O layer", async () => {
  const found: string[] = [];
  let checked = 0;
  for (const folder of PURE_FOLDERS) {
    for await (const path of sources(folder)) {
      checked++;
      found.push(...violations(path, await Deno.readTextFile(path)));
    }
  }
  assert.ok(checked > 0, `no sources found under ${PURE_FOLDERS.join(", ")} (run from the repository root)`);
  assert.deepEqual(found, []);
});

Deno.test("violations() flags each rule and ignores comments", () => {
  const path = "src/consensus/x.ts";
  assert.deepEqual(violations(path, "// Deno.readFile and Date.now are named here only\nconst a = 1;"), []);
  assert.ok(violations(path, "const t = Date.now();").length > 0);
  assert.ok(violations(path, "const r = Math.random();").length > 0);
  assert.ok(violations(path, "setTimeout(() => {}, 1);").length > 0);
  assert.ok(violations(path, "await Deno.readTextFile('x');").length > 0);
  assert.ok(violations(path, 'import { open } from "../storage/sqlite.ts";').length > 0);
  assert.ok(violations(path, 'import { x } from "../crypto/ffi.ts";').length > 0);
  assert.ok(violations(path, 'import { readFile } from "node:fs";').length > 0);
  assert.deepEqual(violations("src/engine/e.ts", 'import { DagConsensus } from "../consensus/mod.ts";'), []);
});
