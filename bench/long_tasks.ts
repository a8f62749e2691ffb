/**
 * `deno run --allow-read bench/long_tasks.ts DIR [--min-ms 40] [--top 12] [--json]`: the long tasks of
 * each V8 CPU profile in DIR (as written by `--cpu-prof`, e.g. `bench:soak -- --cpu-prof DIR`).
 *
 * A task here is a run of consecutive samples none of which is idle: the event loop was busy for that
 * long without a break, and any request that arrived meanwhile waited (what `qudag_event_loop_lag_*`
 * measures from inside the node). For every run of at least `--min-ms`, the report names the function
 * that held the most samples of it (self time) and the outermost of our own frames above it
 * (`src/…`), so that the kind of task can be told: a snapshot, a cut's fold, a burst of vertices.
 * The profiler samples wall time, so on a loaded machine a run also counts time the process waited for
 * a core: compare the tasks, not the absolute milliseconds, and quote the load.
 */

import { type CpuProfile, frameLabel, profileIndex, readProfiles } from "./_cpu_profile.ts";
import { intFlag } from "./_flags.ts";

export interface LongTask {
  /** Start, ms from the first sample. */
  atMs: number;
  ms: number;
  /** The function with the most self samples in the run. */
  top: string;
  /** The outermost frame under src/ of that function's stack. */
  entry: string;
}

const IDLE = new Set(["(idle)", "(program)"]);

/** The runs of busy samples of at least `minMs`, longest first. */
export function longTasks(p: CpuProfile, minMs: number): LongTask[] {
  const { byId, stackOf } = profileIndex(p, Infinity);
  const entryOf = (id: number): string => {
    const outer = stackOf(id).findLast((f) => f.url.includes("/src/"));
    return outer === undefined ? "(no src/ frame)" : frameLabel(outer);
  };
  const tasks: LongTask[] = [];
  let t = 0;
  let start = -1;
  let self = new Map<number, number>();
  const close = (endMs: number) => {
    if (start >= 0 && endMs - start >= minMs) {
      const [topId] = [...self].sort((a, b) => b[1] - a[1])[0];
      tasks.push({
        atMs: start,
        ms: endMs - start,
        top: frameLabel(byId.get(topId)!.callFrame),
        entry: entryOf(topId),
      });
    }
    start = -1;
    self = new Map();
  };
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] / 1000;
    const node = byId.get(p.samples[i])!;
    if (IDLE.has(node.callFrame.functionName)) {
      close(t);
      continue;
    }
    if (start < 0) start = t;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(node.id, (self.get(node.id) ?? 0) + dt);
  }
  close(t);
  return tasks.sort((a, b) => b.ms - a.ms);
}

if (import.meta.main) {
  const dir = Deno.args.find((a, i) => !a.startsWith("--") && !Deno.args[i - 1]?.startsWith("--"));
  if (dir === undefined) {
    console.error("usage: bench/long_tasks.ts DIR [--min-ms 40] [--top 12] [--json]");
    Deno.exit(2);
  }
  const minMs = intFlag("--min-ms", 40, 1, 3_600_000);
  const top = intFlag("--top", 12, 1, 10_000);
  const out: { file: string; count: number; tasks: LongTask[] }[] = [];
  for (const { file, profile } of readProfiles(dir)) {
    const tasks = longTasks(profile, minMs);
    out.push({ file, count: tasks.length, tasks: tasks.slice(0, top) });
  }
  if (Deno.args.includes("--json")) console.log(JSON.stringify(out, null, 2));
  else {
    for (const f of out) {
      console.log(`${f.file}: ${f.count} busy runs of ${minMs} ms or more; the longest:`);
      for (const t of f.tasks) {
        console.log(
          `  ${t.ms.toFixed(0).padStart(5)} ms at ${(t.atMs / 1000).toFixed(1).padStart(6)} s  ${t.top}  <  ${t.entry}`,
        );
      }
    }
  }
}
