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
 * handshakes in flight and per second, handshake time, message size, send queue
 * frames and bytes, socket buffer, inbound frame and byte rates, inbox, idle time.
 *
 * Addresses given to `connect()` are kept and redialed with exponential backoff
 * and jitter while the peer is not connected; a session that ends is redialed
 * the same way. When two validators dial each other at once, both keep the
 * connection dialed by the smaller validator id.
 */

import type { CryptoBackend, MlDsaSigner } from "../crypto/backend.ts";
import { keyIdOf, toHex } from "../keys/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import type { Registry } from "../metrics/mod.ts";
import { NoDelayWebSocket, type PeerSocket, readUpgradeRequest, refuseUpgrade, ServerWebSocket } from "./_ws.ts";
import { ChannelError, type Opened, ReceiveCipher, SendCipher } from "./channel.ts";
import {
  DATA_FRAME_BYTES_MIN,
  dataFrameBytesMax,
  type FrameKind,
  HANDSHAKE_FRAME_BYTES_MAX,
  KIND_APP,
  KIND_CONFIRM,
  KIND_PING,
  WS_PATH,
  WS_SUBPROTOCOL,
} from "./frame.ts";
import {
  checkConfirm,
  type HandshakeContext,
  HandshakeError,
  type HandshakeFailure,
  InitiatorHandshake,
  parseChainId,
  ReplayCache,
  ResponderHandshake,
  type Session,
  ValidatorSet,
} from "./handshake.ts";
import { TransportMetrics } from "./metrics.ts";

/** Why an established session ended: the `reason` label of qudag_p2p_disconnects_total. */
export type DisconnectReason =
  | "tampered"
  | "counter"
  | "malformed"
  | "oversized"
  | "flood"
  | "idle_timeout"
  | "send_stalled"
  | "exhausted"
  | "remote_closed"
  | "local_close"
  | "duplicate"
  | "banned"
  | "internal";

export interface TransportLimits {
  /** Authenticated sessions at once. */
  peersMax: number;
  /** Inbound connections still in their handshake, in all and from one IP address. */
  handshakesInFlightMax: number;
  handshakesInFlightPerAddressMax: number;
  /** Inbound handshakes started per second (token bucket), and the burst allowed. */
  handshakesPerSecond: number;
  handshakeBurst: number;
  /** From connect (or accept) to an established session. */
  handshakeTimeoutMs: number;
  /** Largest application message; a larger incoming frame disconnects the peer. */
  messageBytesMax: number;
  /** Per-peer send queue; send() answers "queue_full" beyond either bound. */
  sendQueueFramesMax: number;
  sendQueueBytesMax: number;
  /** Stop handing frames to a socket whose own buffer holds more than this. */
  socketBufferedBytesHigh: number;
  /** A socket that stays above the high-water mark this long is dropped. */
  sendStallTimeoutMs: number;
  /** Received frames not yet decrypted; a peer that overfills it is flooding. */
  inboxFramesMax: number;
  inboxBytesMax: number;
  /** Inbound frame and byte rates per peer (token buckets); exceeding either is flooding. */
  floodFramesPerSecond: number;
  floodFramesBurst: number;
  floodBytesPerSecond: number;
  floodBytesBurst: number;
  /** Send a ping after this long without sending anything. */
  pingIntervalMs: number;
  /** Drop a session after this long without receiving anything. */
  idleTimeoutMs: number;
  /** Redial backoff: base * 2^attempt capped at max, then "equal jitter" (half fixed, half random). */
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  /** A session that lasted this long resets the backoff. */
  reconnectStableMs: number;
  /** Hello nonces remembered to refuse replays. */
  replayCacheEntriesMax: number;
  /** How long close() waits for sockets to finish closing. */
  closeWaitMs: number;
}

export const DEFAULT_LIMITS: Readonly<TransportLimits> = Object.freeze({
  peersMax: 64,
  handshakesInFlightMax: 32,
  handshakesInFlightPerAddressMax: 8,
  handshakesPerSecond: 50,
  handshakeBurst: 100,
  handshakeTimeoutMs: 5_000,
  messageBytesMax: 1 << 20,
  sendQueueFramesMax: 4_096,
  sendQueueBytesMax: 32 << 20,
  socketBufferedBytesHigh: 4 << 20,
  sendStallTimeoutMs: 30_000,
  inboxFramesMax: 4_096,
  inboxBytesMax: 32 << 20,
  floodFramesPerSecond: 20_000,
  floodFramesBurst: 40_000,
  floodBytesPerSecond: 64 << 20,
  floodBytesBurst: 128 << 20,
  pingIntervalMs: 5_000,
  idleTimeoutMs: 20_000,
  reconnectBaseMs: 250,
  reconnectMaxMs: 30_000,
  reconnectStableMs: 10_000,
  replayCacheEntriesMax: 16_384,
  closeWaitMs: 2_000,
});

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
}

export type SendResult = "queued" | "unknown_peer" | "queue_full" | "too_large" | "closed";

export interface PeerInfo {
  readonly peerId: string;
  /** "initiator" when this node dialed. */
  readonly role: "initiator" | "responder";
  readonly remote: string;
  readonly sessionId: string;
  readonly connectedAtMs: number;
  readonly queuedFrames: number;
}

export type MessageHandler = (peerId: string, message: Uint8Array) => void;
export type PeerUpHandler = (peer: PeerInfo) => void;
export type PeerDownHandler = (peerId: string, reason: DisconnectReason) => void;

/** WebSocket close codes: 4001 refused in the handshake, 4002 protocol violation, 4003 duplicate session. */
const CLOSE_REFUSED = 4001;
const CLOSE_VIOLATION = 4002;
const CLOSE_DUPLICATE = 4003;
const CLOSE_GOING_AWAY = 1001;
/** Frames encrypted or decrypted per batch; WebCrypto runs a batch's operations concurrently. */
const CRYPTO_BATCH_MAX = 64;
/** How often a sender blocked by a full socket buffer looks again. */
const BACKPRESSURE_POLL_MS = 5;
/** Upper bound on the housekeeping tick (pings, idle and stall checks). */
const TICK_MS_MAX = 1_000;
/** Pause after a failed accept() (e.g. no file descriptors left) before trying again. */
const ACCEPT_RETRY_MS = 100;
/**
 * Warnings about refused or misbehaving peers, per second and burst: an attacker
 * opening connections in a loop must not fill the disk. Metrics count every one;
 * the next warning written says how many were left out.
 */
const PEER_WARNINGS_PER_SECOND = 20;
/** Hello nonces remembered to recognize self-dials (one per address of this node is plenty). */
const SELF_HELLOS_MAX = 64;
/** 32 random bytes in hex; shorter tokens get a warning at start (see handshake.ts on offline guessing). */
const TOKEN_CHARS_RECOMMENDED = 32;
const PEER_WARNINGS_BURST = 100;

type Timer = ReturnType<typeof setTimeout>;

class TokenBucket {
  #tokens: number;
  #lastMs: number;
  constructor(readonly perSecond: number, readonly burst: number, nowMs: number) {
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }
  take(n: number, nowMs: number): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + (nowMs - this.#lastMs) * this.perSecond / 1000);
    this.#lastMs = nowMs;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
}

/** Rejects a handshake step's wait when its connection ends. */
class ConnectionEnded extends Error {
  constructor() {
    super("connection ended");
    this.name = "ConnectionEnded";
  }
}

interface DialTarget {
  readonly address: string;
  readonly url: string;
  readonly expectedPeerId: string | undefined;
  /** Consecutive failed dials; drives the backoff. */
  attempt: number;
  timer: Timer | undefined;
  conn: Connection | undefined;
  /** The validator last reached at this address: no dialing while it is connected. */
  peerId: string | undefined;
}

interface Outgoing {
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

type Ending =
  | { kind: "handshake"; reason: HandshakeFailure; detail: string }
  | { kind: "disconnect"; reason: DisconnectReason; detail: string }
  | { kind: "dial_failed"; detail: string }
  | { kind: "quiet"; detail: string };

class Connection {
  phase: "handshake" | "up" | "closed" = "handshake";
  /** Set once the peer proved its identity with a signature; it then gets data-frame limits. */
  proven = false;
  peerId: string | undefined;
  session: Session | undefined;
  sendCipher: SendCipher | undefined;
  receiveCipher: ReceiveCipher | undefined;
  opened = false;
  /** Initiator: the nonce of the hello it sent (hex), to recognize a dial that reached this very node. */
  helloNonce: string | undefined;
  /** Set while this inbound connection holds a handshake slot (of its IP address, in #inboundByAddress). */
  inboundSlot: string | undefined;
  upAtMs = 0;
  lastReceiveMs: number;
  lastSendMs: number;
  /** Since when the socket buffer has been above the high-water mark; 0 when it is not. */
  stalledSinceMs = 0;
  handshakeTimer: Timer | undefined;

  readonly inbox: Uint8Array[] = [];
  inboxBytes = 0;
  waiter: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  openWaiter: ((opened: boolean) => void) | undefined;

  readonly outbox: Outgoing[] = [];
  outboxBytes = 0;
  /** A #pump() is running; set and cleared synchronously. */
  pumpActive = false;
  /** The last #pump(), for close() to await. */
  pumping: Promise<void> | undefined;
  draining = false;

  readonly frameBucket: TokenBucket;
  readonly byteBucket: TokenBucket;
  readonly closed: Promise<void>;
  resolveClosed!: () => void;

  constructor(
    readonly ws: PeerSocket,
    readonly role: "initiator" | "responder",
    readonly remote: string,
    readonly target: DialTarget | undefined,
    limits: TransportLimits,
    nowMs: number,
  ) {
    this.lastReceiveMs = nowMs;
    this.lastSendMs = nowMs;
    this.frameBucket = new TokenBucket(limits.floodFramesPerSecond, limits.floodFramesBurst, nowMs);
    this.byteBucket = new TokenBucket(
      limits.floodBytesPerSecond,
      Math.max(limits.floodBytesBurst, dataFrameBytesMax(limits.messageBytesMax)),
      nowMs,
    );
    this.closed = new Promise((resolve) => this.resolveClosed = resolve);
  }

  /** The next frame during the handshake. */
  next(): Promise<Uint8Array> {
    const queued = this.inbox.shift();
    if (queued !== undefined) {
      this.inboxBytes -= queued.length;
      return Promise.resolve(queued);
    }
    if (this.phase === "closed") return Promise.reject(new ConnectionEnded());
    return new Promise((resolve, reject) => this.waiter = { resolve, reject });
  }

  wake(): void {
    const waiter = this.waiter;
    if (waiter === undefined || this.inbox.length === 0) return;
    this.waiter = undefined;
    const frame = this.inbox.shift() as Uint8Array;
    this.inboxBytes -= frame.length;
    waiter.resolve(frame);
  }

  whenOpen(): Promise<boolean> {
    if (this.opened || this.phase === "closed") return Promise.resolve(this.opened && this.phase !== "closed");
    return new Promise((resolve) => this.openWaiter = resolve);
  }

  info(): PeerInfo {
    return {
      peerId: this.peerId as string,
      role: this.role,
      remote: this.remote,
      sessionId: this.session?.sessionId ?? "",
      connectedAtMs: this.upAtMs,
      queuedFrames: this.outbox.length,
    };
  }
}

function positiveLimit(limits: TransportLimits, name: keyof TransportLimits): void {
  const v = limits[name];
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`transport limit ${name} = ${v} is invalid: expected > 0`);
}

function resolveLimits(partial: Partial<TransportLimits> | undefined): TransportLimits {
  const limits: TransportLimits = { ...DEFAULT_LIMITS, ...partial };
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof TransportLimits)[]) positiveLimit(limits, name);
  if (limits.idleTimeoutMs <= limits.pingIntervalMs) {
    throw new RangeError(
      `transport limits: idleTimeoutMs (${limits.idleTimeoutMs}) must exceed pingIntervalMs (${limits.pingIntervalMs})`,
    );
  }
  if (limits.reconnectMaxMs < limits.reconnectBaseMs) {
    throw new RangeError(
      `transport limits: reconnectMaxMs (${limits.reconnectMaxMs}) must be >= reconnectBaseMs (${limits.reconnectBaseMs})`,
    );
  }
  return Object.freeze(limits);
}

/** "host:port", "[v6]:port" or a ws:// URL -> the URL to dial. (No wss://: peers meet on the private network.) */
export function peerUrl(address: string): string {
  if (/^wss:\/\//i.test(address)) {
    throw new RangeError(`peer address ${JSON.stringify(address)} is invalid: wss:// is not supported, use ws://`);
  }
  if (/^ws:\/\//i.test(address)) {
    const url = new URL(address);
    if (url.pathname === "/" || url.pathname === "") url.pathname = WS_PATH;
    return url.href;
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new RangeError(`peer address ${JSON.stringify(address)} is invalid: expected host:port or [ipv6]:port`);
  }
  return `ws://${m[1]}:${port}${WS_PATH}`;
}

function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") return addr.transport;
  return addr.hostname.includes(":") ? `[${addr.hostname}]:${addr.port}` : `${addr.hostname}:${addr.port}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const VIOLATIONS: ReadonlySet<string> = new Set(["tampered", "counter", "malformed", "oversized", "flood"]);

export class PeerTransport {
  /** This node's validator id (hex BLAKE3-256 of its ML-DSA-87 public key). */
  readonly id: string;
  readonly metrics: TransportMetrics;
  readonly limits: TransportLimits;

  readonly #ctx: HandshakeContext;
  readonly #replays: ReplayCache;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #jitter: () => number;
  readonly #frameBytesMax: number;
  readonly #handshakeBucket: TokenBucket;
  readonly #warningBucket: TokenBucket;
  #warningsSuppressed = 0;

  readonly #peers = new Map<string, Connection>();
  readonly #connections = new Set<Connection>();
  readonly #targets = new Map<string, DialTarget>();
  #inboundHandshakes = 0;
  /** Nonces of hellos our own listener received from ourselves (a self-dial), newest last; bounded. */
  readonly #selfHellos: string[] = [];
  /** In-flight inbound handshakes per remote IP address; entries are deleted at zero. */
  readonly #inboundByAddress = new Map<string, number>();
  #listener: Deno.TcpListener | undefined;
  #acceptLoop: Promise<void> | undefined;
  /** Accepted TCP connections still sending their upgrade request, with their deadline timers. */
  readonly #upgrading = new Map<Deno.TcpConn, Timer>();
  #tick: ReturnType<typeof setInterval> | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;

  #onMessage: MessageHandler = () => {};
  #onPeerUp: PeerUpHandler = () => {};
  #onPeerDown: PeerDownHandler = () => {};

  constructor(options: PeerTransportOptions) {
    this.limits = resolveLimits(options.limits);
    this.metrics = options.metrics ?? new TransportMetrics(options.registry);
    this.#log = (options.logger ?? silentLogger).child({ component: "p2p" });
    this.#now = options.now ?? (() => performance.now());
    this.#jitter = options.jitter ?? (() => crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32);
    const validators = new ValidatorSet(options.backend, options.genesis.validators);
    this.id = keyIdOf(options.signer.publicKey);
    if (!validators.has(this.id)) {
      throw new Error(
        `this node's key ${this.id.slice(0, 16)} is not one of the ${validators.size} genesis validators`,
      );
    }
    this.#ctx = Object.freeze({
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
    this.#replays = new ReplayCache(this.limits.replayCacheEntriesMax);
    this.#frameBytesMax = dataFrameBytesMax(this.limits.messageBytesMax);
    this.#handshakeBucket = new TokenBucket(
      this.limits.handshakesPerSecond,
      this.limits.handshakeBurst,
      this.#now(),
    );
    this.#warningBucket = new TokenBucket(PEER_WARNINGS_PER_SECOND, PEER_WARNINGS_BURST, this.#now());
  }

  /** Called for each application message, in the order the peer sent them. */
  onMessage(handler: MessageHandler): void {
    this.#onMessage = handler;
  }

  onPeerUp(handler: PeerUpHandler): void {
    this.#onPeerUp = handler;
  }

  onPeerDown(handler: PeerDownHandler): void {
    this.#onPeerDown = handler;
  }

  /** Accepts peers on hostname:port (port 0 picks one); returns the bound address. */
  listen(options: { hostname?: string; port?: number } = {}): { hostname: string; port: number } {
    if (this.#closing) throw new Error("transport is closed");
    if (this.#listener !== undefined) throw new Error("transport is already listening");
    const listener = Deno.listen({ hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 4001 });
    this.#listener = listener;
    this.#acceptLoop = this.#accept(listener);
    this.#startTick();
    const addr = listener.addr;
    this.#log.info("peer transport listening", { hostname: addr.hostname, port: addr.port, id: this.id });
    return { hostname: addr.hostname, port: addr.port };
  }

  /**
   * Keeps a connection to `address`: dials now, and again with backoff whenever
   * it is down. With `expectedPeerId` only that validator is accepted there.
   */
  connect(address: string, expectedPeerId?: string): void {
    if (this.#closing) throw new Error("transport is closed");
    const url = peerUrl(address);
    if (this.#targets.has(url)) return;
    const target: DialTarget = {
      address,
      url,
      expectedPeerId,
      attempt: 0,
      timer: undefined,
      conn: undefined,
      peerId: expectedPeerId,
    };
    this.#targets.set(url, target);
    this.#startTick();
    this.#dial(target);
  }

  /** Stops redialing `address` (for discovery); an established session stays up. */
  forget(address: string): void {
    const target = this.#targets.get(peerUrl(address));
    if (target === undefined) return;
    clearTimeout(target.timer);
    this.#targets.delete(target.url);
  }

  /** Refuses `peerId` from now on (until unban) and ends its session if it has one. */
  ban(peerId: string): boolean {
    if (!this.#ctx.validators.has(peerId)) return false;
    this.#ctx.validators.ban(peerId);
    const conn = this.#peers.get(peerId);
    if (conn) {
      this.#end(conn, { kind: "disconnect", reason: "banned", detail: "banned by the operator" }, 4003, "banned");
    }
    return true;
  }

  unban(peerId: string): boolean {
    return this.#ctx.validators.unban(peerId);
  }

  banned(): string[] {
    return this.#ctx.validators.banned();
  }

  /** Addresses this node keeps dialing. */
  targets(): string[] {
    return [...this.#targets.keys()].sort();
  }

  /** Queues `message` for `peerId`; never blocks. "queue_full" is the backpressure signal. */
  send(peerId: string, message: Uint8Array): SendResult {
    if (this.#closing) return this.#dropped("closed");
    if (message.length > this.limits.messageBytesMax) return this.#dropped("too_large");
    const conn = this.#peers.get(peerId);
    if (conn === undefined) return this.#dropped("unknown_peer");
    // A copy: the caller may reuse its buffer before the frame is encrypted.
    return this.#enqueue(conn, KIND_APP, message.slice());
  }

  /** Queues `message` for every connected peer; returns how many accepted it. */
  broadcast(message: Uint8Array): number {
    if (this.#closing) return 0;
    if (message.length > this.limits.messageBytesMax) {
      this.#dropped("too_large");
      return 0;
    }
    const copy = message.slice(); // one copy shared by every queue; never written
    let queued = 0;
    for (const conn of this.#peers.values()) if (this.#enqueue(conn, KIND_APP, copy) === "queued") queued++;
    return queued;
  }

  peers(): PeerInfo[] {
    return [...this.#peers.values()].map((c) => c.info());
  }

  isConnected(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  /** Stops listening and dialing, closes every connection, and resolves when all sockets are closed. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#tick);
    try {
      this.#listener?.close();
    } catch {
      // already closed
    }
    await this.#acceptLoop;
    for (const [conn, timer] of this.#upgrading) {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    for (const target of this.#targets.values()) clearTimeout(target.timer);
    this.#targets.clear();
    const conns = [...this.#connections];
    for (const conn of conns) {
      this.#end(
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

  // -------------------------------------------------------------------------
  // Inbound

  /** Accepts TCP connections until the listener is closed. */
  async #accept(listener: Deno.TcpListener): Promise<void> {
    // Bounded by the listener's life: close() closes it, and accept() then rejects.
    while (!this.#closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing || error instanceof Deno.errors.BadResource) return;
        this.#log.error("peer listener accept failed", { err: error });
        await delay(ACCEPT_RETRY_MS); // e.g. out of file descriptors: do not spin
        continue;
      }
      void this.#onTcp(conn);
    }
  }

  /** Limits, then the WebSocket upgrade, then the handshake. Nothing is read before the limits pass. */
  async #onTcp(conn: Deno.TcpConn): Promise<void> {
    const addr = conn.remoteAddr;
    const remote = formatAddr(addr);
    const ip = addr.hostname;
    if (this.#closing) return await refuseUpgrade(conn, 503, "shutting down");
    conn.setNoDelay(true);
    if (this.#inboundHandshakes >= this.limits.handshakesInFlightMax) {
      this.#refusedBeforeUpgrade("handshake_limit", `${this.#inboundHandshakes} handshakes in flight`, remote);
      return await refuseUpgrade(conn, 503, "too many handshakes");
    }
    const fromIp = this.#inboundByAddress.get(ip) ?? 0;
    if (fromIp >= this.limits.handshakesInFlightPerAddressMax) {
      this.#refusedBeforeUpgrade("handshake_limit", `${fromIp} handshakes in flight from ${ip}`, remote);
      return await refuseUpgrade(conn, 503, "too many handshakes");
    }
    if (!this.#handshakeBucket.take(1, this.#now())) {
      this.#refusedBeforeUpgrade("rate_limited", `over ${this.limits.handshakesPerSecond} handshakes/s`, remote);
      return await refuseUpgrade(conn, 429, "too many handshakes");
    }
    // The slot is held from here until the session is up or the connection ends.
    this.#inboundHandshakes++;
    this.#inboundByAddress.set(ip, fromIp + 1);
    let timedOut = false;
    this.#upgrading.set(
      conn,
      setTimeout(() => {
        timedOut = true;
        try {
          conn.close();
        } catch {
          // already closed
        }
      }, this.limits.handshakeTimeoutMs),
    );
    let upgrade: Awaited<ReturnType<typeof readUpgradeRequest>> | undefined;
    let failure: unknown;
    try {
      upgrade = await readUpgradeRequest(conn);
    } catch (error) {
      failure = error;
    }
    clearTimeout(this.#upgrading.get(conn));
    this.#upgrading.delete(conn);
    const refuse = async (reason: HandshakeFailure, detail: string, status: number) => {
      this.#releaseSlot(ip);
      this.#refusedBeforeUpgrade(reason, detail, remote);
      await refuseUpgrade(conn, status, reason);
    };
    if (upgrade === undefined) {
      if (timedOut) return await refuse("timeout", "no upgrade request in time", 408);
      if (this.#closing) return await refuse("connection_closed", "transport closing", 503);
      return await refuse("malformed", `upgrade request: ${describe(failure)}`, 400);
    }
    if ("status" in upgrade) return await refuse("malformed", upgrade.why, upgrade.status);
    if (upgrade.request.path !== WS_PATH) return await refuse("malformed", `path ${upgrade.request.path}`, 404);
    if (!upgrade.request.protocols.includes(WS_SUBPROTOCOL)) {
      return await refuse("malformed", `subprotocol ${WS_SUBPROTOCOL} not offered`, 400);
    }
    if (this.#closing) return await refuse("connection_closed", "transport closing", 503);
    const socket = new ServerWebSocket(conn, upgrade.request, WS_SUBPROTOCOL, upgrade.rest, HANDSHAKE_FRAME_BYTES_MAX);
    const connection = new Connection(socket, "responder", remote, undefined, this.limits, this.#now());
    connection.inboundSlot = ip;
    this.#attach(connection);
    void this.#runResponder(connection);
  }

  #releaseSlot(ip: string): void {
    this.#inboundHandshakes--;
    const left = (this.#inboundByAddress.get(ip) ?? 1) - 1;
    if (left > 0) this.#inboundByAddress.set(ip, left);
    else this.#inboundByAddress.delete(ip);
  }

  #refusedBeforeUpgrade(reason: HandshakeFailure, detail: string, remote: string): void {
    this.metrics.handshakeFailures.inc({ reason });
    this.#peerWarning("peer refused", { reason, detail, remote, role: "responder" });
  }

  /** A warning about a peer, rate-limited (see PEER_WARNINGS_PER_SECOND). */
  #peerWarning(msg: string, fields: Record<string, unknown>): void {
    if (!this.#warningBucket.take(1, this.#now())) {
      this.#warningsSuppressed++;
      return;
    }
    const suppressed = this.#warningsSuppressed;
    this.#warningsSuppressed = 0;
    this.#log.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
  }

  async #runResponder(conn: Connection): Promise<void> {
    const handshake = new ResponderHandshake(this.#ctx, this.#replays);
    try {
      const reply = await handshake.onHello(await conn.next());
      conn.peerId = handshake.claimedPeerId;
      if (conn.phase !== "handshake") return;
      conn.ws.send(reply);
      const session = await handshake.onFinish(await conn.next());
      conn.proven = true;
      conn.ws.messageBytesMax = this.#frameBytesMax;
      await this.#installSession(conn, session);
      // The confirm frame carries our token MAC; sealed before the (synchronous) admission below.
      const confirm = await (conn.sendCipher as SendCipher).seal(KIND_CONFIRM, session.confirmMac);
      if (conn.phase !== "handshake") return;
      if (!this.#admit(conn)) return;
      conn.ws.send(confirm);
      this.#up(conn);
    } catch (error) {
      conn.peerId ??= handshake.claimedPeerId;
      if (error instanceof HandshakeError && error.reason === "self_connection" && handshake.helloNonce) {
        this.#selfHellos.push(toHex(handshake.helloNonce));
        if (this.#selfHellos.length > SELF_HELLOS_MAX) this.#selfHellos.shift();
      }
      this.#handshakeFailed(conn, error);
    }
  }

  // -------------------------------------------------------------------------
  // Outbound

  #dial(target: DialTarget): void {
    target.timer = undefined;
    if (this.#closing || this.#targets.get(target.url) !== target || target.conn !== undefined) return;
    // Already connected to whoever answers here (perhaps inbound): dial again when that session ends.
    if (target.peerId !== undefined && this.#peers.has(target.peerId)) return;
    let ws: PeerSocket;
    try {
      // Until the responder has signed, nothing larger than a handshake frame is read.
      ws = new NoDelayWebSocket(target.url, [WS_SUBPROTOCOL], { messageBytesMax: HANDSHAKE_FRAME_BYTES_MAX });
    } catch (error) {
      this.metrics.dialFailures.inc();
      this.#log.warn("peer dial failed", { remote: target.address, detail: describe(error) });
      this.#scheduleDial(target);
      return;
    }
    const conn = new Connection(ws, "initiator", target.address, target, this.limits, this.#now());
    target.conn = conn;
    this.#attach(conn);
    void this.#runInitiator(conn, target.expectedPeerId);
  }

  async #runInitiator(conn: Connection, expectedPeerId: string | undefined): Promise<void> {
    try {
      // Ephemeral keys are made while TCP and the WebSocket upgrade are in flight.
      const [handshake, isOpen] = await Promise.all([
        InitiatorHandshake.start(this.#ctx, expectedPeerId),
        conn.whenOpen(),
      ]);
      if (!isOpen || conn.phase !== "handshake") return;
      if (conn.ws.protocol !== WS_SUBPROTOCOL) {
        throw new HandshakeError("malformed", `peer answered with subprotocol ${JSON.stringify(conn.ws.protocol)}`);
      }
      conn.helloNonce = toHex(handshake.nonce);
      conn.ws.send(handshake.hello);
      const { finish, session } = await handshake.onReply(await conn.next());
      conn.peerId = session.peerId;
      conn.proven = true;
      conn.ws.messageBytesMax = this.#frameBytesMax;
      if (conn.target !== undefined) conn.target.peerId = session.peerId;
      if (conn.phase !== "handshake") return;
      await this.#installSession(conn, session);
      if (conn.phase !== "handshake") return;
      conn.ws.send(finish);
      let opened: Opened;
      try {
        opened = await (conn.receiveCipher as ReceiveCipher).open(await conn.next());
      } catch (error) {
        if (error instanceof ChannelError) throw new HandshakeError("malformed", `confirm frame: ${error.message}`);
        throw error;
      }
      if (opened.kind !== KIND_CONFIRM) throw new HandshakeError("malformed", "first frame is not a confirm frame");
      checkConfirm(session, opened.payload);
      if (conn.phase !== "handshake" || !this.#admit(conn)) return;
      this.#up(conn);
    } catch (error) {
      this.#handshakeFailed(conn, error);
    }
  }

  #scheduleDial(target: DialTarget): void {
    if (this.#closing || target.timer !== undefined || target.conn !== undefined) return;
    if (this.#targets.get(target.url) !== target) return;
    const capMs = Math.min(this.limits.reconnectMaxMs, this.limits.reconnectBaseMs * 2 ** Math.min(target.attempt, 30));
    const delayMs = Math.round(capMs / 2 + this.#jitter() * capMs / 2);
    target.attempt++;
    this.#log.debug("peer redial scheduled", { remote: target.address, delayMs, attempt: target.attempt });
    target.timer = setTimeout(() => this.#dial(target), delayMs);
  }

  // -------------------------------------------------------------------------
  // Both directions

  #attach(conn: Connection): void {
    this.#connections.add(conn);
    conn.ws.binaryType = "arraybuffer";
    conn.ws.onopen = () => {
      conn.opened = true;
      conn.openWaiter?.(conn.phase !== "closed");
      conn.openWaiter = undefined;
    };
    conn.ws.onmessage = (event: MessageEvent) => this.#onFrame(conn, event.data);
    conn.ws.onerror = () => {
      // A close event always follows; it carries what there is to know.
    };
    conn.ws.onclose = (event: CloseEvent) => this.#onSocketClosed(conn, event);
    conn.handshakeTimer = setTimeout(() => {
      conn.handshakeTimer = undefined;
      if (conn.phase === "handshake") {
        this.#end(
          conn,
          {
            kind: "handshake",
            reason: "timeout",
            detail: `no session after ${this.limits.handshakeTimeoutMs} ms`,
          },
          CLOSE_REFUSED,
          "timeout",
        );
      }
    }, this.limits.handshakeTimeoutMs);
  }

  #onFrame(conn: Connection, data: unknown): void {
    if (conn.phase === "closed") return;
    if (!(data instanceof ArrayBuffer)) return this.#violation(conn, "malformed", "text message");
    const frame = new Uint8Array(data);
    const nowMs = this.#now();
    if (!conn.proven) {
      // Before the peer has signed anything it may send exactly one handshake frame at a time.
      if (frame.length > HANDSHAKE_FRAME_BYTES_MAX) {
        return this.#violation(
          conn,
          "oversized",
          `${frame.length}-byte frame during the handshake (max ${HANDSHAKE_FRAME_BYTES_MAX})`,
        );
      }
      if (conn.inbox.length > 0) return this.#violation(conn, "malformed", "unexpected frame during the handshake");
    } else {
      if (frame.length > this.#frameBytesMax) {
        return this.#violation(conn, "oversized", `${frame.length}-byte frame (max ${this.#frameBytesMax})`);
      }
      if (!conn.frameBucket.take(1, nowMs) || !conn.byteBucket.take(frame.length, nowMs)) {
        return this.#violation(
          conn,
          "flood",
          `over ${this.limits.floodFramesPerSecond} frames/s or ${this.limits.floodBytesPerSecond} bytes/s`,
        );
      }
      if (
        conn.inbox.length >= this.limits.inboxFramesMax || conn.inboxBytes + frame.length > this.limits.inboxBytesMax
      ) {
        return this.#violation(conn, "flood", `inbox full (${conn.inbox.length} frames, ${conn.inboxBytes} bytes)`);
      }
    }
    conn.inbox.push(frame);
    conn.inboxBytes += frame.length;
    conn.lastReceiveMs = nowMs;
    if (conn.phase === "up") void this.#drain(conn);
    else conn.wake();
  }

  #violation(conn: Connection, reason: "malformed" | "oversized" | "flood", detail: string): void {
    if (conn.phase === "up") {
      this.#end(conn, { kind: "disconnect", reason, detail }, CLOSE_VIOLATION, reason);
    } else {
      const hsReason: HandshakeFailure = reason === "flood" ? "malformed" : reason;
      this.#end(conn, { kind: "handshake", reason: hsReason, detail }, CLOSE_REFUSED, hsReason);
    }
  }

  async #installSession(conn: Connection, session: Session): Promise<void> {
    const [sendCipher, receiveCipher] = await Promise.all([
      SendCipher.create(session.sendKey),
      ReceiveCipher.create(session.receiveKey, this.#frameBytesMax),
    ]);
    conn.session = session;
    conn.sendCipher = sendCipher;
    conn.receiveCipher = receiveCipher;
  }

  /** Peer-table admission, synchronous so two sessions of one peer cannot both get in. */
  #admit(conn: Connection): boolean {
    const peerId = conn.peerId as string;
    const existing = this.#peers.get(peerId);
    if (existing !== undefined) {
      const dialerOf = (c: Connection) => c.role === "initiator" ? this.id : c.peerId as string;
      const keepNew = dialerOf(existing) === dialerOf(conn) || dialerOf(conn) < dialerOf(existing);
      const loser = keepNew ? existing : conn;
      this.#end(
        loser,
        { kind: "disconnect", reason: "duplicate", detail: `another session with ${peerId.slice(0, 16)}` },
        CLOSE_DUPLICATE,
        "duplicate",
      );
      if (!keepNew) return false;
    } else if (this.#peers.size >= this.limits.peersMax) {
      this.#end(
        conn,
        { kind: "handshake", reason: "peer_limit", detail: `${this.#peers.size} peers connected` },
        CLOSE_REFUSED,
        "peer_limit",
      );
      return false;
    }
    return true;
  }

  #up(conn: Connection): void {
    const session = conn.session as Session;
    conn.phase = "up";
    conn.upAtMs = this.#now();
    conn.lastReceiveMs = conn.upAtMs;
    conn.lastSendMs = conn.upAtMs;
    clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = undefined;
    this.#leaveHandshake(conn);
    this.#peers.set(session.peerId, conn);
    if (conn.target !== undefined) conn.target.peerId = session.peerId;
    this.metrics.handshakes.inc({ role: conn.role });
    this.metrics.peers.set({}, this.#peers.size);
    this.#log.info("peer connected", {
      peer: session.peerId,
      remote: conn.remote,
      role: conn.role,
      session: session.sessionId,
    });
    try {
      this.#onPeerUp(conn.info());
    } catch (error) {
      this.#log.error("onPeerUp handler failed", { err: error, peer: session.peerId });
    }
    if (conn.inbox.length > 0) void this.#drain(conn);
    this.#kickPump(conn);
  }

  #leaveHandshake(conn: Connection): void {
    const ip = conn.inboundSlot;
    if (ip === undefined) return;
    conn.inboundSlot = undefined;
    this.#releaseSlot(ip);
  }

  #handshakeFailed(conn: Connection, error: unknown): void {
    if (conn.phase === "closed" || error instanceof ConnectionEnded) return;
    if (error instanceof HandshakeError) {
      this.#end(conn, { kind: "handshake", reason: error.reason, detail: error.message }, CLOSE_REFUSED, error.reason);
    } else {
      this.#log.error("peer handshake error", { err: error, remote: conn.remote });
      this.#end(conn, { kind: "handshake", reason: "internal", detail: describe(error) }, CLOSE_REFUSED, "internal");
    }
  }

  #onSocketClosed(conn: Connection, event: CloseEvent): void {
    this.#connections.delete(conn);
    conn.resolveClosed();
    if (conn.phase === "closed") return;
    const detail = `closed by peer (${event.code}${event.reason ? ` ${event.reason}` : ""})`;
    const violation = conn.ws.protocolError;
    if (violation !== undefined) {
      // Our socket refused a frame from its header (too large) or its framing.
      this.#violation(conn, violation.code === 1009 ? "oversized" : "malformed", violation.detail);
    } else if (conn.phase === "up") {
      this.#end(conn, { kind: "disconnect", reason: "remote_closed", detail });
    } else if (!conn.opened && conn.role === "initiator") {
      this.#end(conn, { kind: "dial_failed", detail: `could not connect (${event.code})` });
    } else if (event.code === CLOSE_DUPLICATE) {
      this.#end(conn, { kind: "quiet", detail: "peer keeps another session with us" });
    } else if (
      event.code === CLOSE_REFUSED && event.reason === "self_connection" && conn.helloNonce !== undefined &&
      this.#selfHellos.includes(conn.helloNonce)
    ) {
      // Our own listener refused our own hello: this address is this node.
      this.#end(conn, { kind: "handshake", reason: "self_connection", detail: "dialed this node's own address" });
    } else if (event.code >= 4000 && event.code < 5000) {
      this.#end(conn, { kind: "handshake", reason: "remote_refused", detail: `peer refused us: ${event.reason}` });
    } else {
      this.#end(conn, { kind: "handshake", reason: "connection_closed", detail });
    }
  }

  /** The one place a connection ends: counts, logs, closes the socket, updates the table and redials. */
  #end(conn: Connection, ending: Ending, closeCode = 1000, closeReason = ""): void {
    if (conn.phase === "closed") return;
    const wasUp = conn.phase === "up";
    conn.phase = "closed";
    clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = undefined;
    this.#leaveHandshake(conn);
    const waiter = conn.waiter;
    conn.waiter = undefined;
    waiter?.reject(new ConnectionEnded());
    conn.openWaiter?.(false);
    conn.openWaiter = undefined;
    conn.inbox.length = 0;
    conn.inboxBytes = 0;
    conn.outbox.length = 0;
    conn.outboxBytes = 0;

    const fields = {
      reason: "reason" in ending ? ending.reason : ending.kind,
      detail: ending.detail,
      remote: conn.remote,
      role: conn.role,
      ...(conn.peerId !== undefined ? { peer: conn.peerId } : {}),
      ...(conn.session !== undefined ? { session: conn.session.sessionId } : {}),
    };
    switch (ending.kind) {
      case "handshake":
        this.metrics.handshakeFailures.inc({ reason: ending.reason });
        if (ending.reason === "connection_closed") this.#log.info("peer handshake aborted", fields);
        else this.#peerWarning("peer refused", fields);
        break;
      case "disconnect":
        this.metrics.disconnects.inc({ reason: ending.reason });
        if (VIOLATIONS.has(ending.reason)) this.#peerWarning("peer disconnected", fields);
        else this.#log.info("peer disconnected", fields);
        break;
      case "dial_failed":
        this.metrics.dialFailures.inc();
        this.#log.debug("peer dial failed", fields);
        break;
      case "quiet":
        this.#log.debug("peer connection closed", fields);
        break;
    }

    const state = conn.ws.readyState;
    if (state === WebSocket.OPEN || state === WebSocket.CONNECTING) {
      try {
        conn.ws.close(closeCode, closeReason);
      } catch {
        try {
          conn.ws.close();
        } catch {
          // Nothing more to close; the close event (or its absence) no longer matters.
        }
      }
    } else if (state === WebSocket.CLOSED) {
      this.#connections.delete(conn);
      conn.resolveClosed();
    }

    if (wasUp && this.#peers.get(conn.peerId as string) === conn) {
      const peerId = conn.peerId as string;
      this.#peers.delete(peerId);
      this.metrics.peers.set({}, this.#peers.size);
      const reason = ending.kind === "disconnect" ? ending.reason : "internal";
      try {
        this.#onPeerDown(peerId, reason);
      } catch (error) {
        this.#log.error("onPeerDown handler failed", { err: error, peer: peerId });
      }
      // Addresses parked while this peer was connected another way are dialed again.
      for (const target of this.#targets.values()) {
        if (target.peerId === peerId && target.conn === undefined) this.#scheduleDial(target);
      }
    }

    const target = conn.target;
    if (target !== undefined && target.conn === conn) {
      target.conn = undefined;
      if (ending.kind === "handshake" && ending.reason === "self_connection") {
        // Discovery lists this node's own address too: stop dialing it.
        this.#targets.delete(target.url);
        this.#log.info("peer address is this node; not dialing it again", { remote: target.address });
        return;
      }
      if (wasUp && this.#now() - conn.upAtMs >= this.limits.reconnectStableMs) target.attempt = 0;
      if (target.peerId === undefined || !this.#peers.has(target.peerId)) this.#scheduleDial(target);
    }
  }

  // -------------------------------------------------------------------------
  // Data

  #dropped(reason: Exclude<SendResult, "queued">): SendResult {
    this.metrics.sendDropped.inc({ reason });
    return reason;
  }

  #enqueue(conn: Connection, kind: FrameKind, payload: Uint8Array): SendResult {
    if (conn.phase !== "up") return this.#dropped("unknown_peer");
    if (
      conn.outbox.length >= this.limits.sendQueueFramesMax ||
      conn.outboxBytes + payload.length > this.limits.sendQueueBytesMax
    ) {
      return this.#dropped("queue_full");
    }
    conn.outbox.push({ kind, payload });
    conn.outboxBytes += payload.length;
    this.#kickPump(conn);
    return "queued";
  }

  #kickPump(conn: Connection): void {
    if (conn.pumpActive || conn.phase !== "up" || conn.outbox.length === 0) return;
    // #pump clears pumpActive itself, synchronously as it returns, so no send() can find it stale.
    conn.pumpActive = true;
    conn.pumping = this.#pump(conn);
  }

  /** Encrypts and sends the queue in order, in batches, holding back while the socket's own buffer is full. */
  async #pump(conn: Connection): Promise<void> {
    const cipher = conn.sendCipher as SendCipher;
    try {
      while (conn.phase === "up" && conn.outbox.length > 0) {
        if (conn.ws.bufferedAmount > this.limits.socketBufferedBytesHigh) {
          const nowMs = this.#now();
          if (conn.stalledSinceMs === 0) conn.stalledSinceMs = nowMs;
          if (nowMs - conn.stalledSinceMs > this.limits.sendStallTimeoutMs) {
            this.#end(
              conn,
              {
                kind: "disconnect",
                reason: "send_stalled",
                detail: `socket buffer above ${this.limits.socketBufferedBytesHigh} bytes for ${
                  Math.round(nowMs - conn.stalledSinceMs)
                } ms`,
              },
              CLOSE_VIOLATION,
              "send_stalled",
            );
            return;
          }
          await delay(BACKPRESSURE_POLL_MS);
          continue;
        }
        conn.stalledSinceMs = 0;
        const batch = conn.outbox.splice(0, CRYPTO_BATCH_MAX);
        for (const item of batch) conn.outboxBytes -= item.payload.length;
        const frames = await Promise.all(batch.map((item) => cipher.seal(item.kind, item.payload)));
        if (conn.phase !== "up") return;
        let bytes = 0;
        for (const frame of frames) {
          conn.ws.send(frame);
          bytes += frame.length;
        }
        this.metrics.frames.inc({ direction: "out" }, frames.length);
        this.metrics.bytes.inc({ direction: "out" }, bytes);
        conn.lastSendMs = this.#now();
      }
    } catch (error) {
      const reason: DisconnectReason = error instanceof ChannelError && error.reason === "exhausted"
        ? "exhausted"
        : "internal";
      this.#end(conn, { kind: "disconnect", reason, detail: describe(error) }, CLOSE_GOING_AWAY, reason);
    } finally {
      conn.pumpActive = false;
    }
  }

  /** Decrypts received frames in order, in batches, and hands application messages to the handler. */
  async #drain(conn: Connection): Promise<void> {
    if (conn.draining) return;
    conn.draining = true;
    const cipher = conn.receiveCipher as ReceiveCipher;
    try {
      while (conn.phase === "up" && conn.inbox.length > 0) {
        const batch = conn.inbox.splice(0, CRYPTO_BATCH_MAX);
        for (const frame of batch) conn.inboxBytes -= frame.length;
        const results = await Promise.allSettled(batch.map((frame) => cipher.open(frame)));
        let frames = 0;
        let bytes = 0;
        for (const result of results) {
          if (conn.phase !== "up") return;
          if (result.status === "rejected") {
            const error = result.reason;
            const reason: DisconnectReason = error instanceof ChannelError ? error.reason : "internal";
            this.#end(conn, { kind: "disconnect", reason, detail: describe(error) }, CLOSE_VIOLATION, reason);
            return;
          }
          frames++;
          bytes += result.value.payload.length + DATA_FRAME_BYTES_MIN;
          this.#deliver(conn, result.value);
        }
        this.metrics.frames.inc({ direction: "in" }, frames);
        this.metrics.bytes.inc({ direction: "in" }, bytes);
      }
    } finally {
      conn.draining = false;
    }
  }

  #deliver(conn: Connection, opened: Opened): void {
    if (opened.kind === KIND_PING) return;
    if (opened.kind === KIND_CONFIRM) {
      this.#end(
        conn,
        { kind: "disconnect", reason: "malformed", detail: `confirm frame ${opened.counter} after the handshake` },
        CLOSE_VIOLATION,
        "malformed",
      );
      return;
    }
    try {
      this.#onMessage(conn.peerId as string, opened.payload);
    } catch (error) {
      this.#log.error("onMessage handler failed", { err: error, peer: conn.peerId });
    }
  }

  // -------------------------------------------------------------------------
  // Housekeeping

  #startTick(): void {
    if (this.#tick !== undefined || this.#closing) return;
    const tickMs = Math.min(TICK_MS_MAX, Math.floor(this.limits.pingIntervalMs / 2));
    this.#tick = setInterval(() => this.#housekeeping(), Math.max(1, tickMs));
  }

  #housekeeping(): void {
    const nowMs = this.#now();
    for (const conn of this.#peers.values()) {
      if (nowMs - conn.lastReceiveMs > this.limits.idleTimeoutMs) {
        this.#end(
          conn,
          {
            kind: "disconnect",
            reason: "idle_timeout",
            detail: `nothing received for ${Math.round(nowMs - conn.lastReceiveMs)} ms`,
          },
          CLOSE_GOING_AWAY,
          "idle_timeout",
        );
      } else if (nowMs - conn.lastSendMs >= this.limits.pingIntervalMs && conn.outbox.length === 0) {
        conn.lastSendMs = nowMs;
        this.#enqueue(conn, KIND_PING, new Uint8Array(0));
      }
    }
  }
}
