/**
 * Assembles a running node: storage -> crypto -> identity -> servers, and
 * takes it apart again on stop. Everything here is wiring; the rules live in
 * the modules it wires.
 */
import type { Config } from "../config/mod.ts";
import { checkChainSettings } from "../config/chain_settings.ts";
import { selectCryptoBackend, type SelectedBackend } from "../crypto/select.ts";
import { createApp } from "../http/app.ts";
import type { Logger } from "../log/mod.ts";
import { CONTENT_TYPE, registerExchangeInfo, registerProcessMetrics, Registry } from "../metrics/mod.ts";
import { SqliteStorage, type Storage } from "../storage/mod.ts";
import { buildInfo, VERSION } from "../version.ts";
import { keyStoreDir, loadIdentity, type NodeIdentity } from "./identity.ts";
import { type Genesis, loadGenesis } from "./genesis.ts";
import { AccountKeys } from "./account_keys.ts";
import { ledgerAdmission, plainAdmission } from "./submission.ts";
import { VerifiedTxs } from "./verified_txs.ts";
import { DagService } from "./dag_service.ts";
import { createDagApi } from "../http/dag.ts";
import { PeerTransport } from "../net/transport.ts";
import { keyIdOf, toHex } from "../keys/mod.ts";
import { Discovery, joinHostPort, resolveAaaa } from "../net/discovery.ts";
import { acceptedTxSum, ConsensusService, storedCutPositions } from "./consensus.ts";
import { CheckpointService } from "./checkpoints.ts";
import { createCheckpointsApi } from "../http/checkpoints.ts";
import { createFeedApi } from "../http/feed.ts";
import { FeedReader } from "./feed.ts";
import { syncIfBehind } from "./state_sync.ts";
import { ValidatorSet } from "./validators.ts";
import { DB_FILE } from "../storage/mod.ts";
import { createSyncSigner } from "./sync_signer.ts";
import { createTransactionsApi } from "../http/transactions.ts";
import { createPeersApi } from "../http/peers.ts";
import { LedgerService, parseExchangeGenesis } from "../ledger/mod.ts";
import { createExchangeApi, EXCHANGE_API_BASE } from "../http/exchange.ts";
import { createVaultApi, VAULT_API_BASE } from "../http/vault.ts";
import { apiServerUrl, OpenApiDocument } from "../http/openapi.ts";
import { openNodeVault } from "../vault/open.ts";
import { createCryptoApi, CRYPTO_API_BASE } from "../http/crypto.ts";
import { rateLimiter } from "../http/rate_limit.ts";
import { NotReadyError } from "../http/system.ts";
import { Keyring } from "../keys/keyring.ts";
import { KeySession, KeyStore } from "../keys/mod.ts";

export type NodeStartErrorCode =
  | "port_in_use"
  | "listen_failed"
  | "identity_mismatch"
  | "exchange_unavailable"
  | "settlement_lag_too_long";

export class NodeStartError extends Error {
  readonly code: NodeStartErrorCode;
  constructor(code: NodeStartErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeStartError";
    this.code = code;
  }
}

export interface RunningNode {
  readonly identity: NodeIdentity;
  readonly crypto: SelectedBackend;
  readonly storage: Storage;
  readonly registry: Registry;
  readonly genesis: Genesis;
  readonly dag: DagService;
  readonly consensus: ConsensusService;
  readonly transport: PeerTransport;
  readonly ports: { http: number; metrics: number; p2p: number; exchange: number | null };
  readonly ledger: LedgerService | null;
  /** The HTTP apps (public, and exchange when served), as the OpenAPI document describes them. */
  readonly apps: {
    readonly public: ReturnType<typeof createApp>;
    readonly exchange: ReturnType<typeof createApp> | null;
  };
  /** Stops accepting, lets in-flight requests finish (bounded), closes storage. Idempotent. */
  stop(reason: string): Promise<void>;
  /** Resolves when the node has stopped. */
  readonly stopped: Promise<void>;
}

export interface StartOptions {
  config: Config;
  logger: Logger;
  /** Wall clock in ms; injected for tests. */
  nowMs?: () => number;
  /** The crypto backend to use instead of selecting one (tests count what it is asked to do). */
  crypto?: SelectedBackend;
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
    if (cause instanceof Deno.errors.AddrInUse) {
      throw new NodeStartError(
        "port_in_use",
        `cannot listen for ${what} on ${hostname}:${port}: address already in use (change ${key})`,
        { cause },
      );
    }
    throw new NodeStartError(
      "listen_failed",
      `cannot listen for ${what} on ${hostname}:${port} (${key}): ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Records this start and refuses a data directory that belongs to another identity. */
function recordStart(
  storage: Storage,
  identity: NodeIdentity,
  nowIso: string,
): { boots: number; firstStartedAt: string } {
  return storage.transaction(() => {
    const owner = storage.getMeta("node_key_id");
    if (owner && owner !== identity.keyId) {
      throw new NodeStartError(
        "identity_mismatch",
        `this data directory belongs to node key ${owner.slice(0, 16)}, but the node key is ${
          identity.keyId.slice(0, 16)
        } (from ${identity.source === "env" ? "NODE_PRIVATE_KEY" : "the key store"})`,
      );
    }
    if (!owner) storage.setMeta("node_key_id", identity.keyId);
    const firstStartedAt = storage.getMeta("first_started_at") ?? nowIso;
    storage.setMeta("first_started_at", firstStartedAt);
    const boots = Number(storage.getMeta("boots") ?? "0") + 1;
    storage.setMeta("boots", String(boots));
    storage.setMeta("last_started_at", nowIso);
    return { boots, firstStartedAt };
  });
}

export async function startNode(o: StartOptions): Promise<RunningNode> {
  const { config, logger: log } = o;
  const nowMs = o.nowMs ?? (() => Date.now());
  const startedAtMs = nowMs();

  let storage = SqliteStorage.open({ dataDir: config.node.dataDir });
  const cleanup: (() => Promise<void> | void)[] = [() => storage.close()];
  try {
    const crypto = o.crypto ?? await selectCryptoBackend({
      requested: config.crypto.backend,
      nativeLibraryPath: config.crypto.nativeLibrary,
    });
    log.info("crypto backend selected", { backend: crypto.name, fallback: crypto.fallback, reason: crypto.reason });
    const identity = await loadIdentity(config, crypto.backend, log);
    let { boots, firstStartedAt } = recordStart(storage, identity, new Date(startedAtMs).toISOString());
    const nodeId = config.node.id ?? `node-${identity.keyId.slice(0, 12)}`;
    const { genesis, created } = loadGenesis({
      file: config.node.genesisFile,
      dataDir: config.node.dataDir,
      networkMode: config.node.networkMode,
      nodeName: nodeId,
      nodePublicKey: identity.publicKey,
      nowIso: new Date(startedAtMs).toISOString(),
      localExchange: config.exchange.enabled,
    });
    if (created) log.info("created a local genesis with this node as its only validator", { path: genesis.path });
    const storedChain = storage.getMeta("chain_id");
    if (storedChain && storedChain !== genesis.chainIdHex) {
      throw new NodeStartError(
        "identity_mismatch",
        `this data directory holds chain ${storedChain.slice(0, 16)}…, but ${genesis.path} describes chain ${
          genesis.chainIdHex.slice(0, 16)
        }…`,
      );
    }
    storage.setMeta("chain_id", genesis.chainIdHex);
    const isValidator = genesis.validators.some((v) => v.id === identity.keyId);
    // Seed settings that are chain state (FEE_*, IMMUTABLE_DEPLOYMENT, EXCHANGE_*) must match the chain, or start stops.
    checkChainSettings(config, {
      genesisPath: genesis.path,
      isValidator,
      exchangeFees: genesis.exchange === null ? null : parseExchangeGenesis(genesis.exchange, genesis.chainId).fees,
    });

    const registry = new Registry();
    registerProcessMetrics(registry, startedAtMs / 1000, nowMs);
    const info = buildInfo();
    registry.gauge("qudag_build_info", "Build information; always 1.", Object.keys(info)).set(info, 1);
    registry.gauge("qudag_crypto_backend_info", "Active crypto backend; always 1.", ["backend", "fallback"])
      .set({ backend: crypto.name, fallback: crypto.fallback ?? "none" }, 1);
    registry.gauge("qudag_node_boots", "How many times this data directory has started a node.").set({}, boots);
    const dagNodes = registry.counter("qudag_dag_nodes_total", "Vertices stored in the local DAG.");
    const txs = registry.counter("qudag_transactions_total", "Decided transactions by status.", ["status"]);
    const up = registry.gauge("qudag_storage_writable", "1 when the last storage write check passed.");
    registry.onCollect(() => {
      // Counters kept by storage as rows are written: constant time, whatever the chain's age.
      dagNodes.set({}, storage.vertexCount());
      const counts = storage.decisionCountsBySubject().tx;
      for (const status of ["accepted", "rejected"] as const) txs.set({ status }, counts[status]);
    });
    const requestDuration = registry.histogram(
      "qudag_http_request_duration_seconds",
      "HTTP request duration by method, matched route and status.",
      ["method", "route", "status"],
    );

    if (config.secrets.peerAuthToken && config.secrets.peerAuthToken.length < 32) {
      log.warn("PEER_AUTH_TOKEN is shorter than 32 characters; a validator could guess it offline");
    }
    const transport = new PeerTransport({
      genesis: { chainId: genesis.chainId, validators: genesis.validators.map((v) => v.publicKey) },
      backend: crypto.backend,
      signer: identity.signer,
      token: config.secrets.peerAuthToken,
      logger: log.child({ component: "p2p" }),
      registry,
      limits: { peersMax: config.p2p.maxPeers },
    });
    cleanup.push(() => transport.close());
    // On Fly, peers meet on the private IPv6 network unless p2p.host was set explicitly.
    const p2pHost = config.fly.privateIp && config.sources["p2p.host"] === "default"
      ? config.fly.privateIp
      : config.p2p.host;
    let p2pPort: number;
    try {
      p2pPort = transport.listen({ hostname: p2pHost, port: config.p2p.port }).port;
    } catch (cause) {
      if (cause instanceof Deno.errors.AddrInUse) {
        throw new NodeStartError(
          "port_in_use",
          `cannot listen for peers on ${p2pHost}:${config.p2p.port}: address already in use (change p2p.port)`,
          { cause },
        );
      }
      throw new NodeStartError("listen_failed", `cannot listen for peers: ${(cause as Error).message}`, { cause });
    }
    const discovery = new Discovery({
      staticPeers: config.p2p.peers,
      bootstrap: config.p2p.bootstrap,
      flyApp: config.fly.appName,
      selfAddresses: config.fly.privateIp ? [config.fly.privateIp] : [],
      peerPort: config.p2p.port,
      resolve: resolveAaaa,
      transport,
      logger: log.child({ component: "discovery" }),
      intervalMs: config.dag.syncIntervalS * 1000,
    });
    discovery.start();
    cleanup.push(() => discovery.stop());

    const validators = new ValidatorSet(genesis, crypto.backend);
    let consensusRef: ConsensusService | null = null;
    const checkpointsFor = (ledgerService: LedgerService | null) =>
      new CheckpointService({
        genesis,
        validators,
        validatorId: identity.keyId,
        signer: isValidator ? createSyncSigner(crypto.backend, identity.seed) : null,
        backend: crypto.backend,
        storage,
        ledger: ledgerService,
        registry,
        logger: log.child({ component: "checkpoint" }),
        send: (to, m) => consensusRef?.send(to, m) ?? false,
        peers: () => transport.peers().map((p) => p.peerId),
        onCertified: (position, from) => void consensusRef?.engine.onCertifiedCut(position, from),
      });

    // State sync: a node behind the peers' newest certified checkpoint (empty, wiped, or back after a long time
    // away) starts from it instead of replaying the chain; a stale database is moved aside first.
    if (config.sync.enabled && genesis.validators.length > 1) {
      const synced = await syncIfBehind({
        storage,
        transport,
        validators,
        checkpoints: checkpointsFor(null),
        exchange: genesis.exchange !== null,
        logger: log.child({ component: "sync" }),
        behindMin: config.sync.behindMin,
        // Wait for peers only when this node knows whom to dial; otherwise ask whoever is connected already.
        waitMs: config.p2p.peers.length > 0 || config.p2p.bootstrap !== null || config.fly.appName
          ? config.sync.waitMs
          : 0,
        freshStore: () => {
          storage = moveStoreAside(storage, config.node.dataDir, log);
          ({ boots, firstStartedAt } = recordStart(storage, identity, new Date(startedAtMs).toISOString()));
          storage.setMeta("chain_id", genesis.chainIdHex);
          return storage;
        },
      });
      if (!synced.synced && !["sync_not_behind", "sync_no_checkpoint", "sync_no_peers"].includes(synced.reason)) {
        log.warn("state sync failed; catching up by fetching", { reason: synced.reason, why: synced.message });
      }
    }

    const cuts = storedCutPositions(storage);
    const exchangeGenesis = genesis.exchange === null ? null : parseExchangeGenesis(genesis.exchange, genesis.chainId);
    let ledger: LedgerService | null = null;
    // One verdict per transaction signature, shared by the submission check, DAG admission and the ledger.
    const verifiedTxs = new VerifiedTxs(crypto.backend);
    const accountKeys = new AccountKeys({
      storage,
      genesisAccounts: new Map(exchangeGenesis?.accounts.map((a) => [keyIdOf(a.publicKey), a.publicKey]) ?? []),
      // By id only: account() also looks names up, and a name may look like an id.
      ledgerKey: (account) => {
        const key = ledger?.account(account)?.publicKey;
        return key !== undefined && keyIdOf(key) === account ? key : null;
      },
    });
    const dag = new DagService({
      storage,
      genesis,
      backend: crypto.backend,
      registry,
      logger: log.child({ component: "dag" }),
      nowMs,
      signer: isValidator ? identity.signer : undefined,
      cut: { current: cuts.current, previous: cuts.previous },
      tips: () => consensusRef?.engine.consensus.preferredFrontier() ?? [],
      accountKeys,
      verifiedTxs,
    });
    if (isValidator && storage.vertexCount() === 0) {
      const first = await dag.author([]);
      log.info("authored this validator's first vertex", { id: first.id, status: first.status });
    }

    // The exchange ledger follows consensus when the genesis defines it: rebuilt from the stored DAG and decisions.
    if (exchangeGenesis !== null) {
      ledger = new LedgerService({
        genesis: exchangeGenesis,
        storage,
        verify: (pk, message, signature, txId) => verifiedTxs.verify(txId, pk, message, signature),
        logger: log.child({ component: "ledger" }),
        registry,
        snapshotEvery: config.storage.snapshotEvery,
        snapshotsKept: config.storage.snapshotsKept,
        decoded: (id) => dag.decoded(id),
      });
      // Never throws: a ledger that cannot follow consensus halts, and the node starts and says why.
      await ledger.restore();
    } else if (config.exchange.enabled) {
      throw new NodeStartError(
        "exchange_unavailable",
        `the exchange is enabled but ${genesis.path} has no "exchange" section to start its ledger from` +
          (created || config.node.networkMode !== "local" ? "" : ` (this local chain was made without the exchange: ` +
            `move ${config.node.dataDir} aside and start again to make one that has it)`),
      );
    }
    const checkpoints = checkpointsFor(ledger);
    const consensus = new ConsensusService({
      genesis,
      validatorId: identity.keyId,
      syncSigner: createSyncSigner(crypto.backend, identity.seed),
      storage,
      dag,
      transport,
      registry,
      logger: log.child({ component: "consensus" }),
      nowMs,
      onStored: ledger ? (ds) => void ledger!.onDecisions(ds) : undefined,
      settlement: { ...genesis.settlement, lagMs: settlementLagMs(config, genesis) },
      batchTxsMax: config.consensus.batchTxsMax,
      pendingTxsMax: config.consensus.pendingTxsMax,
      onCut: (cut) => {
        void checkpoints.onCut(cut).then(() => pruneBodies(storage, config.storage.pruneBeforeCheckpoints, log));
      },
      onOtherMessage: (from, m) => checkpoints.onMessage(from, m),
      // The exchange ledger's dry run: a transaction it would refuse never enters consensus (where it
      // would spend the account's nonce) and the client gets the refusal code at once.
      admit: ledger
        ? ledgerAdmission(ledger, { nowMs })
        : plainAdmission({ keys: accountKeys, verified: verifiedTxs, storage, nowMs }),
    });
    consensusRef = consensus;
    registerExchangeInfo(registry, () => ({
      served: ledger !== null && config.exchange.enabled,
      nodeType: config.exchange.nodeType,
      ledger: ledger === null ? "none" : ledger.halted ? "halted" : "running",
    }));
    const vault = await openNodeVault({
      config,
      storage,
      backend: crypto.backend,
      logger: log.child({ component: "vault" }),
      nowMs,
    });
    if (isValidator) consensus.start();
    cleanup.push(() => consensus.stop());
    const apiKey = config.secrets.apiKey;

    let stopping = false;
    const checkReady = () => {
      if (stopping) throw new NotReadyError("shutting_down", "node is shutting down");
      if (ledger?.halted) {
        throw new NotReadyError(
          "ledger_halted",
          `the exchange ledger halted [${ledger.halted.code}]`,
          ledger.halted.code,
        );
      }
      try {
        storage.checkWritable();
        up.set({}, 1);
      } catch (e) {
        up.set({}, 0);
        throw e;
      }
    };

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
          registry,
        })]
        : [],
    };
    const app = createApp({
      ...httpPolicy,
      document: apiDocument,
      notFoundHint: (method, path) =>
        ledger !== null && path.startsWith("/exchange/") && method !== "GET" && method !== "HEAD"
          ? `the public port serves the exchange's reads only: send ${method} to the exchange API (port ${config.exchange.port}, ${EXCHANGE_API_BASE})`
          : null,
      logger: log,
      requestDuration,
      bodyLimitBytes: config.http.bodyLimitBytes,
      nowMs: () => performance.now(),
      checkReady,
      isStopping: () => stopping,
      areas: {
        "/api/v1/dag": createDagApi(dag, { apiKey }),
        "/api/v1/transactions": createTransactionsApi(consensus, storage, { apiKey }),
        "/api/v1/peers": createPeersApi(transport, new Map(genesis.validators.map((v) => [v.id, v.name])), { apiKey }),
        "/api/v1/checkpoints": createCheckpointsApi(storage),
        "/api/v1": createFeedApi(new FeedReader(storage), { isStopping: () => stopping }),
        [VAULT_API_BASE]: createVaultApi(vault, { apiKey }),
        [CRYPTO_API_BASE]: createCryptoApi(
          new Keyring({
            store: new KeyStore({ dir: keyStoreDir(config.node.dataDir), backend: crypto.backend }),
            backend: crypto.backend,
            session: config.secrets.keyPassphrase ? new KeySession(config.secrets.keyPassphrase) : null,
          }),
          crypto.backend,
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
      status: () => ({
        node: {
          id: nodeId,
          keyId: identity.keyId,
          version: VERSION,
          networkMode: config.node.networkMode,
          startedAt: new Date(startedAtMs).toISOString(),
          uptimeS: Math.max(0, Math.round((nowMs() - startedAtMs) / 1000)),
          boots,
          firstStartedAt,
          region: config.fly.region,
        },
        crypto: { backend: crypto.name, fallback: crypto.fallback, reason: crypto.reason },
        storage: { kind: storage.kind, schemaVersion: storage.schemaVersion, vertices: storage.vertexCount() },
        chain: {
          id: genesis.chainIdHex,
          network: genesis.network,
          validators: genesis.validators.map((v) => ({ name: v.name, id: v.id })),
          isValidator,
        },
        dag: {
          vertices: storage.vertexCount(),
          tips: consensus.engine.consensus.preferredFrontier().length,
          orphans: dag.orphanCount,
          inMemory: consensus.engine.consensus.size.vertices,
        },
        peers: transport.peers().map((p) => ({ id: p.peerId, remote: p.remote, role: p.role, since: p.connectedAtMs })),
        consensus: {
          params: consensus.engine.params,
          pollsStarted: consensus.engine.stats.pollsStarted,
          pollsFinished: consensus.engine.stats.pollsFinished,
          decisions: storage.decisionCounts(),
          acceptedTxHash: acceptedTxSum(storage),
        },
        settlement: settlementStatus(consensus, storage),
        exchange: {
          enabled: config.exchange.enabled,
          nodeType: config.exchange.nodeType,
          ledger: ledger
            ? {
              stateHash: toHex(ledger.stateHash()),
              journalVertices: ledger.status().journalVertices,
              halted: ledger.halted,
            }
            : null,
        },
      }),
    });

    const httpServer = listen("the HTTP API", "http.port", config.http.host, config.http.port, app.fetch);
    cleanup.push(() => httpServer.shutdown());
    const metricsServer = listen(
      "metrics",
      "metrics.port",
      config.metrics.host,
      config.metrics.port,
      (req) => {
        const url = new URL(req.url);
        if (req.method === "GET" && url.pathname === "/metrics") {
          return new Response(registry.render(), { headers: { "content-type": CONTENT_TYPE } });
        }
        return new Response("not found; try /metrics\n", { status: 404 });
      },
    );
    cleanup.push(() => metricsServer.shutdown());
    let exchangeServer: Deno.HttpServer<Deno.NetAddr> | null = null;
    let exchangeApp: ReturnType<typeof createApp> | null = null;
    if (ledger && config.exchange.enabled) {
      exchangeApp = createApp({
        ...httpPolicy,
        document: apiDocument,
        logger: log.child({ component: "exchange" }),
        requestDuration,
        bodyLimitBytes: config.http.bodyLimitBytes,
        nowMs: () => performance.now(),
        checkReady: () => {
          checkReady();
          if (ledger!.halted) {
            throw new NotReadyError(
              "ledger_halted",
              `the ledger halted [${ledger!.halted.code}]: ${ledger!.halted.message}`,
              ledger!.halted.code,
            );
          }
        },
        isStopping: () => stopping,
        status: () => ({ exchange: ledger!.summary() }),
        areas: {
          [EXCHANGE_API_BASE]: createExchangeApi(ledger!, (b) => consensus.submit(b), (id) => consensus.txState(id), {
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
      cleanup.push(() => srv.shutdown());
    }

    const ports = {
      http: httpServer.addr.port,
      metrics: metricsServer.addr.port,
      p2p: p2pPort,
      exchange: exchangeServer?.addr.port ?? null,
    };
    apiDocument.attach(app, exchangeApp, {
      public: apiServerUrl(config.http.host, ports.http),
      exchange: ports.exchange === null ? undefined : apiServerUrl(config.http.host, ports.exchange),
    });
    let resolveStopped!: () => void;
    const stopped = new Promise<void>((r) => resolveStopped = r);
    let stopPromise: Promise<void> | null = null;

    const stop = (reason: string): Promise<void> => {
      stopPromise ??= (async () => {
        stopping = true;
        log.info("node stopping", { reason });
        const deadline = new Promise<"timeout">((r) => {
          const t = setTimeout(() => r("timeout"), config.http.shutdownTimeoutMs);
          Deno.unrefTimer(t);
        });
        try {
          discovery.stop();
          consensus.stop();
          await transport.close();
          const drained = await Promise.race([
            Promise.all([httpServer.shutdown(), metricsServer.shutdown(), exchangeServer?.shutdown()]).then(() =>
              "drained" as const
            ),
            deadline,
          ]);
          if (drained === "timeout") {
            log.warn("in-flight requests did not finish in time", { timeoutMs: config.http.shutdownTimeoutMs });
          }
        } catch (err) {
          log.error("error while stopping", { err });
        } finally {
          await ledger?.close();
          storage.close();
          log.info("node stopped", { reason });
          resolveStopped();
        }
      })();
      return stopPromise;
    };

    log.info("node ready", {
      nodeId,
      keyId: identity.keyId,
      networkMode: config.node.networkMode,
      http: `http://${joinHostPort(config.http.host, ports.http)}`,
      metrics: `http://${joinHostPort(config.metrics.host, ports.metrics)}/metrics`,
      p2p: joinHostPort(p2pHost, ports.p2p),
      exchange: ports.exchange === null ? null : `http://${joinHostPort(config.http.host, ports.exchange)}`,
      dataDir: config.node.dataDir,
      boots,
    });
    const apps = { public: app, exchange: exchangeApp };
    return {
      identity,
      crypto,
      storage,
      registry,
      genesis,
      dag,
      consensus,
      transport,
      ledger,
      apps,
      ports,
      stop,
      stopped,
    };
  } catch (e) {
    for (const fn of cleanup.reverse()) {
      try {
        await fn();
      } catch { /* already failing */ }
    }
    throw e;
  }
}

/**
 * Moves a stale database aside (`qudag.db.stale-<time>`, with its WAL) and
 * opens a fresh one, for a state sync: nothing is deleted.
 */
function moveStoreAside(storage: SqliteStorage, dataDir: string, log: Logger): SqliteStorage {
  storage.close();
  const base = `${dataDir.replace(/\/+$/, "")}/${DB_FILE}`;
  const aside = `${base}.stale-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.renameSync(base + suffix, aside + suffix);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  log.warn("this node is far behind the certified checkpoints: its database was moved aside for a state sync", {
    movedTo: aside,
  });
  return SqliteStorage.open({ dataDir });
}

/**
 * The closing lag: the configured one, at most half the chain's settlement
 * interval (cut boundaries are an interval apart and an author needs the rest
 * to learn a cut before its vertices must cover it: src/consensus/cut.ts);
 * 0 or unset means half.
 */
export function settlementLagMs(config: Config, genesis: Genesis): number {
  const half = Math.floor(genesis.settlement.intervalMs / 2);
  const lag = config.settlement.lagMs;
  if (lag === 0) return half;
  if (lag > half) {
    throw new NodeStartError(
      "settlement_lag_too_long",
      `settlement.lag_ms is ${lag}; this chain's settlement interval is ${genesis.settlement.intervalMs} ms, so the lag may be at most ${half} ms`,
    );
  }
  return lag;
}

/** With storage.prune_before_checkpoints = K, vertex bodies K certified checkpoints back go (ids and decisions stay). */
function pruneBodies(storage: Storage, keep: number, log: Logger): void {
  if (keep <= 0) return;
  const latest = storage.latestCertificate();
  if (latest === null || latest.seq <= keep) return;
  const cut = storage.getCut(latest.seq - keep);
  if (cut === null) return;
  const pruned = storage.pruneVertexBodies(cut.prevBoundaryMs);
  if (pruned > 0) log.debug("vertex bodies pruned", { below: cut.prevBoundaryMs, pruned });
}

/** Settlement and checkpoints, for the status endpoint (constant time). */
function settlementStatus(consensus: ConsensusService, storage: Storage) {
  const s = consensus.engine.settlement();
  const own = storage.latestCut();
  const certified = storage.latestCertificate();
  return {
    cut: s.seq,
    boundaryMs: s.position.boundaryMs,
    frontier: s.position.frontier.length,
    blocked: s.blocked,
    checkpoint: own?.digest ? { seq: own.seq, digest: own.digest } : null,
    certified: certified === null ? null : { seq: certified.seq, digest: certified.digest },
  };
}
