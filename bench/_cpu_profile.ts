/** Reading V8 CPU profiles (`--cpu-prof`): their shape, frame names, stacks, and the profiles of a directory. */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** A source path from src/, an npm package's name, or a file name. */
export function shortUrl(url: string): string {
  const at = url.indexOf("/src/");
  if (at >= 0) return url.slice(at + 1);
  const npm = url.match(/node_modules\/\.deno\/([^/]+)/) ?? url.match(/npm\/[^/]+\/([^/]+)/);
  return npm ? npm[1] : url.replace(/^.*\//, "");
}

/** "name src/file.ts:line" (no place for native and V8's own entries). */
export function frameLabel(f: CallFrame): string {
  return `${f.functionName || "(anonymous)"} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ""}`;
}

/** Nodes by id, and each node's stack (innermost frame first, at most `depthMax` frames). */
export function profileIndex(p: CpuProfile, depthMax = 64) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackOf = (id: number): CallFrame[] => {
    const out: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined && out.length < depthMax; at = parent.get(at)) {
      out.push(byId.get(at)!.callFrame);
    }
    return out;
  };
  return { byId, stackOf };
}

/** The `.cpuprofile` files of `dir`, by name, parsed. */
export function readProfiles(dir: string): { file: string; profile: CpuProfile }[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".cpuprofile")).map((e) => e.name).sort()
    .map((file) => ({ file, profile: JSON.parse(Deno.readTextFileSync(`${dir}/${file}`)) as CpuProfile }));
}
