/**
 * `deno run --allow-read bench/profile_summary.ts DIR [--top N] [--json]`:
 * sums the V8 CPU profiles (`--cpu-prof`, one `.cpuprofile` per process) in
 * DIR: each process's time by category (idle, GC, ML-DSA and other crypto,
 * the WASM core, SQLite, HTTP and JSON, consensus, DAG admission, ledger,
 * network, other) and the functions with the most self time, so that
 * bench/PROFILE.md can say where a node's CPU goes.
 *
 * Self time is samples × their time deltas; a category takes a sample by the
 * first rule its stack (innermost frame first, up to 12 frames) matches.
 */

import { type CallFrame, type CpuProfile, frameLabel, profileIndex, readProfiles } from "./_cpu_profile.ts";

/** Categories, first match wins, tested on the stack from the innermost frame out. */
const CATEGORIES: readonly { name: string; test: (f: CallFrame) => boolean }[] = [
  { name: "idle", test: (f) => f.functionName === "(idle)" },
  { name: "gc", test: (f) => f.functionName === "(garbage collector)" },
  { name: "crypto (ML-DSA, AES, hashes)", test: (f) => /\/src\/crypto\/|@noble\/|\/src\/net\/channel\.ts/.test(f.url) },
  {
    name: "WASM core",
    test: (f) => /\/src\/core\/|\.wasm|wasm-function/.test(f.url) || /^wasm-function/.test(f.functionName),
  },
  { name: "SQLite storage", test: (f) => /\/src\/storage\/|node:sqlite|ext:.*sqlite/.test(f.url) },
  { name: "consensus engine", test: (f) => /\/src\/consensus\/|\/src\/engine\//.test(f.url) },
  {
    name: "DAG admission",
    test: (f) => /\/src\/dag\/|\/src\/node\/dag_service\.ts|causal_past|account_keys/.test(f.url),
  },
  { name: "ledger service", test: (f) => /\/src\/ledger\//.test(f.url) },
  { name: "HTTP and JSON", test: (f) => /\/hono@|\/src\/http\/|ext:deno_http|ext:deno_fetch/.test(f.url) },
  { name: "peer network", test: (f) => /\/src\/net\/|ext:deno_net|ext:deno_web/.test(f.url) },
  { name: "node services", test: (f) => /\/src\/node\/|\/src\/checkpoint\//.test(f.url) },
];

function categoryOf(stack: readonly CallFrame[]): string {
  for (const f of stack.slice(0, 12)) {
    for (const c of CATEGORIES) if (c.test(f)) return c.name;
  }
  return stack[0]?.functionName === "(program)" ? "program (native, unattributed)" : "other";
}

export interface ProcessSummary {
  file: string;
  wall_s: number;
  by_category_s: Record<string, number>;
  top_self: { fn: string; self_s: number }[];
}

export function summarize(file: string, p: CpuProfile, top: number): ProcessSummary {
  const { stackOf } = profileIndex(p);
  const byCategory = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const stacks = new Map<number, CallFrame[]>();
  p.samples.forEach((id, i) => {
    const dt = (p.timeDeltas[i] ?? 0) / 1e6;
    let stack = stacks.get(id);
    if (stack === undefined) stacks.set(id, stack = stackOf(id));
    const cat = categoryOf(stack);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + dt);
    const key = frameLabel(stack[0]);
    bySelf.set(key, (bySelf.get(key) ?? 0) + dt);
  });
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    file,
    wall_s: round((p.endTime - p.startTime) / 1e6),
    by_category_s: Object.fromEntries([...byCategory].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v)])),
    top_self: [...bySelf].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, v]) => ({ fn, self_s: round(v) })),
  };
}

if (import.meta.main) {
  const dir = Deno.args.find((a) => !a.startsWith("--"));
  if (dir === undefined) {
    console.error("usage: profile_summary.ts DIR [--top N] [--json]");
    Deno.exit(2);
  }
  const topAt = Deno.args.indexOf("--top");
  const top = topAt >= 0 ? Number(Deno.args[topAt + 1]) : 15;
  const out = readProfiles(dir).map(({ file, profile }) => summarize(file, profile, top));
  if (Deno.args.includes("--json")) console.log(JSON.stringify(out, null, 2));
  else {
    for (const s of out) {
      const busy = Object.entries(s.by_category_s).filter(([k]) => k !== "idle").reduce((a, [, v]) => a + v, 0);
      console.log(`${s.file}: ${s.wall_s} s profiled, ${busy.toFixed(2)} s busy`);
      for (const [k, v] of Object.entries(s.by_category_s)) {
        console.log(
          `  ${k.padEnd(34)} ${v.toFixed(2).padStart(8)} s  ${
            k === "idle" ? "" : `${((100 * v) / busy).toFixed(1)} % of busy`
          }`,
        );
      }
      console.log("  top self time:");
      for (const t of s.top_self) console.log(`    ${t.self_s.toFixed(3).padStart(8)} s  ${t.fn}`);
    }
  }
}
