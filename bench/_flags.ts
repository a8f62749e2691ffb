/** The benchmarks' command-line flags: `--name value` pairs in `Deno.args`. */

/** `--name N` as an integer in min..max, or `dflt` when absent; a wrong value stops the run. */
export function intFlag(name: string, dflt: number, min: number, max: number): number {
  const at = Deno.args.indexOf(name);
  if (at < 0) return dflt;
  const value = Number(Deno.args[at + 1]);
  if (!Number.isInteger(value) || value < min || value > max) {
    console.error(`${name} must be an integer ${min}..${max}, got ${JSON.stringify(Deno.args[at + 1] ?? null)}`);
    Deno.exit(2);
  }
  return value;
}

/** The value after `--name`, or undefined when the flag is absent. */
export function stringFlag(name: string): string | undefined {
  const at = Deno.args.indexOf(name);
  return at < 0 ? undefined : Deno.args[at + 1];
}
