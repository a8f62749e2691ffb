/**
 * qudag: a post-quantum DAG ledger node. Wiring only: the CLI resolves the
 * configuration, then `start` assembles storage -> crypto -> servers.
 */
import { readEnv } from "./src/config/mod.ts";
import { processIo, runCli } from "./src/cli/mod.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args, processIo(readEnv));
  Deno.exit(code);
}
