/**
 * The node's peer network: the authenticated transport, listening on the
 * p2p address, and discovery of the peers to dial.
 */
import type { Config } from "../config/mod.ts";
import type { SelectedBackend } from "../crypto/select.ts";
import type { Logger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { Discovery, resolveAaaa } from "../net/discovery.ts";
import { PeerTransport } from "../net/transport.ts";
import type { Genesis } from "./genesis.ts";
import type { NodeIdentity } from "./identity.ts";
import type { Cleanup } from "./shutdown.ts";
import { NodeStartError } from "./start_error.ts";

export interface PeerNetwork {
  readonly transport: PeerTransport;
  readonly discovery: Discovery;
  /** The address peers are listened for on, and its port. */
  readonly host: string;
  readonly port: number;
}

export function startPeerNetwork(o: {
  config: Config;
  genesis: Genesis;
  crypto: SelectedBackend;
  identity: NodeIdentity;
  registry: Registry;
  log: Logger;
  cleanup: Cleanup;
}): PeerNetwork {
  const { config, log } = o;
  if (config.secrets.peerAuthToken && config.secrets.peerAuthToken.length < 32) {
    log.warn("PEER_AUTH_TOKEN is shorter than 32 characters; a validator could guess it offline");
  }
  const transport = new PeerTransport({
    genesis: { chainId: o.genesis.chainId, validators: o.genesis.validators.map((v) => v.publicKey) },
    backend: o.crypto.backend,
    signer: o.identity.signer,
    token: config.secrets.peerAuthToken,
    logger: log.child({ component: "p2p" }),
    registry: o.registry,
    limits: { peersMax: config.p2p.maxPeers },
  });
  o.cleanup.push(() => transport.close());
  // On Fly, peers meet on the private IPv6 network unless p2p.host was set explicitly.
  const host = config.fly.privateIp && config.sources["p2p.host"] === "default"
    ? config.fly.privateIp
    : config.p2p.host;
  let port: number;
  try {
    port = transport.listen({ hostname: host, port: config.p2p.port }).port;
  } catch (cause) {
    if (cause instanceof Deno.errors.AddrInUse) {
      throw new NodeStartError(
        "port_in_use",
        `cannot listen for peers on ${host}:${config.p2p.port}: address already in use (change p2p.port)`,
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
  o.cleanup.push(() => discovery.stop());
  return { transport, discovery, host, port };
}
