/**
 * Assembles a running node: storage -> crypto -> identity -> genesis ->
 * metrics -> peers -> services -> vault -> servers, and takes it apart again
 * on stop. Everything here is wiring; the rules live in the modules it wires.
 */
import type { Config } from "../config/mod.ts";
import { selectCryptoBackend, type SelectedBackend } from "../crypto/select.ts";
import type { LedgerService } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { joinHostPort } from "../net/discovery.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import { openNodeVault } from "../vault/open.ts";
import type { ConsensusService } from "./consensus.ts";
import type { DagService } from "./dag_service.ts";
import { joinChain } from "./chain.ts";
import { DataDir } from "./data_dir.ts";
import type { Genesis } from "./genesis.ts";
import { loadIdentity, type NodeIdentity } from "./identity.ts";
import { registerNodeMetrics } from "./node_metrics.ts";
import { monitorEventLoopLag } from "./event_loop_lag.ts";
import { startMemoryTrim } from "./memory_trim.ts";
import { startPeerNetwork } from "./p2p.ts";
import { type HttpApp, startServers } from "./servers.ts";
import { resubmitWaiting, resyncWaitMs, startResyncWatch } from "./resync_watch.ts";
import { startServices } from "./services.ts";
import { type Cleanup, stopNode, Stopper, undoStart } from "./shutdown.ts";
import { nodeStatus } from "./status.ts";

export { NodeStartError, type NodeStartErrorCode } from "./start_error.ts";
export { settlementLagMs } from "./services.ts";

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
    readonly public: HttpApp;
    readonly exchange: HttpApp | null;
  };
  /** Stops accepting, lets in-flight requests finish (bounded), closes storage. Idempotent. */
  stop(reason: string): Promise<void>;
  /** Resolves when the node has stopped. */
  readonly stopped: Promise<void>;
  /**
   * True when the node stopped itself to sync again (src/node/resync_watch.ts):
   * whoever runs it starts it again with `resync` (src/cli/start.ts).
   */
  readonly wantsResync: () => boolean;
  /** After a resync stop: the submissions its mempool held, for the next start to take again (`resubmit`). */
  readonly waitingAtStop: () => readonly Uint8Array[];
  /** The stable code of the fault that stopped the node (the API front's thread died: `api_front_failed`), or null. */
  readonly fault: () => string | null;
}

export interface StartOptions {
  config: Config;
  logger: Logger;
  /** Wall clock in ms; injected for tests. */
  nowMs?: () => number;
  /** The crypto backend to use instead of selecting one (tests count what it is asked to do). */
  crypto?: SelectedBackend;
  /**
   * Stops asked for by the resync watch in a row in this process before this
   * start (0: none). After one, the start syncs from the peers' newest
   * certified checkpoint if it is newer than this node's, and waits for peers
   * to ask them; the watch waits longer after each (resyncWaitMs).
   */
  resyncs?: number;
  /**
   * Submissions the last run held in its mempool when it stopped to sync
   * again: submitted again once this node is ready (202 pending promises the
   * client nothing more, but a planned restart need not drop them).
   */
  resubmit?: readonly Uint8Array[];
}

/**
 * After a start that follows a resync stop: until the node asks a peer for
 * its newest certificate; twice that until it takes its old mempool again.
 */
const RESYNC_SETTLE_MS = 1_000;

export async function startNode(o: StartOptions): Promise<RunningNode> {
  const { config, logger: log } = o;
  const nowMs = o.nowMs ?? (() => Date.now());
  const resync = (o.resyncs ?? 0) > 0;
  const startedAtMs = nowMs();
  const startedAtIso = new Date(startedAtMs).toISOString();

  // A state sync may replace the database (and the start record): until it is over, read them through `dir`.
  const dir = new DataDir(config.node.dataDir);
  const cleanup: Cleanup = [() => dir.close()];
  try {
    const crypto = o.crypto ?? await selectCryptoBackend({
      requested: config.crypto.backend,
      nativeLibraryPath: config.crypto.nativeLibrary,
    });
    log.info("crypto backend selected", {
      backend: crypto.name,
      build: crypto.build,
      fallback: crypto.fallback,
      reason: crypto.reason,
    });
    const identity = await loadIdentity(config, crypto.backend, log);
    dir.recordStart(identity, startedAtIso);
    const { nodeId, genesis, created, isValidator } = joinChain({
      config,
      identity,
      storage: dir.storage,
      nowIso: startedAtIso,
      log,
    });
    const metrics = registerNodeMetrics({
      startedAtMs,
      nowMs,
      crypto,
      boots: dir.start.boots,
      storage: () => dir.storage,
    });
    const registry = metrics.registry;
    const lagMonitor = monitorEventLoopLag(registry);
    let readyAtMs: number | null = null;
    const stopLagMonitor = () => lagMonitor.stop();
    const stopMemoryTrim = startMemoryTrim({ release: crypto.backend.releaseFreeMemory, registry, log });
    const monitors = [stopLagMonitor, stopMemoryTrim];
    const stopMonitors = () => monitors.forEach((stopOne) => stopOne());
    cleanup.push(stopMonitors);
    // The node stops itself to sync again (diverged, or stuck behind the certified checkpoints); whoever runs it
    // starts it again with `resync` (RunningNode.wantsResync). Set once `stop` exists; before, nothing can ask.
    let wantsResync = false;
    let waitingAtStop: readonly Uint8Array[] = [];
    let resyncNow = (_why: Record<string, unknown>): void => {};
    // A part the node cannot run without failed after the start: it stops, and `qudag start` exits with 1.
    let fault: string | null = null;
    // Until `stop` exists a fault is only kept; it stops the node as soon as it can.
    let stopForFault = (code: string): void => {
      fault ??= code;
    };
    const p2p = startPeerNetwork({ config, genesis, crypto, identity, registry, log, cleanup });
    const { transport } = p2p;
    const services = await startServices({
      config,
      log,
      nowMs,
      startedAtMs,
      crypto,
      identity,
      genesis,
      genesisCreated: created,
      isValidator,
      registry,
      transport,
      dir,
      // What start-up itself blocked (compiling, restoring) says nothing of the load: counted once ready.
      lagMs: (seconds) =>
        readyAtMs !== null && performance.now() - readyAtMs >= seconds * 1000 ? lagMonitor.recentMaxMs(seconds) : 0,
      resync,
      onDiverged: (seq) => resyncNow({ reason: "checkpoint_mismatch", seq }),
    });
    const { dag, consensus, ledger } = services;
    const storage = dir.storage;
    const vault = await openNodeVault({
      config,
      storage,
      backend: crypto.backend,
      logger: log.child({ component: "vault" }),
      nowMs,
    });
    if (isValidator) consensus.start();
    cleanup.push(() => consensus.stop());

    const stopper = new Stopper();
    const servers = await startServers({
      config,
      log,
      nowMs,
      crypto,
      storage,
      genesis,
      metrics,
      services,
      transport,
      vault,
      isStopping: () => stopper.stopping,
      onFault: (code) => stopForFault(code),
      status: () =>
        nodeStatus({
          nodeId,
          identity,
          config,
          startedAtMs,
          nowMs,
          start: dir.start,
          crypto,
          storage,
          genesis,
          isValidator,
          dag,
          consensus,
          ledger,
          transport,
        }),
      cleanup,
    });
    const ports = {
      http: servers.http.addr.port,
      metrics: servers.metrics.addr.port,
      p2p: p2p.port,
      exchange: servers.exchange?.addr.port ?? null,
    };

    if (genesis.validators.length > 1 && config.sync.enabled && config.sync.resyncAfterMs > 0) {
      monitors.push(startResyncWatch({
        behindMin: config.sync.behindMin,
        afterMs: resyncWaitMs(config.sync.resyncAfterMs, o.resyncs ?? 0),
        ownSeq: () => services.checkpoints.statedSeq(),
        certifiedSeq: () => services.checkpoints.certifiedSeq(),
        nowMs,
        onBehind: (behind) => resyncNow({ reason: "behind", ...behind }),
        beforeLook: () => services.checkpoints.askNewest(),
      }));
    }
    const stop = (reason: string) =>
      stopper.stop(() =>
        stopNode({
          log,
          shutdownTimeoutMs: config.http.shutdownTimeoutMs,
          discovery: p2p.discovery,
          consensus,
          transport,
          servers,
          ledger,
          storage,
          stopMonitors,
        }, reason)
      );

    stopForFault = (code) => {
      fault ??= code;
      void stop(code);
    };
    if (fault !== null) void stop(fault);

    resyncNow = (why) => {
      if (wantsResync || !config.sync.enabled || genesis.validators.length <= 1) return;
      log.warn("this node restarts its services to sync from the newest certified checkpoint", {
        code: "sync_resync",
        ...why,
      });
      wantsResync = true;
      waitingAtStop = consensus.waitingTransactions();
      void stop("resync");
    };

    if (resync) {
      // Back from a sync: learn how far the others went first (the issue hold needs it), then take the mempool again.
      const ask = setTimeout(() => services.checkpoints.askNewest(), RESYNC_SETTLE_MS);
      const resubmit = setTimeout(() => {
        if (o.resubmit?.length) void resubmitWaiting(consensus, o.resubmit, log);
      }, 2 * RESYNC_SETTLE_MS);
      for (const t of [ask, resubmit]) Deno.unrefTimer(t);
      // Stopped before they fire (a failed start, or a stop): they do not.
      monitors.push(() => [ask, resubmit].forEach((t) => clearTimeout(t)));
    }

    readyAtMs = performance.now();
    log.info("node ready", {
      nodeId,
      keyId: identity.keyId,
      networkMode: config.node.networkMode,
      http: `http://${joinHostPort(config.http.host, ports.http)}`,
      metrics: `http://${joinHostPort(config.metrics.host, ports.metrics)}/metrics`,
      p2p: joinHostPort(p2p.host, ports.p2p),
      exchange: ports.exchange === null ? null : `http://${joinHostPort(config.http.host, ports.exchange)}`,
      dataDir: config.node.dataDir,
      boots: dir.start.boots,
    });
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
      apps: servers.apps,
      ports,
      stop,
      stopped: stopper.stopped,
      wantsResync: () => wantsResync,
      waitingAtStop: () => waitingAtStop,
      fault: () => fault,
    };
  } catch (e) {
    await undoStart(cleanup);
    throw e;
  }
}
