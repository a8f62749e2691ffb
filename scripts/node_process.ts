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
/**
 * glibc allocator settings the image (Dockerfile) runs the node with; local
 * testnets and benchmarks use them too, so they measure the node as shipped.
 * The environment of the caller overrides each.
 */
export const NODE_ALLOCATOR_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "131072",
  MALLOC_TRIM_THRESHOLD_: "131072",
};

export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = { NO_COLOR: "1", RUST_BACKTRACE: "0", ...NODE_ALLOCATOR_ENV };
  // glibc's allocator settings pass through, so a benchmark can measure a node's memory under them.
  for (
    const name of [
      "HOME",
      "DENO_DIR",
      "PATH",
      "TMPDIR",
      "MALLOC_ARENA_MAX",
      "MALLOC_TRIM_THRESHOLD_",
      "MALLOC_MMAP_THRESHOLD_",
    ]
  ) {
    const v = Deno.env.get(name);
    if (v !== undefined) env[name] = v;
  }
  return env;
}

/**
 * The runtime flags of the `compile` task, exactly as the single binary
 * `qudag-server` has them baked in (`--no-prompt`, every `--allow-*` and
 * `--v8-flags`), for `deno run`, which stands in for the binary where `deno
 * compile` cannot download its runtime. Compile-only flags (`--exclude`,
 * `-o`) are left out.
 */
export function compileTaskRunFlags(): string[] {
  const words = denoJson.tasks.compile.split(/\s+/);
  const at = words.indexOf("compile");
  const out = words.indexOf("-o");
  if (at < 0 || out < 0) throw new Error("deno.json tasks.compile is not `<deno> compile <flags> -o <file> main.ts`");
  const flags = words.slice(at + 1, out);
  for (const f of flags) {
    if (
      f !== "--no-prompt" && !f.startsWith("--allow-") && !f.startsWith("--exclude=") && !f.startsWith("--v8-flags=")
    ) {
      throw new Error(
        `compile task flag ${f} is neither a permission, --v8-flags nor --exclude: decide how the stand-in treats it`,
      );
    }
  }
  return flags.filter((f) => !f.startsWith("--exclude="));
}
