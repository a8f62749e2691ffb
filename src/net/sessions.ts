/**
 * What both directions share: the table of connections and authenticated
 * sessions, a connection's life from attach to end (frames in, admission,
 * session up, the one place a connection ends), and the rate-limited peer
 * warnings. The dialer and the inbound side hook in to redial and to free
 * handshake slots; the pump (pump.ts) moves the data.
 */

import type { Logger } from "../log/mod.ts";
import { canonicalIp, formatAddress } from "./address.ts";
import { ReceiveCipher, SendCipher } from "./channel.ts";
import {
  CLOSE_DUPLICATE,
  CLOSE_REFUSED,
  CLOSE_VIOLATION,
  Connection,
  ConnectionEnded,
  describe,
  type DisconnectReason,
  type Ending,
  type PeerInfo,
  VIOLATIONS,
} from "./connection.ts";
import { HANDSHAKE_FRAME_BYTES_MAX } from "./frame.ts";
import { type HandshakeContext, HandshakeError, type Session } from "./handshake.ts";
import { type HandshakeSlot, HandshakeSlots } from "./handshake_slots.ts";
import { TokenBucket, type TransportLimits } from "./limits.ts";
import type { PeerBudget, WorkCost } from "./peer_budget.ts";
import { messageCost } from "./protocol.ts";
import type { TransportMetrics } from "./metrics.ts";
import { drain, kickPump } from "./pump.ts";

/**
 * Warnings about refused or misbehaving peers, per second and burst: an attacker
 * opening connections in a loop must not fill the disk. Metrics count every one;
 * the next warning written says how many were left out.
 */
const PEER_WARNINGS_PER_SECOND = 20;
const PEER_WARNINGS_BURST = 100;
/** Hello nonces remembered to recognize self-dials (one per address of this node is plenty). */
const SELF_HELLOS_MAX = 64;

export type MessageHandler = (peerId: string, message: Uint8Array) => void;
export type PeerUpHandler = (peer: PeerInfo) => void;
export type PeerDownHandler = (peerId: string, reason: DisconnectReason) => void;

/** How the dialer and the inbound side learn about a connection's end. */
export interface SessionHooks {
  /** An inbound connection gives back its handshake slot. */
  releaseSlot(slot: HandshakeSlot): void;
  /** After `conn` ended (and, when it was a session, after onPeerDown): decide about its address. */
  ended(conn: Connection, ending: Ending, wasUp: boolean, peerGone: string | undefined): void;
}

export class SessionTable {
  readonly peers = new Map<string, Connection>();
  readonly connections = new Set<Connection>();
  /**
   * Hellos in our own name that our listener refused, as "nonce@remote address",
   * newest last; bounded. A dial of ours whose hello is here, from the very
   * socket address that dial used, reached this node itself.
   */
  readonly #selfHellos: string[] = [];
  readonly frameBytesMax: number;
  /** Inbound handshake slots; validators' addresses are learned here as sessions come up. */
  readonly slots: HandshakeSlots;
  /** Per-peer budgets for the work peers' messages cause; `classify` prices a message. */
  readonly budget: PeerBudget;
  readonly classify: (message: Uint8Array) => WorkCost | null = messageCost;
  closing = false;
  hooks: SessionHooks = { releaseSlot: () => {}, ended: () => {} };
  onMessage: MessageHandler = () => {};
  onPeerUp: PeerUpHandler = () => {};
  onPeerDown: PeerDownHandler = () => {};

  readonly #warningBucket: TokenBucket;
  #warningsSuppressed = 0;

  constructor(
    readonly id: string,
    readonly ctx: HandshakeContext,
    readonly limits: TransportLimits,
    readonly metrics: TransportMetrics,
    readonly log: Logger,
    readonly now: () => number,
    frameBytesMax: number,
    budget: PeerBudget,
  ) {
    this.budget = budget;
    this.frameBytesMax = frameBytesMax;
    this.slots = new HandshakeSlots(limits, now());
    this.#warningBucket = new TokenBucket(PEER_WARNINGS_PER_SECOND, PEER_WARNINGS_BURST, now());
  }

  /** A warning about a peer, rate-limited (see PEER_WARNINGS_PER_SECOND). */
  peerWarning(msg: string, fields: Record<string, unknown>): void {
    if (!this.#warningBucket.take(1, this.now())) {
      this.#warningsSuppressed++;
      return;
    }
    const suppressed = this.#warningsSuppressed;
    this.#warningsSuppressed = 0;
    this.log.warn(msg, suppressed > 0 ? { ...fields, suppressed } : fields);
  }

  /** Remembers a hello in this node's own name, refused by our listener, and the address it came from. */
  rememberSelfHello(nonceHex: string, remote: string): void {
    this.#selfHellos.push(`${nonceHex}@${remote}`);
    if (this.#selfHellos.length > SELF_HELLOS_MAX) this.#selfHellos.shift();
  }

  /**
   * Whether `conn`, a dial of ours, reached this node itself: our listener got
   * its hello over a TCP connection from the dial's own socket address. The
   * nonce alone proves nothing: whoever we dial sees our hello and may relay it
   * to our listener; it cannot make the relayed copy come from our socket.
   */
  #dialedSelf(conn: Connection): boolean {
    const local = conn.ws.localAddr;
    return conn.helloNonce !== undefined && local !== undefined &&
      this.#selfHellos.includes(`${conn.helloNonce}@${formatAddress(local)}`);
  }

  /** Takes `conn` into the table; it must be a session within `handshakeTimeoutMs` (the limit by default). */
  attach(conn: Connection, handshakeTimeoutMs = this.limits.handshakeTimeoutMs): void {
    this.connections.add(conn);
    conn.ws.binaryType = "arraybuffer";
    conn.ws.onopen = () => {
      conn.opened = true;
      conn.openWaiter?.(conn.phase !== "closed");
      conn.openWaiter = undefined;
    };
    conn.ws.onmessage = (event: MessageEvent) => this.#onFrame(conn, event.data);
    conn.ws.onbytes = (payload: Uint8Array) => this.#onFrame(conn, payload);
    conn.ws.onerror = () => {
      // A close event always follows; it carries what there is to know.
    };
    conn.ws.onclose = (event: CloseEvent) => this.#onSocketClosed(conn, event);
    conn.handshakeTimer = setTimeout(() => {
      conn.handshakeTimer = undefined;
      if (conn.phase === "handshake") {
        this.end(
          conn,
          {
            kind: "handshake",
            reason: "timeout",
            detail: `no session within ${this.limits.handshakeTimeoutMs} ms`,
          },
          CLOSE_REFUSED,
          "timeout",
        );
      }
    }, handshakeTimeoutMs);
  }

  #onFrame(conn: Connection, data: unknown): void {
    if (conn.phase === "closed") return;
    const frame = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;
    if (frame === null) return this.violation(conn, "malformed", "text message");
    const nowMs = this.now();
    if (!conn.proven) {
      // Before the peer has signed anything it may send exactly one handshake frame at a time.
      if (frame.length > HANDSHAKE_FRAME_BYTES_MAX) {
        return this.violation(
          conn,
          "oversized",
          `${frame.length}-byte frame during the handshake (max ${HANDSHAKE_FRAME_BYTES_MAX})`,
        );
      }
      if (conn.inbox.length > 0) return this.violation(conn, "malformed", "unexpected frame during the handshake");
    } else {
      if (frame.length > this.frameBytesMax) {
        return this.violation(conn, "oversized", `${frame.length}-byte frame (max ${this.frameBytesMax})`);
      }
      if (!conn.frameBucket.take(1, nowMs) || !conn.byteBucket.take(frame.length, nowMs)) {
        return this.violation(
          conn,
          "flood",
          `over ${this.limits.floodFramesPerSecond} frames/s or ${this.limits.floodBytesPerSecond} bytes/s`,
        );
      }
      // Held messages (the peer is over its budget) count too: a peer that keeps sending while held floods.
      const frames = conn.inbox.length + conn.held.length;
      const bytes = conn.inboxBytes + conn.heldBytes;
      if (frames >= this.limits.inboxFramesMax || bytes + frame.length > this.limits.inboxBytesMax) {
        return this.violation(conn, "flood", `inbox full (${frames} frames, ${bytes} bytes, ${conn.held.length} held)`);
      }
    }
    conn.inbox.push(frame);
    conn.inboxBytes += frame.length;
    conn.lastReceiveMs = nowMs;
    if (conn.phase === "up") void drain(this, conn);
    else conn.wake();
  }

  violation(conn: Connection, reason: "malformed" | "oversized" | "flood", detail: string): void {
    if (conn.phase === "up") {
      this.end(conn, { kind: "disconnect", reason, detail }, CLOSE_VIOLATION, reason);
    } else {
      this.end(conn, { kind: "handshake", reason, detail }, CLOSE_REFUSED, reason);
    }
  }

  async installSession(conn: Connection, session: Session): Promise<void> {
    const [sendCipher, receiveCipher] = await Promise.all([
      SendCipher.create(session.sendKey, this.ctx.backend.aes256Gcm),
      ReceiveCipher.create(session.receiveKey, this.frameBytesMax, this.ctx.backend.aes256Gcm),
    ]);
    conn.session = session;
    conn.sendCipher = sendCipher;
    conn.receiveCipher = receiveCipher;
  }

  /** Peer-table admission, synchronous so two sessions of one peer cannot both get in. */
  admit(conn: Connection): boolean {
    const peerId = conn.peerId as string;
    const existing = this.peers.get(peerId);
    if (existing !== undefined) {
      const dialerOf = (c: Connection) => c.role === "initiator" ? this.id : c.peerId as string;
      const keepNew = dialerOf(existing) === dialerOf(conn) || dialerOf(conn) < dialerOf(existing);
      const loser = keepNew ? existing : conn;
      this.end(
        loser,
        { kind: "disconnect", reason: "duplicate", detail: `another session with ${peerId.slice(0, 16)}` },
        CLOSE_DUPLICATE,
        "duplicate",
      );
      if (!keepNew) return false;
    } else if (this.peers.size >= this.limits.peersMax) {
      this.end(
        conn,
        { kind: "handshake", reason: "peer_limit", detail: `${this.peers.size} peers connected` },
        CLOSE_REFUSED,
        "peer_limit",
      );
      return false;
    }
    return true;
  }

  up(conn: Connection): void {
    const session = conn.session as Session;
    conn.phase = "up";
    conn.upAtMs = this.now();
    conn.lastReceiveMs = conn.upAtMs;
    conn.lastSendMs = conn.upAtMs;
    clearTimeout(conn.handshakeTimer);
    conn.handshakeTimer = undefined;
    this.#leaveHandshake(conn);
    this.peers.set(session.peerId, conn);
    if (conn.target !== undefined) conn.target.peerId = session.peerId;
    // The validator proved itself from this address: its later handshakes from there get reserved slots.
    const remote = conn.ws.remoteAddr;
    if (remote !== undefined) this.slots.learn(canonicalIp(remote.hostname), session.peerId, conn.upAtMs);
    this.metrics.handshakes.inc({ role: conn.role });
    this.metrics.peers.set({}, this.peers.size);
    this.log.info("peer connected", {
      peer: session.peerId,
      remote: conn.remote,
      role: conn.role,
      session: session.sessionId,
    });
    try {
      this.onPeerUp(conn.info());
    } catch (error) {
      this.log.error("onPeerUp handler failed", { err: error, peer: session.peerId });
    }
    if (conn.inbox.length > 0) void drain(this, conn);
    kickPump(this, conn);
  }

  #leaveHandshake(conn: Connection): void {
    const slot = conn.inboundSlot;
    if (slot === undefined) return;
    conn.inboundSlot = undefined;
    this.hooks.releaseSlot(slot);
  }

  handshakeFailed(conn: Connection, error: unknown): void {
    if (conn.phase === "closed" || error instanceof ConnectionEnded) return;
    if (error instanceof HandshakeError) {
      this.end(conn, { kind: "handshake", reason: error.reason, detail: error.message }, CLOSE_REFUSED, error.reason);
    } else {
      this.log.error("peer handshake error", { err: error, remote: conn.remote });
      this.end(conn, { kind: "handshake", reason: "internal", detail: describe(error) }, CLOSE_REFUSED, "internal");
    }
  }

  #onSocketClosed(conn: Connection, event: CloseEvent): void {
    this.connections.delete(conn);
    conn.resolveClosed();
    if (conn.phase === "closed") return;
    const detail = `closed by peer (${event.code}${event.reason ? ` ${event.reason}` : ""})`;
    const violation = conn.ws.protocolError;
    if (violation !== undefined) {
      // Our socket refused a frame from its header (too large), its framing, or a ping flood.
      const reason = violation.code === 1009 ? "oversized" : violation.code === 1008 ? "flood" : "malformed";
      this.violation(conn, reason, violation.detail);
    } else if (conn.phase === "up") {
      this.end(conn, { kind: "disconnect", reason: "remote_closed", detail });
    } else if (!conn.opened && conn.role === "initiator") {
      this.end(conn, { kind: "dial_failed", detail: `could not connect (${event.code})` });
    } else if (event.code === CLOSE_DUPLICATE) {
      this.end(conn, { kind: "quiet", detail: "peer keeps another session with us" });
    } else if (event.code === CLOSE_REFUSED && event.reason === "self_connection" && this.#dialedSelf(conn)) {
      // Our own listener refused our own hello, sent from this very dial: this address is this node.
      this.end(conn, { kind: "handshake", reason: "self_connection", detail: "dialed this node's own address" });
    } else if (event.code >= 4000 && event.code < 5000) {
      this.end(conn, { kind: "handshake", reason: "remote_refused", detail: `peer refused us: ${event.reason}` });
    } else {
      this.end(conn, { kind: "handshake", reason: "connection_closed", detail });
    }
  }

  /** The one place a connection ends: counts, logs, closes the socket, updates the table and redials. */
  end(conn: Connection, ending: Ending, closeCode = 1000, closeReason = ""): void {
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
    conn.dropHeld();
    this.#report(conn, ending);

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
      this.connections.delete(conn);
      conn.resolveClosed();
    }

    let peerGone: string | undefined;
    if (wasUp && this.peers.get(conn.peerId as string) === conn) {
      const peerId = conn.peerId as string;
      this.peers.delete(peerId);
      this.metrics.peers.set({}, this.peers.size);
      const reason = ending.kind === "disconnect" ? ending.reason : "internal";
      try {
        this.onPeerDown(peerId, reason);
      } catch (error) {
        this.log.error("onPeerDown handler failed", { err: error, peer: peerId });
      }
      peerGone = peerId;
    }
    this.hooks.ended(conn, ending, wasUp, peerGone);
  }

  /** The metric and the log line of an ending. */
  #report(conn: Connection, ending: Ending): void {
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
        if (ending.reason === "connection_closed") this.log.info("peer handshake aborted", fields);
        else this.peerWarning("peer refused", fields);
        break;
      case "disconnect":
        this.metrics.disconnects.inc({ reason: ending.reason });
        if (VIOLATIONS.has(ending.reason)) this.peerWarning("peer disconnected", fields);
        else this.log.info("peer disconnected", fields);
        break;
      case "dial_failed":
        this.metrics.dialFailures.inc();
        this.log.debug("peer dial failed", fields);
        break;
      case "quiet":
        this.log.debug("peer connection closed", fields);
        break;
    }
  }
}
