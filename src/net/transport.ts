/**
 * PeerTransport: the validators' authenticated, encrypted peer-to-peer links.
 *
 * WebSockets carry the frames: the peer port accepts upgrade requests on path
 * WS_PATH with subprotocol WS_SUBPROTOCOL. Both ends use the small RFC 6455
 * implementation in _ws.ts over Deno's TCP, because Deno's own WebSocket stalls
 * 1-64 KiB client messages for ~40 ms (Nagle) and its server buffers messages up
 * to 64 MiB before we can refuse them. Chosen over js-libp2p (ENVIRONMENT.md): built in,
 * ~130x the message rate, no 38 MB of dependencies, and libp2p's Noise channel is
 * classical only; the post-quantum channel has to be ours either way
 * (handshake.ts, channel.ts).
 *
 * Each connection runs the handshake, then becomes a session in the peer table,
 * keyed by validator id (one session per peer). A peer that fails the handshake,
 * sends a malformed, oversized, tampered, replayed or out-of-order frame, or
 * floods, is disconnected with a reason in the log and a count in the metrics;
 * every other session carries on. Limits (all named in TransportLimits): peers,
 * handshakes in flight and per second (with slots reserved for known validators),
 * handshake time from the accept, message size, send queue frames and bytes,
 * socket buffer, inbound frame and byte rates, inbox, idle time.
 *
 * Addresses given to `connect()` are kept and redialed with exponential backoff
 * and jitter while the peer is not connected; a session that ends is redialed
 * the same way. When two validators dial each other at once, both keep the
 * connection dialed by the smaller validator id.
 *
 * This file is the face; the parts, one concept each: limits.ts (bounds and
 * the token bucket), connection.ts (one connection's state), sessions.ts (the
 * peer table and a connection's life, both directions), handshake_slots.ts (who
 * may start an inbound handshake), inbound.ts (listener, responder), dialer.ts (targets, backoff, initiator),
 * pump.ts (send queue, encryption, decryption, delivery) and housekeeping.ts
 * (pings and idle sessions).
 */

import type { CryptoBackend, MlDsaSigner } from "../crypto/backend.ts";
import { keyIdOf } from "../keys/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { CLOSE_GOING_AWAY, type PeerInfo, type Timer } from "./connection.ts";
import { Dialer } from "./dialer.ts";
import { dataFrameBytesMax, KIND_APP } from "./frame.ts";
import { parseChainId, ReplayCache, ValidatorSet } from "./handshake.ts";
import { Housekeeping } from "./housekeeping.ts";
import { Inbound } from "./inbound.ts";
import { resolveLimits, type TransportLimits } from "./limits.ts";
import { TransportMetrics } from "./metrics.ts";
import { PeerBudget, type PeerWork, resolvePeerBudget, type WorkLimit } from "./peer_budget.ts";
import { dropped, enqueue, type SendResult } from "./pump.ts";
import { type MessageHandler, type PeerDownHandler, type PeerUpHandler, SessionTable } from "./sessions.ts";

export { type DisconnectReason, type PeerInfo } from "./connection.ts";
export { peerUrl } from "./dialer.ts";
export { DEFAULT_LIMITS, type TransportLimits } from "./limits.ts";
export { type SendResult } from "./pump.ts";
export { type MessageHandler, type PeerDownHandler, type PeerUpHandler } from "./sessions.ts";

/** 32 random bytes in hex; shorter tokens get a warning at start (see handshake.ts on offline guessing). */
const TOKEN_CHARS_RECOMMENDED = 32;

export interface GenesisInfo {
  /** Genesis hash / chain id, 32 bytes or 64 hex characters. */
  readonly chainId: Uint8Array | string;
  /** ML-DSA-87 public keys of the validators; only they may connect. */
  readonly validators: readonly Uint8Array[];
}

export interface PeerTransportOptions {
  readonly genesis: GenesisInfo;
  readonly backend: CryptoBackend;
  /** This node's validator identity. */
  readonly signer: MlDsaSigner;
  /** PEER_AUTH_TOKEN; null or "" for none. Every peer must hold the same value. */
  readonly token?: string | null;
  readonly logger?: Logger;
  /** Expose the metrics in this registry (ignored when `metrics` is given). */
  readonly registry?: Registry;
  readonly metrics?: TransportMetrics;
  readonly limits?: Partial<TransportLimits>;
  /** Secure random bytes for the handshake; crypto.getRandomValues by default. */
  readonly random?: (bytes: number) => Uint8Array;
  /** Uniform in [0, 1), for reconnect jitter; seeded in tests. */
  readonly jitter?: () => number;
  /** Monotonic milliseconds. */
  readonly now?: () => number;
  /** Per-peer budgets for the work peers' messages cause (peer_budget.ts); the defaults by default. */
  readonly budget?: Partial<Record<PeerWork, Partial<WorkLimit>>>;
}

export class PeerTransport {
  /** This node's validator id (hex BLAKE3-256 of its ML-DSA-87 public key). */
  readonly id: string;
  readonly metrics: TransportMetrics;
  readonly limits: TransportLimits;
  /**
   * The per-peer work budgets the transport spends from before it hands a
   * message on; consensus may spend from them too for work the transport
   * cannot price (`budget.take(peerId, { work, units }, nowMs)`).
   */
  readonly budget: PeerBudget;

  readonly #table: SessionTable;
  readonly #inbound: Inbound;
  readonly #dialer: Dialer;
  readonly #housekeeping: Housekeeping;
  readonly #log: Logger;
  #closed: Promise<void> | undefined;

  constructor(options: PeerTransportOptions) {
    this.limits = resolveLimits(options.limits);
    this.metrics = options.metrics ?? new TransportMetrics(options.registry);
    this.#log = (options.logger ?? silentLogger).child({ component: "p2p" });
    const now = options.now ?? (() => performance.now());
    const jitter = options.jitter ?? (() => crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32);
    const validators = new ValidatorSet(options.backend, options.genesis.validators);
    this.id = keyIdOf(options.signer.publicKey);
    if (!validators.has(this.id)) {
      throw new Error(
        `this node's key ${this.id.slice(0, 16)} is not one of the ${validators.size} genesis validators`,
      );
    }
    const ctx = Object.freeze({
      chainId: parseChainId(options.genesis.chainId),
      validators,
      signer: options.signer,
      backend: options.backend,
      token: new TextEncoder().encode(options.token ?? ""),
      random: options.random ?? ((n: number) => crypto.getRandomValues(new Uint8Array(n))),
    });
    const tokenLength = (options.token ?? "").length;
    if (tokenLength > 0 && tokenLength < TOKEN_CHARS_RECOMMENDED) {
      this.#log.warn("PEER_AUTH_TOKEN is short: a peer holding a validator key could guess it offline", {
        length: tokenLength,
        recommended: TOKEN_CHARS_RECOMMENDED,
      });
    }
    const replays = new ReplayCache(this.limits.replayCacheEntriesMax);
    this.budget = new PeerBudget(resolvePeerBudget(options.budget));
    this.#table = new SessionTable(
      this.id,
      ctx,
      this.limits,
      this.metrics,
      this.#log,
      now,
      dataFrameBytesMax(this.limits.messageBytesMax),
      this.budget,
    );
    this.#inbound = new Inbound(this.#table, replays);
    this.#dialer = new Dialer(this.#table, jitter);
    this.#housekeeping = new Housekeeping(this.#table);
    this.#table.hooks = {
      releaseSlot: (slot) => this.#inbound.releaseSlot(slot),
      ended: (conn, ending, wasUp, peerGone) => this.#dialer.ended(conn, ending, wasUp, peerGone),
    };
  }

  /** Called for each application message, in the order the peer sent them. */
  onMessage(handler: MessageHandler): void {
    this.#table.onMessage = handler;
  }

  onPeerUp(handler: PeerUpHandler): void {
    this.#table.onPeerUp = handler;
  }

  onPeerDown(handler: PeerDownHandler): void {
    this.#table.onPeerDown = handler;
  }

  /** Accepts peers on hostname:port (port 0 picks one); returns the bound address. */
  listen(options: { hostname?: string; port?: number } = {}): { hostname: string; port: number } {
    if (this.#table.closing) throw new Error("transport is closed");
    if (this.#inbound.listening) throw new Error("transport is already listening");
    const addr = this.#inbound.listen(options.hostname ?? "127.0.0.1", options.port ?? 4001);
    this.#housekeeping.start();
    this.#log.info("peer transport listening", { hostname: addr.hostname, port: addr.port, id: this.id });
    return { hostname: addr.hostname, port: addr.port };
  }

  /**
   * Keeps a connection to `address`: dials now, and again with backoff whenever
   * it is down. With `expectedPeerId` only that validator is accepted there.
   */
  connect(address: string, expectedPeerId?: string): void {
    if (this.#table.closing) throw new Error("transport is closed");
    this.#dialer.connect(address, expectedPeerId);
    this.#housekeeping.start();
  }

  /** Stops redialing `address` (for discovery); an established session stays up. */
  forget(address: string): void {
    this.#dialer.forget(address);
  }

  /** Refuses `peerId` from now on (until unban) and ends its session if it has one. */
  ban(peerId: string): boolean {
    const validators = this.#table.ctx.validators;
    if (!validators.has(peerId)) return false;
    validators.ban(peerId);
    const conn = this.#table.peers.get(peerId);
    if (conn) {
      this.#table.end(conn, { kind: "disconnect", reason: "banned", detail: "banned by the operator" }, 4003, "banned");
    }
    return true;
  }

  unban(peerId: string): boolean {
    return this.#table.ctx.validators.unban(peerId);
  }

  banned(): string[] {
    return this.#table.ctx.validators.banned();
  }

  /** Addresses this node keeps dialing. */
  targets(): string[] {
    return this.#dialer.targets();
  }

  /**
   * Queues `message` for `peerId`; never blocks. "queue_full" is the
   * backpressure signal. `owned`: the caller hands the buffer over and never
   * writes it again (a message just encoded), so it is queued as it is.
   */
  send(peerId: string, message: Uint8Array, owned = false): SendResult {
    if (this.#table.closing) return dropped(this.#table, "closed");
    if (message.length > this.limits.messageBytesMax) return dropped(this.#table, "too_large");
    const conn = this.#table.peers.get(peerId);
    if (conn === undefined) return dropped(this.#table, "unknown_peer");
    // Else a copy: the caller may reuse its buffer before the frame is encrypted.
    return enqueue(this.#table, conn, KIND_APP, owned ? message : message.slice());
  }

  /** Queues `message` for every connected peer; returns how many accepted it. */
  broadcast(message: Uint8Array): number {
    if (this.#table.closing) return 0;
    if (message.length > this.limits.messageBytesMax) {
      dropped(this.#table, "too_large");
      return 0;
    }
    const copy = message.slice(); // one copy shared by every queue; never written
    let queued = 0;
    for (const conn of this.#table.peers.values()) {
      if (enqueue(this.#table, conn, KIND_APP, copy) === "queued") queued++;
    }
    return queued;
  }

  peers(): PeerInfo[] {
    return [...this.#table.peers.values()].map((c) => c.info());
  }

  isConnected(peerId: string): boolean {
    return this.#table.peers.has(peerId);
  }

  /** Stops listening and dialing, closes every connection, and resolves when all sockets are closed. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#table.closing = true;
    this.#housekeeping.stop();
    await this.#inbound.close();
    this.#dialer.close();
    const conns = [...this.#table.connections];
    for (const conn of conns) {
      this.#table.end(
        conn,
        conn.phase === "up"
          ? { kind: "disconnect", reason: "local_close", detail: "transport closing" }
          : { kind: "quiet", detail: "transport closing" },
        CLOSE_GOING_AWAY,
        "going_away",
      );
    }
    let timer: Timer | undefined;
    await Promise.race([
      Promise.allSettled([...conns.map((c) => c.closed), ...conns.map((c) => c.pumping)]),
      new Promise((resolve) => timer = setTimeout(resolve, this.limits.closeWaitMs)),
    ]);
    clearTimeout(timer);
    this.#log.info("peer transport closed");
  }
}
