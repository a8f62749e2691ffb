/**
 * The replica's configuration, from the environment only (Deno Deploy sets
 * environment variables per project), resolved once and frozen. A wrong value
 * stops start-up with one line naming the variable, the value and what was
 * expected.
 *
 * | variable                  | meaning                                                                  |
 * | ------------------------- | ------------------------------------------------------------------------ |
 * | QUDAG_EDGE_UPSTREAMS      | node URLs to follow, comma-separated (required), e.g. https://n1.example |
 * | QUDAG_EDGE_GENESIS        | the genesis file's bytes in base64 (else QUDAG_EDGE_GENESIS_FILE)         |
 * | QUDAG_EDGE_GENESIS_FILE   | path of the genesis file (default: edge/genesis.json, bundled)           |
 * | QUDAG_EDGE_CHAIN_ID       | if set, the genesis' chain id must be this (64 hex)                      |
 * | QUDAG_EDGE_KV             | Deno KV path (local SQLite file); unset: the default KV (Deploy's)       |
 * | QUDAG_EDGE_POLL_MS        | pull every this many ms while the isolate lives (default 1000; 0: off)   |
 * | QUDAG_EDGE_STEP_EVENTS    | feed events one sync step reads at most (default 2000)                   |
 * | QUDAG_EDGE_RETRY_MS       | an upstream refused for what it sent is not asked again for this long    |
 * |                           | (default 30000); also the longest backoff below                          |
 * | QUDAG_EDGE_BACKOFF_MS     | first wait after an upstream gave no answer (unreachable, 429, 5xx)     |
 * |                           | without Retry-After, doubling per failure in a row (default 1000)        |
 */

export interface EdgeConfig {
  readonly upstreams: readonly string[];
  readonly genesisBase64: string | null;
  readonly genesisFile: string | null;
  readonly chainId: string | null;
  readonly kvPath: string | null;
  readonly pollMs: number;
  readonly stepEvents: number;
  readonly retryMs: number;
  readonly backoffMs: number;
}

export class EdgeConfigError extends Error {
  readonly code = "edge_config_invalid";
  constructor(message: string) {
    super(message);
    this.name = "EdgeConfigError";
  }
}

function int(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number) {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const n = Number(text);
  if (!/^[0-9]{1,10}$/.test(text) || n < min || n > max) {
    throw new EdgeConfigError(`${name}=${JSON.stringify(text)}: expected an integer in ${min}..${max}`);
  }
  return n;
}

export function resolveEdgeConfig(env: Record<string, string | undefined>): EdgeConfig {
  const upstreams = (env.QUDAG_EDGE_UPSTREAMS ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (upstreams.length === 0) {
    throw new EdgeConfigError("QUDAG_EDGE_UPSTREAMS is empty: name the node URLs to follow, comma-separated");
  }
  for (const u of upstreams) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new EdgeConfigError(`QUDAG_EDGE_UPSTREAMS: ${JSON.stringify(u)} is not a URL`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new EdgeConfigError(`QUDAG_EDGE_UPSTREAMS: ${u} is not http(s)`);
    }
  }
  const chainId = env.QUDAG_EDGE_CHAIN_ID?.toLowerCase() || null;
  if (chainId !== null && !/^[0-9a-f]{64}$/.test(chainId)) {
    throw new EdgeConfigError(`QUDAG_EDGE_CHAIN_ID=${JSON.stringify(chainId)}: expected 64 hex digits`);
  }
  return Object.freeze({
    upstreams: Object.freeze(upstreams),
    genesisBase64: env.QUDAG_EDGE_GENESIS || null,
    genesisFile: env.QUDAG_EDGE_GENESIS_FILE || null,
    chainId,
    kvPath: env.QUDAG_EDGE_KV || null,
    pollMs: int(env, "QUDAG_EDGE_POLL_MS", 1_000, 0, 3_600_000),
    stepEvents: int(env, "QUDAG_EDGE_STEP_EVENTS", 2_000, 1, 100_000),
    retryMs: int(env, "QUDAG_EDGE_RETRY_MS", 30_000, 0, 3_600_000),
    backoffMs: int(env, "QUDAG_EDGE_BACKOFF_MS", 1_000, 0, 3_600_000),
  });
}
