/**
 * The node's services in the order they depend on each other: a state sync
 * when the node is far behind, then the DAG, the exchange ledger (when the
 * genesis defines it), checkpoints and consensus, with the ledger's dry run
 * as consensus's admission check.
 */
import type { Config } from "../config/mod.ts";
import type { LedgerGenesis } from "../core/mod.ts";
import type { SelectedBackend } from "../crypto/select.ts";
import { splitConflictKey } from "../dag/conflict_key.ts";
import { keyIdOf, toHex } from "../keys/mod.ts";
import { LedgerService, parseExchangeGenesis } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import { registerExchangeInfo, type Registry } from "../metrics/mod.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import { AccountKeys } from "./account_keys.ts";
import { CheckpointService } from "./checkpoints.ts";
import { ConsensusService, storedCutPositions } from "./consensus.ts";
import { DagService } from "./dag_service.ts";
import type { DataDir } from "./data_dir.ts";
import type { Genesis } from "./genesis.ts";
import type { NodeIdentity } from "./identity.ts";
import { NodeStartError } from "./start_error.ts";
import { syncIfBehind } from "./state_sync.ts";
import { ledgerAdmission, plainAdmission } from "./submission.ts";
import { createSyncSigner } from "./sync_signer.ts";
import { ValidatorSet } from "./validators.ts";
import { VerifiedTxs } from "./verified_txs.ts";

export interface ServicesOptions {
  config: Config;
  log: Logger;
  nowMs: () => number;
  startedAtMs: number;
  crypto: SelectedBackend;
  identity: NodeIdentity;
  genesis: Genesis;
  /** Whether this start created a local genesis. */
  genesisCreated: boolean;
  isValidator: boolean;
  registry: Registry;
  transport: PeerTransport;
  dir: DataDir;
  /** The largest event-loop lag of the last `seconds` seconds, in ms (the node's admission looks at it). */
  lagMs: (seconds: number) => number;
  /** A start asked for by the resync watch (StartOptions.resync). */
  resync: boolean;
  /** A certified checkpoint contradicts this node's own: it must sync again (src/node/mod.ts). */
  onDiverged: (seq: number) => void;
}

/** Certified checkpoints ahead of this node's last statement at which it stops issuing vertices. */
const ISSUE_HOLD_BEHIND = 2;

/** How long a node that stopped itself to sync again waits for a peer to ask (the first one ends the wait). */
const RESYNC_PEER_WAIT_MS = 30_000;

export interface NodeServices {
  readonly dag: DagService;
  readonly ledger: LedgerService | null;
  readonly consensus: ConsensusService;
  readonly checkpoints: CheckpointService;
}

export async function startServices(o: ServicesOptions): Promise<NodeServices> {
  const { config, genesis, crypto, identity, registry, log, nowMs } = o;
  const validators = new ValidatorSet(genesis, crypto.backend);
  let consensusRef: ConsensusService | null = null;
  const checkpointsFor = (ledgerService: LedgerService | null) =>
    new CheckpointService({
      genesis,
      validators,
      validatorId: identity.keyId,
      signer: o.isValidator ? createSyncSigner(crypto.backend, identity.seed) : null,
      backend: crypto.backend,
      storage: o.dir.storage,
      ledger: ledgerService,
      registry,
      logger: log.child({ component: "checkpoint" }),
      send: (to, m) => consensusRef?.send(to, m) ?? false,
      peers: () => o.transport.peers().map((p) => p.peerId),
      onCertified: (position, from) => void consensusRef?.engine.onCertifiedCut(position, from),
      onDiverged: o.onDiverged,
    });
  await syncState(o, validators, () => checkpointsFor(null));

  const storage = o.dir.storage;
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
    // A node that synced holds no carrier from before its checkpoint: the ledger says which nonces were used.
    settledBeforeHistory: storage.getMeta("synced_from_checkpoint") === null ? undefined : (key) => {
      const { account, nonce } = splitConflictKey(key);
      const next = ledger?.account(toHex(account))?.nextNonce;
      return next !== undefined && next > nonce;
    },
    storage,
    genesis,
    backend: crypto.backend,
    registry,
    logger: log.child({ component: "dag" }),
    nowMs,
    signer: o.isValidator ? identity.signer : undefined,
    cut: { current: cuts.current, previous: cuts.previous },
    tips: () => consensusRef?.engine.consensus.preferredFrontier() ?? [],
    accountKeys,
    verifiedTxs,
  });
  if (o.isValidator && storage.vertexCount() === 0) {
    const first = await dag.author([]);
    log.info("authored this validator's first vertex", { id: first.id, status: first.status });
  }
  ledger = await startLedger(o, exchangeGenesis, storage, verifiedTxs, dag);

  const checkpoints = checkpointsFor(ledger);
  const consensus = new ConsensusService({
    genesis,
    validatorId: identity.keyId,
    syncSigner: createSyncSigner(crypto.backend, identity.seed),
    storage,
    dag,
    transport: o.transport,
    registry,
    logger: log.child({ component: "consensus" }),
    nowMs,
    onStored: ledger ? (ds) => void ledger!.onDecisions(ds) : undefined,
    settlement: { ...genesis.settlement, lagMs: settlementLagMs(config, genesis) },
    batchTxsMax: config.consensus.batchTxsMax,
    batchDelayMs: config.consensus.batchDelayMs,
    batchWindow: config.consensus.batchWindow,
    batchDelayMaxMs: config.consensus.batchDelayMaxMs,
    pendingTxsMax: config.consensus.pendingTxsMax,
    fetchGraceMs: config.consensus.fetchGraceMs,
    overloaded: overloadedBy(config.consensus.busyLagMs, o.lagMs),
    // Behind the certified checkpoints, this node's tips are stale: its vertices would be refused (stale_parents).
    holdIssuing: () => checkpoints.certifiedSeq() >= checkpoints.statedSeq() + ISSUE_HOLD_BEHIND,
    onCut: (cut) => {
      void checkpoints.onCut(cut).then(() => pruneBodies(storage, config.storage.pruneBeforeCheckpoints, log));
    },
    onOtherMessage: (from, m) => checkpoints.onMessage(from, m),
    // The exchange ledger's dry run: a transaction it would refuse never enters consensus (where it
    // would spend the account's nonce) and the client gets the refusal code at once.
    admit: ledger
      ? ledgerAdmission(ledger, { nowMs }, accountKeys)
      : plainAdmission({ keys: accountKeys, verified: verifiedTxs, storage, nowMs }),
  });
  consensusRef = consensus;
  registerExchangeInfo(registry, () => ({
    served: ledger !== null && config.exchange.enabled,
    nodeType: config.exchange.nodeType,
    ledger: ledger === null ? "none" : ledger.halted ? "halted" : "running",
  }));
  return { dag, ledger, consensus, checkpoints };
}

/**
 * State sync: a node behind the peers' newest certified checkpoint (empty,
 * wiped, or back after a long time away) starts from it instead of replaying
 * the chain; a stale database is moved aside first.
 */
async function syncState(
  o: ServicesOptions,
  validators: ValidatorSet,
  checkpoints: () => CheckpointService,
): Promise<void> {
  const { config, genesis, log } = o;
  if (!config.sync.enabled || genesis.validators.length <= 1) return;
  const synced = await syncIfBehind({
    storage: o.dir.storage,
    transport: o.transport,
    validators,
    checkpoints,
    exchange: genesis.exchange !== null,
    logger: log.child({ component: "sync" }),
    behindMin: config.sync.behindMin,
    // After the resync watch stopped the node, any certified checkpoint will do, and its peers dial it again.
    force: o.resync,
    // Wait for peers only when this node knows whom to dial; otherwise ask whoever is connected already.
    // After a resync stop, the peers must notice and dial again: wait for the first at least RESYNC_PEER_WAIT_MS.
    waitMs: o.resync
      ? Math.max(config.sync.waitMs, RESYNC_PEER_WAIT_MS)
      : config.p2p.peers.length > 0 || config.p2p.bootstrap !== null || config.fly.appName
      ? config.sync.waitMs
      : 0,
    freshStore: () => o.dir.startOver(o.identity, new Date(o.startedAtMs).toISOString(), genesis, log),
    undoFreshStore: () => o.dir.undoStartOver(log),
    keepFreshStore: () => o.dir.keepStartOver(),
  });
  if (
    !synced.synced && (o.resync || !["sync_not_behind", "sync_no_checkpoint", "sync_no_peers"].includes(synced.reason))
  ) {
    log.warn("state sync failed; catching up by fetching", { reason: synced.reason, why: synced.message });
  }
}

/**
 * The exchange ledger follows consensus when the genesis defines it: rebuilt
 * from the stored DAG and decisions. Without an exchange section, enabling
 * the exchange stops the start.
 */
async function startLedger(
  o: ServicesOptions,
  exchangeGenesis: LedgerGenesis | null,
  storage: Storage,
  verifiedTxs: VerifiedTxs,
  dag: DagService,
): Promise<LedgerService | null> {
  const { config } = o;
  if (exchangeGenesis === null) {
    if (!config.exchange.enabled) return null;
    throw new NodeStartError(
      "exchange_unavailable",
      `the exchange is enabled but ${o.genesis.path} has no "exchange" section to start its ledger from` +
        (o.genesisCreated || config.node.networkMode !== "local"
          ? ""
          : ` (this local chain was made without the exchange: ` +
            `move ${config.node.dataDir} aside and start again to make one that has it)`),
    );
  }
  const ledger = new LedgerService({
    genesis: exchangeGenesis,
    storage,
    verify: (pk, message, signature, txId) => verifiedTxs.verify(txId, pk, message, signature),
    verifiedBefore: (txId) => verifiedTxs.has(txId),
    logger: o.log.child({ component: "ledger" }),
    registry: o.registry,
    snapshotEvery: config.storage.snapshotEvery,
    snapshotsKept: config.storage.snapshotsKept,
    decoded: (id) => dag.takeDecoded(id),
  });
  // Never throws: a ledger that cannot follow consensus halts, and the node starts and says why.
  await ledger.restore();
  return ledger;
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

/** How far back the admission looks at the event loop's lag. */
const BUSY_LAG_WINDOW_S = 2;

/** The mempool's `overloaded`: the event loop lagged past `busyLagMs` in the last BUSY_LAG_WINDOW_S (0: never). */
export function overloadedBy(busyLagMs: number, lagMs: (seconds: number) => number): () => string | null {
  if (busyLagMs <= 0) return () => null;
  return () => {
    const lag = lagMs(BUSY_LAG_WINDOW_S);
    return lag > busyLagMs
      ? `this node's event loop lagged by ${
        Math.round(lag)
      } ms in the last ${BUSY_LAG_WINDOW_S} s (more than ${busyLagMs})`
      : null;
  };
}
