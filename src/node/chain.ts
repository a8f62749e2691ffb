/**
 * The chain this node runs: its genesis (a local node without one makes its
 * own), checked against the chain the data directory holds and against the
 * seed settings that are chain state, and whether this node validates it.
 */
import { checkChainSettings } from "../config/chain_settings.ts";
import type { Config } from "../config/mod.ts";
import { parseExchangeGenesis } from "../ledger/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Storage } from "../storage/mod.ts";
import { claimChain } from "./data_dir.ts";
import { type Genesis, loadGenesis } from "./genesis.ts";
import type { NodeIdentity } from "./identity.ts";

export interface NodeChain {
  /** The node's name: node.id, or one made from its key id. */
  readonly nodeId: string;
  readonly genesis: Genesis;
  /** Whether this start created a local genesis. */
  readonly created: boolean;
  readonly isValidator: boolean;
}

export function joinChain(o: {
  config: Config;
  identity: NodeIdentity;
  storage: Storage;
  nowIso: string;
  log: Logger;
}): NodeChain {
  const { config, identity } = o;
  const nodeId = config.node.id ?? `node-${identity.keyId.slice(0, 12)}`;
  const { genesis, created } = loadGenesis({
    file: config.node.genesisFile,
    dataDir: config.node.dataDir,
    networkMode: config.node.networkMode,
    nodeName: nodeId,
    nodePublicKey: identity.publicKey,
    nowIso: o.nowIso,
    localExchange: config.exchange.enabled,
  });
  if (created) o.log.info("created a local genesis with this node as its only validator", { path: genesis.path });
  claimChain(o.storage, genesis);
  const isValidator = genesis.validators.some((v) => v.id === identity.keyId);
  // Seed settings that are chain state (FEE_*, IMMUTABLE_DEPLOYMENT, EXCHANGE_*) must match the chain, or start stops.
  checkChainSettings(config, {
    genesisPath: genesis.path,
    isValidator,
    exchangeFees: genesis.exchange === null ? null : parseExchangeGenesis(genesis.exchange, genesis.chainId).fees,
  });
  return { nodeId, genesis, created, isValidator };
}
