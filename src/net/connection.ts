/**
 * One peer connection, either direction, from the WebSocket upgrade to its
 * end: its phase, the session and ciphers once the handshake is done, the
 * inbox of received frames and the outbox of frames to send, and the flood
 * buckets. The transport's other parts change it; it holds no policy.
 */

import type { PeerSocket } from "./_ws.ts";
import type { ReceiveCipher, SendCipher } from "./channel.ts";
import { dataFrameBytesMax, type FrameKind } from "./frame.ts";
import type { HandshakeFailure, Session } from "./handshake.ts";
import type { HandshakeSlot } from "./handshake_slots.ts";
import { TokenBucket, type TransportLimits } from "./limits.ts";
import type { PeerWork, WorkCost } from "./peer_budget.ts";

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

/** The disconnect reasons that are the peer's fault (logged as warnings). */
export const VIOLATIONS: ReadonlySet<string> = new Set(["tampered", "counter", "malformed", "oversized", "flood"]);

/** WebSocket close codes: 4001 refused in the handshake, 4002 protocol violation, 4003 duplicate session. */
export const CLOSE_REFUSED = 4001;
export const CLOSE_VIOLATION = 4002;
export const CLOSE_DUPLICATE = 4003;
export const CLOSE_GOING_AWAY = 1001;

export interface PeerInfo {
  readonly peerId: string;
  /** "initiator" when this node dialed. */
  readonly role: "initiator" | "responder";
  readonly remote: string;
  readonly sessionId: string;
  readonly connectedAtMs: number;
  readonly queuedFrames: number;
}

export type Timer = ReturnType<typeof setTimeout>;

/** Rejects a handshake step's wait when its connection ends. */
export class ConnectionEnded extends Error {
  constructor() {
    super("connection ended");
    this.name = "ConnectionEnded";
  }
}

/** An address this node keeps dialing (see dialer.ts). */
export interface DialTarget {
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

/** A decrypted application message waiting for its peer's budget. */
export interface Held {
  readonly payload: Uint8Array;
  readonly cost: WorkCost | null;
  /** Counted in qudag_p2p_peer_budget_exceeded_total already. */
  counted: boolean;
}

export interface Outgoing {
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

/** How a connection ended; decides the metric, the log line and what happens to its dial target. */
export type Ending =
  | { kind: "handshake"; reason: HandshakeFailure; detail: string }
  | { kind: "disconnect"; reason: DisconnectReason; detail: string }
  | { kind: "dial_failed"; detail: string }
  | { kind: "quiet"; detail: string };

export class Connection {
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
  /** Set while this inbound connection holds a handshake slot. */
  inboundSlot: HandshakeSlot | undefined;
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

  /**
   * Application messages decrypted but not handed on: the peer is over its
   * budget (peer_budget.ts). In order; counted with the inbox against its bounds.
   */
  readonly held: Held[] = [];
  heldBytes = 0;
  /** Held messages per kind of work, for the per-kind bound. */
  readonly heldByWork: Record<PeerWork, number> = { answer: 0, verify: 0, serve: 0 };
  /** Set while waiting for the budget to hand on the first held message. */
  releaseTimer: Timer | undefined;

  readonly outbox: Outgoing[] = [];
  outboxBytes = 0;
  /** A pump is running; set and cleared synchronously. */
  pumpActive = false;
  /** The last pump, for close() to await. */
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

  /** Forgets held messages and stops waiting for the budget (the connection ended). */
  dropHeld(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = undefined;
    this.held.length = 0;
    this.heldBytes = 0;
    this.heldByWork.answer = this.heldByWork.verify = this.heldByWork.serve = 0;
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

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
