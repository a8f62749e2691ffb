/** The release version; bump with package.json. */
export const VERSION = "0.1.0";

export function buildInfo(): Record<string, string> {
  return {
    version: VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
}
