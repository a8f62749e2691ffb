/**
 * How to launch a real node process the way `deno task start` does: the
 * start task's own permission flags (read from deno.json), with ./data
 * narrowed to the node's data directory. Used by the testnet and the tests.
 */
import denoJson from "../deno.json" with { type: "json" };

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** `run <start task flags> <script> <scriptArgs>` with ./data replaced by `dataDir`. */
export function startTaskArgs(dataDir: string, script = "main.ts", scriptArgs: string[] = ["start"]): string[] {
  const words = denoJson.tasks.start.split(/\s+/);
  const runAt = words.indexOf("run");
  const mainAt = words.indexOf("main.ts");
  if (runAt < 0 || mainAt < 0) throw new Error("deno.json tasks.start is not `<deno> run <flags> main.ts start`");
  const flags = words.slice(runAt + 1, mainAt).map((f) =>
    f.startsWith("--allow-read=") || f.startsWith("--allow-write=")
      ? f.replace(/(^|[=,])\.\/data(?=,|$)/, `$1${dataDir}`)
      : f
  );
  return ["run", ...flags, script, ...scriptArgs];
}

/** What Deno itself needs from the environment (its cache); the node's settings come from the caller. */
export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", RUST_BACKTRACE: "0" };
  for (const name of ["HOME", "DENO_DIR", "PATH", "TMPDIR"]) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}
