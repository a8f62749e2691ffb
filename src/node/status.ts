/**
 * What /api/v1/status reports about this node (src/http/status.ts documents
 * the schema): identity, crypto, storage, chain, DAG, peers, consensus,
 * settlement and the exchange. Every figure is read in constant time.
 */
import type { Config } from "../config/mod.ts";
import type { SelectedBackend } from "../crypto/select.ts";
import type { StatusReport } from "../http/app.ts";
import { toHex } from "../keys/mod.ts";
import type { LedgerService } from "../ledger/mod.ts";
import type { PeerTransport } from "../net/transport.ts";
import type { Storage } from "../storage/mod.ts";
import { VERSION } from "../version.ts";
import { acceptedTxSum, type ConsensusService } from "./consensus.ts";
import type { DagService } from "./dag_service.ts";
import type { StartRecord } from "./data_dir.ts";
import type { Genesis } from "./genesis.ts";
import type { NodeIdentity } from "./identity.ts";

export interface StatusSources {
  nodeId: string;
  identity: NodeIdentity;
  config: Config;
  startedAtMs: number;
  nowMs: () => number;
  start: StartRecord;
  crypto: SelectedBackend;
  storage: Storage;
  genesis: Genesis;
  isValidator: boolean;
  dag: DagService;
  consensus: ConsensusService;
  ledger: LedgerService | null;
  transport: PeerTransport;
}

export function nodeStatus(o: StatusSources): StatusReport {
  const { config, crypto, storage, genesis, consensus, ledger } = o;
  return {
    node: {
      id: o.nodeId,
      keyId: o.identity.keyId,
      version: VERSION,
      networkMode: config.node.networkMode,
      startedAt: new Date(o.startedAtMs).toISOString(),
      uptimeS: Math.max(0, Math.round((o.nowMs() - o.startedAtMs) / 1000)),
      boots: o.start.boots,
      firstStartedAt: o.start.firstStartedAt,
      region: config.fly.region,
    },
    crypto: { backend: crypto.name, build: crypto.build, fallback: crypto.fallback, reason: crypto.reason },
    storage: { kind: storage.kind, schemaVersion: storage.schemaVersion, vertices: storage.vertexCount() },
    chain: {
      id: genesis.chainIdHex,
      network: genesis.network,
      validators: genesis.validators.map((v) => ({ name: v.name, id: v.id })),
      isValidator: o.isValidator,
    },
    dag: {
      vertices: storage.vertexCount(),
      tips: consensus.engine.consensus.preferredFrontier().length,
      orphans: o.dag.orphanCount,
      inMemory: consensus.engine.consensus.size.vertices,
    },
    peers: o.transport.peers().map((p) => ({ id: p.peerId, remote: p.remote, role: p.role, since: p.connectedAtMs })),
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
  };
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
