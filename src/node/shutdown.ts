/**
 * Stopping a started node, in order: no new peers or consensus work, the
 * peer connections closed, the HTTP servers drained (bounded by
 * http.shutdown_timeout_ms), then the ledger and storage closed.
 */
import type { LedgerService } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Discovery } from "../net/discovery.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import type { ConsensusService } from "./consensus.ts";
import type { NodeServers } from "./servers.ts";

/** What undoes a start step; run in reverse order when a later step fails. */
export type Cleanup = (() => Promise<void> | void)[];

export interface StoppableNode {
  log: Logger;
  shutdownTimeoutMs: number;
  discovery: Discovery;
  consensus: ConsensusService;
  transport: PeerTransport;
  servers: NodeServers;
  ledger: LedgerService | null;
  storage: Storage;
  /** Stops the event-loop lag monitor (event_loop_lag.ts) and the memory trims (memory_trim.ts). */
  stopMonitors: () => void;
}

/** Stops the node's parts: a failing step is logged, and the ledger and storage are closed whatever happens. */
export async function stopNode(n: StoppableNode, reason: string): Promise<void> {
  const { log } = n;
  log.info("node stopping", { reason });
  const deadline = new Promise<"timeout">((r) => {
    const t = setTimeout(() => r("timeout"), n.shutdownTimeoutMs);
    Deno.unrefTimer(t);
  });
  n.stopMonitors();
  try {
    n.discovery.stop();
    n.consensus.stop();
    await n.transport.close();
    const drained = await Promise.race([
      Promise.all([n.servers.http.shutdown(), n.servers.metrics.shutdown(), n.servers.exchange?.shutdown()]).then(
        () => "drained" as const,
      ),
      deadline,
    ]);
    if (drained === "timeout") {
      log.warn("in-flight requests did not finish in time", { timeoutMs: n.shutdownTimeoutMs });
    }
  } catch (err) {
    log.error("error while stopping", { err });
  } finally {
    await n.ledger?.close();
    n.storage.close();
    log.info("node stopped", { reason });
  }
}

/** Runs the undo steps of a start that failed, last first; their own failures are ignored. */
export async function undoStart(cleanup: Readonly<Cleanup>): Promise<void> {
  for (const fn of [...cleanup].reverse()) {
    try {
      await fn();
    } catch { /* already failing */ }
  }
}

/** A node stops once, however often it is asked; `stopped` resolves when it has. */
export class Stopper {
  #stopping = false;
  #run: Promise<void> | null = null;
  #resolve!: () => void;
  readonly stopped: Promise<void> = new Promise<void>((r) => this.#resolve = r);

  /** True once stopping began: writes are refused so nothing is accepted and then lost. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Marks the node stopping and runs `steps` the first time; every call gets that run's promise. */
  stop(steps: () => Promise<void>): Promise<void> {
    this.#run ??= (async () => {
      this.#stopping = true;
      await steps();
      this.#resolve();
    })();
    return this.#run;
  }
}
