/**
 * Wiring of the edge replica: configuration -> genesis (the trust root) ->
 * crypto (WebCrypto, else noble: no FFI) -> Deno KV -> replica -> read API,
 * and the pulls (on request, a timer while the isolate lives, Deno.cron when
 * the runtime has it). edge/main.ts is the deployable entry point.
 */
import { parseGenesis } from "../src/checkpoint/genesis.ts";
import type { SignatureCheck } from "../src/checkpoint/mod.ts";
import type { CryptoBackend } from "../src/crypto/backend.ts";
import { createNobleBackend } from "../src/crypto/noble.ts";
import { createWebCryptoBackend, probeWebCrypto } from "../src/crypto/webcrypto.ts";
import { parseExchangeGenesis } from "../src/ledger/genesis.ts";
import { createEdgeApp } from "./app.ts";
import { type EdgeConfig, EdgeConfigError, resolveEdgeConfig } from "./config.ts";
import { type LogFn, Replica } from "./replica.ts";
import { EdgeStore } from "./store.ts";

export interface Edge {
  readonly fetch: (req: Request) => Response | Promise<Response>;
  readonly replica: Replica;
  readonly config: EdgeConfig;
  readonly cryptoBackend: string;
  close(): void;
}

export const jsonLog: LogFn = (level, msg, fields = {}) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, component: "edge", ...fields });
  if (level === "info") console.log(line);
  else console.error(line);
};

async function cryptoBackend(): Promise<CryptoBackend> {
  return await probeWebCrypto() === null ? createWebCryptoBackend() : createNobleBackend();
}

function readGenesisBytes(config: EdgeConfig): Uint8Array {
  if (config.genesisBase64 !== null) {
    try {
      return Uint8Array.fromBase64(config.genesisBase64.trim());
    } catch {
      throw new EdgeConfigError("QUDAG_EDGE_GENESIS is not base64 (it holds the genesis file's bytes)");
    }
  }
  const file = config.genesisFile ?? new URL("./genesis.json", import.meta.url);
  try {
    return Deno.readFileSync(file);
  } catch (error) {
    throw new EdgeConfigError(
      `cannot read the genesis ${String(file)} (${(error as Error).message}): bundle edge/genesis.json, ` +
        "or set QUDAG_EDGE_GENESIS (base64) or QUDAG_EDGE_GENESIS_FILE",
    );
  }
}

/** Opens the replica from the environment; throws EdgeConfigError (or GenesisError) with the reason. */
export async function openEdge(env: Record<string, string | undefined>, log: LogFn = jsonLog): Promise<Edge> {
  const config = resolveEdgeConfig(env);
  const genesis = parseGenesis(readGenesisBytes(config), config.genesisFile ?? "edge genesis");
  if (config.chainId !== null && config.chainId !== genesis.chainIdHex) {
    throw new EdgeConfigError(
      `the genesis is chain ${genesis.chainIdHex}, QUDAG_EDGE_CHAIN_ID says ${config.chainId}: wrong genesis file`,
    );
  }
  const backend = await cryptoBackend();
  const verify: SignatureCheck = async (publicKey, message, signature) =>
    (await backend.mlDsaVerifyBatch([{ publicKey, message, signature }], 1))[0] === true;
  const kv = config.kvPath === null ? await Deno.openKv() : await Deno.openKv(config.kvPath);
  const replica = await Replica.open({
    genesis,
    ledgerGenesis: genesis.exchange === null ? null : parseExchangeGenesis(genesis.exchange, genesis.chainId),
    upstreams: config.upstreams,
    store: new EdgeStore(kv, genesis.chainIdHex),
    verify,
    nowMs: () => Date.now(),
    log,
    stepEventsMax: config.stepEvents,
    retryAfterMs: config.retryMs,
    transientRetryMs: config.backoffMs,
  });
  const due = () => {
    if (config.pollMs === 0 || Date.now() - replica.lastSyncAtMs >= config.pollMs) void replica.sync();
  };
  const app = createEdgeApp(replica, { genesis, nowMs: () => Date.now(), onRequest: due });
  let timer: ReturnType<typeof setInterval> | undefined;
  if (config.pollMs > 0) {
    // Each step is bounded; the next starts only after the previous one ended (sync() is single flight).
    const t = setInterval(() => void replica.sync(), config.pollMs);
    Deno.unrefTimer(t);
    timer = t;
  }
  // On Deno Deploy a cron wakes the project every minute even without requests. Not locally: a registered cron
  // keeps `deno serve` alive after SIGINT/SIGTERM, and the timer above does the same work there.
  if (typeof Deno.cron === "function" && env.DENO_DEPLOYMENT_ID !== undefined) {
    try {
      Deno.cron("qudag-edge-sync", "* * * * *", async () => void await replica.sync());
    } catch (error) {
      log("warn", "Deno.cron unavailable; pulling on requests and the timer only", { err: String(error) });
    }
  }
  log("info", "edge replica ready", {
    chainId: genesis.chainIdHex,
    upstreams: config.upstreams,
    crypto: backend.name,
    servedSeq: replica.served?.certificate.statement.seq ?? 0,
  });
  void replica.sync();
  return {
    fetch: app.fetch,
    replica,
    config,
    cryptoBackend: backend.name,
    close() {
      if (timer !== undefined) clearInterval(timer);
      replica.close();
      kv.close();
    },
  };
}
