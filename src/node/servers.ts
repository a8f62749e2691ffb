/**
 * The node's HTTP servers: the public API, the metrics endpoint and, when
 * the exchange is served, the exchange API on its own port; one OpenAPI
 * document describes both APIs, and one rate limiter spans them.
 */
import type { Config } from "../config/mod.ts";
import type { SelectedBackend } from "../crypto/select.ts";
import { createApp, type StatusReport } from "../http/app.ts";
import { createCheckpointsApi } from "../http/checkpoints.ts";
import { createCryptoApi, CRYPTO_API_BASE } from "../http/crypto.ts";
import { createDagApi } from "../http/dag.ts";
import { createExchangeApi, EXCHANGE_API_BASE } from "../http/exchange.ts";
import { createFeedApi } from "../http/feed.ts";
import { type Front, FrontListenError, startFront } from "../http/front.ts";
import { apiServerUrl, OpenApiDocument } from "../http/openapi.ts";
import { createPeersApi } from "../http/peers.ts";
import { rateLimiter } from "../http/rate_limit.ts";
import { NotReadyError } from "../http/system.ts";
import { withoutAddresses } from "../http/status.ts";
import { createTransactionsApi } from "../http/transactions.ts";
import { createVaultApi, VAULT_API_BASE } from "../http/vault.ts";
import { Keyring } from "../keys/keyring.ts";
import { KeySession, KeyStore } from "../keys/mod.ts";
import type { Logger } from "../log/mod.ts";
import { CONTENT_TYPE } from "../metrics/mod.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import type { Vault } from "../vault/mod.ts";
import { FeedReader } from "./feed.ts";
import type { Genesis } from "./genesis.ts";
import { keyStoreDir } from "./identity.ts";
import type { NodeMetrics } from "./node_metrics.ts";
import type { NodeServices } from "./services.ts";
import type { Cleanup } from "./shutdown.ts";
import { NodeStartError } from "./start_error.ts";

export type HttpApp = ReturnType<typeof createApp>;

const STATUS_PATH = "/api/v1/status";

export interface ServersOptions {
  config: Config;
  log: Logger;
  nowMs: () => number;
  crypto: SelectedBackend;
  storage: Storage;
  genesis: Genesis;
  metrics: NodeMetrics;
  services: NodeServices;
  transport: PeerTransport;
  vault: Vault | null;
  /** True once the node began to stop. */
  isStopping: () => boolean;
  /** A server the node cannot run without failed after the start (stable code): the node stops. */
  onFault: (code: string) => void;
  status: () => StatusReport;
  cleanup: Cleanup;
}

export interface NodeServers {
  readonly apps: { readonly public: HttpApp; readonly exchange: HttpApp | null };
  /** The public API's front (src/http/front.ts): its own thread owns the port. */
  readonly http: Front;
  readonly metrics: Deno.HttpServer<Deno.NetAddr>;
  readonly exchange: Deno.HttpServer<Deno.NetAddr> | null;
}

export async function startServers(o: ServersOptions): Promise<NodeServers> {
  const { config, log, nowMs, storage, services: { dag, consensus, ledger } } = o;
  const apiKey = config.secrets.apiKey;
  const checkReady = readinessCheck(o);
  const apiDocument = new OpenApiDocument();
  const httpPolicy = {
    cors: { origins: config.http.corsOrigins, maxAgeS: config.http.corsMaxAgeS },
    cache: { shortMaxAgeS: config.http.cacheMaxAgeS, immutableMaxAgeS: config.http.cacheImmutableMaxAgeS },
    apiKey,
    // One limiter for both ports: a client's budget spans them.
    middleware: config.http.rateLimit
      ? [rateLimiter({
        settings: {
          readsPerMinute: config.http.rateLimitReadsPerMinute,
          readsBurst: config.http.rateLimitReadsBurst,
          writesPerMinute: config.http.rateLimitWritesPerMinute,
          writesBurst: config.http.rateLimitWritesBurst,
          keyMultiplier: config.http.rateLimitKeyMultiplier,
        },
        apiKey,
        behindFlyProxy: config.fly.appName !== null && config.fly.machineId !== null,
        nowMs: () => performance.now(),
        registry: o.metrics.registry,
      })]
      : [],
  };
  let front: Front | null = null;
  const app = createApp({
    ...httpPolicy,
    document: apiDocument,
    notFoundHint: (method, path) =>
      ledger !== null && path.startsWith("/exchange/") && method !== "GET" && method !== "HEAD"
        ? `the public port serves the exchange's reads only: send ${method} to the exchange API (port ${config.exchange.port}, ${EXCHANGE_API_BASE})`
        : null,
    logger: log,
    requestDuration: o.metrics.requestDuration,
    bodyLimitBytes: config.http.bodyLimitBytes,
    nowMs: () => performance.now(),
    checkReady,
    isStopping: o.isStopping,
    areas: {
      "/api/v1/dag": createDagApi(dag, { apiKey }),
      "/api/v1/transactions": createTransactionsApi(consensus, storage, { apiKey }),
      "/api/v1/peers": createPeersApi(o.transport, new Map(o.genesis.validators.map((v) => [v.id, v.name])), {
        apiKey,
      }),
      "/api/v1/checkpoints": createCheckpointsApi(storage),
      "/api/v1": createFeedApi(new FeedReader(storage), { isStopping: o.isStopping }),
      [VAULT_API_BASE]: createVaultApi(o.vault, { apiKey }),
      [CRYPTO_API_BASE]: createCryptoApi(
        new Keyring({
          store: new KeyStore({ dir: keyStoreDir(config.node.dataDir), backend: o.crypto.backend }),
          backend: o.crypto.backend,
          session: config.secrets.keyPassphrase ? new KeySession(config.secrets.keyPassphrase) : null,
        }),
        o.crypto.backend,
        { apiKey },
      ),
      // The exchange's reads on the public port too (/exchange/status, /exchange/accounts): what Fly's proxy serves.
      ...(ledger
        ? {
          "/exchange": createExchangeApi(ledger, (b) => consensus.submit(b), (id) => consensus.txState(id), {
            nowMs,
            storage,
            readsOnlySuffix: "OnPublicPort",
          }),
        }
        : {}),
    },
    // A client's status call that reached the app (the front's copy was stale) starts the copies again.
    status: () => {
      front?.wanted(STATUS_PATH);
      return o.status();
    },
  });

  const httpServer = await listenFront(o, app);
  front = httpServer;
  o.cleanup.push(() => httpServer.shutdown());
  const metricsServer = listen(
    "metrics",
    "metrics.port",
    config.metrics.host,
    config.metrics.port,
    (req) => {
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname === "/metrics") {
        return new Response(o.metrics.registry.render(), { headers: { "content-type": CONTENT_TYPE } });
      }
      return new Response("not found; try /metrics\n", { status: 404 });
    },
  );
  o.cleanup.push(() => metricsServer.shutdown());
  let exchangeServer: Deno.HttpServer<Deno.NetAddr> | null = null;
  let exchangeApp: HttpApp | null = null;
  if (ledger && config.exchange.enabled) {
    exchangeApp = createApp({
      ...httpPolicy,
      document: apiDocument,
      logger: log.child({ component: "exchange" }),
      requestDuration: o.metrics.requestDuration,
      bodyLimitBytes: config.http.bodyLimitBytes,
      nowMs: () => performance.now(),
      checkReady: () => {
        checkReady();
        if (ledger.halted) {
          throw new NotReadyError(
            "ledger_halted",
            `the ledger halted [${ledger.halted.code}]: ${ledger.halted.message}`,
            ledger.halted.code,
          );
        }
      },
      isStopping: o.isStopping,
      status: () => ({ exchange: ledger.summary() }),
      areas: {
        [EXCHANGE_API_BASE]: createExchangeApi(ledger, (b) => consensus.submit(b), (id) => consensus.txState(id), {
          nowMs,
          storage,
          apiKey,
        }),
      },
    });
    exchangeServer = listen(
      "the exchange API",
      "exchange.port",
      config.http.host,
      config.exchange.port,
      exchangeApp.fetch,
    );
    const srv = exchangeServer;
    o.cleanup.push(() => srv.shutdown());
  }
  apiDocument.attach(app, exchangeApp, {
    public: apiServerUrl(config.http.host, httpServer.addr.port),
    exchange: exchangeServer === null ? undefined : apiServerUrl(config.http.host, exchangeServer.addr.port),
  });
  // Everything the app serves is in place: the front hands requests on from now on (before: 503 starting).
  httpServer.open();
  return {
    apps: { public: app, exchange: exchangeApp },
    http: httpServer,
    metrics: metricsServer,
    exchange: exchangeServer,
  };
}

/** Throws while the node cannot serve: stopping, its ledger halted, or storage not writable. */
function readinessCheck(o: ServersOptions): () => void {
  const { ledger } = o.services;
  return () => {
    if (o.isStopping()) throw new NotReadyError("shutting_down", "node is shutting down");
    if (ledger?.halted) {
      throw new NotReadyError(
        "ledger_halted",
        `the exchange ledger halted [${ledger.halted.code}]`,
        ledger.halted.code,
      );
    }
    try {
      o.storage.checkWritable();
      o.metrics.storageWritable.set({}, 1);
    } catch (e) {
      o.metrics.storageWritable.set({}, 0);
      throw e;
    }
  };
}

/** The public API behind its front: status and /health from copies, the rest by the app (src/http/front.ts). */
async function listenFront(o: ServersOptions, app: HttpApp): Promise<Front> {
  const { config, log, metrics } = o;
  try {
    return await startFront({
      hostname: config.http.host,
      port: config.http.port,
      handler: app.fetch,
      reads: [
        { path: "/health" },
        { path: STATUS_PATH, body: () => JSON.stringify(withoutAddresses(o.status())) },
      ],
      onServed: (r) => {
        metrics.requestDuration.observe(
          { method: r.method, route: r.path, status: String(r.status) },
          r.durationMs / 1000,
        );
        log.info("http request", {
          requestId: r.requestId,
          method: r.method,
          path: r.path,
          route: r.path,
          status: r.status,
          durationMs: Math.round(r.durationMs * 1e3) / 1e3,
          front: true,
        });
      },
      onError: (err) =>
        log.error("the API front's copy of a read could not be made (at most one line a minute)", {
          err,
          code: "api_front_copy_failed",
        }),
      onFailed: (err) => {
        log.error("the API front's thread stopped: the node stops (its supervisor should start it again)", {
          err,
          code: "api_front_failed",
        });
        o.onFault("api_front_failed");
      },
    });
  } catch (cause) {
    if (cause instanceof FrontListenError) {
      throw listenError("the HTTP API", "http.port", config.http.host, config.http.port, cause, cause.addrInUse);
    }
    throw new NodeStartError("api_front_failed", `the HTTP API's front could not start: ${(cause as Error).message}`, {
      cause,
    });
  }
}

function listen(
  what: string,
  key: string,
  hostname: string,
  port: number,
  handler: Deno.ServeHandler,
): Deno.HttpServer<Deno.NetAddr> {
  try {
    return Deno.serve({ hostname, port, onListen: () => {} }, handler);
  } catch (cause) {
    throw listenError(what, key, hostname, port, cause, cause instanceof Deno.errors.AddrInUse);
  }
}

/** The start error for a listener that could not open: port_in_use (naming the key to change) or listen_failed. */
function listenError(
  what: string,
  key: string,
  hostname: string,
  port: number,
  cause: unknown,
  addrInUse: boolean,
): NodeStartError {
  if (addrInUse) {
    return new NodeStartError(
      "port_in_use",
      `cannot listen for ${what} on ${hostname}:${port}: address already in use (change ${key})`,
      { cause },
    );
  }
  return new NodeStartError(
    "listen_failed",
    `cannot listen for ${what} on ${hostname}:${port} (${key}): ${(cause as Error).message}`,
    { cause },
  );
}
