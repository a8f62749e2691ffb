/**
 * The dialing side: the addresses this node keeps a connection to, each
 * dialed now and again with exponential backoff and jitter while its peer is
 * not connected, and the initiator's half of the handshake.
 */

import { toHex } from "../keys/mod.ts";
import { NoDelayWebSocket, type PeerSocket } from "./_ws.ts";
import { canonicalIp } from "./address.ts";
import { ChannelError, type Opened, type ReceiveCipher } from "./channel.ts";
import { Connection, describe, type DialTarget, type Ending } from "./connection.ts";
import { HANDSHAKE_FRAME_BYTES_MAX, KIND_CONFIRM, WS_PATH, WS_SUBPROTOCOL } from "./frame.ts";
import { checkConfirm, HandshakeError, InitiatorHandshake } from "./handshake.ts";
import type { SessionTable } from "./sessions.ts";

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

export class Dialer {
  readonly #t: SessionTable;
  readonly #jitter: () => number;
  readonly #targets = new Map<string, DialTarget>();

  constructor(table: SessionTable, jitter: () => number) {
    this.#t = table;
    this.#jitter = jitter;
  }

  /** Keeps a connection to `address` (see PeerTransport.connect). */
  connect(address: string, expectedPeerId?: string): void {
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
    // A validator this node dials by IP address gets reserved handshake slots from there too.
    const host = new URL(url).hostname;
    if (/^\[.*\]$|^\d+\.\d+\.\d+\.\d+$/.test(host)) this.#t.slots.learn(canonicalIp(host), url, this.#t.now());
    this.#dial(target);
  }

  /** Stops redialing `address`; an established session stays up. */
  forget(address: string): void {
    const target = this.#targets.get(peerUrl(address));
    if (target === undefined) return;
    clearTimeout(target.timer);
    this.#targets.delete(target.url);
  }

  /** Addresses this node keeps dialing. */
  targets(): string[] {
    return [...this.#targets.keys()].sort();
  }

  /** Stops every redial timer and forgets every address. */
  close(): void {
    for (const target of this.#targets.values()) clearTimeout(target.timer);
    this.#targets.clear();
  }

  /** The session table's hook: after a connection ended, redial what should be redialed. */
  ended(conn: Connection, ending: Ending, wasUp: boolean, peerGone: string | undefined): void {
    if (peerGone !== undefined) {
      // Addresses parked while this peer was connected another way are dialed again.
      for (const target of this.#targets.values()) {
        if (target.peerId === peerGone && target.conn === undefined) this.#scheduleDial(target);
      }
    }
    const target = conn.target;
    if (target === undefined || target.conn !== conn) return;
    target.conn = undefined;
    if (ending.kind === "handshake" && ending.reason === "self_connection") {
      // Discovery lists this node's own address too: stop dialing it.
      this.#targets.delete(target.url);
      this.#t.log.info("peer address is this node; not dialing it again", { remote: target.address });
      return;
    }
    if (wasUp && this.#t.now() - conn.upAtMs >= this.#t.limits.reconnectStableMs) target.attempt = 0;
    if (target.peerId === undefined || !this.#t.peers.has(target.peerId)) this.#scheduleDial(target);
  }

  #dial(target: DialTarget): void {
    const t = this.#t;
    target.timer = undefined;
    if (t.closing || this.#targets.get(target.url) !== target || target.conn !== undefined) return;
    // Already connected to whoever answers here (perhaps inbound): dial again when that session ends.
    if (target.peerId !== undefined && t.peers.has(target.peerId)) return;
    let ws: PeerSocket;
    try {
      // Until the responder has signed, nothing larger than a handshake frame is read.
      ws = new NoDelayWebSocket(target.url, [WS_SUBPROTOCOL], { messageBytesMax: HANDSHAKE_FRAME_BYTES_MAX });
    } catch (error) {
      t.metrics.dialFailures.inc();
      t.log.warn("peer dial failed", { remote: target.address, detail: describe(error) });
      this.#scheduleDial(target);
      return;
    }
    const conn = new Connection(ws, "initiator", target.address, target, t.limits, t.now());
    target.conn = conn;
    t.attach(conn);
    void this.#runInitiator(conn, target.expectedPeerId);
  }

  async #runInitiator(conn: Connection, expectedPeerId: string | undefined): Promise<void> {
    const t = this.#t;
    try {
      // Ephemeral keys are made while TCP and the WebSocket upgrade are in flight.
      const [handshake, isOpen] = await Promise.all([
        InitiatorHandshake.start(t.ctx, expectedPeerId),
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
      conn.ws.messageBytesMax = t.frameBytesMax;
      if (conn.target !== undefined) conn.target.peerId = session.peerId;
      if (conn.phase !== "handshake") return;
      await t.installSession(conn, session);
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
      if (conn.phase !== "handshake" || !t.admit(conn)) return;
      t.up(conn);
    } catch (error) {
      t.handshakeFailed(conn, error);
    }
  }

  #scheduleDial(target: DialTarget): void {
    const t = this.#t;
    if (t.closing || target.timer !== undefined || target.conn !== undefined) return;
    if (this.#targets.get(target.url) !== target) return;
    const capMs = Math.min(t.limits.reconnectMaxMs, t.limits.reconnectBaseMs * 2 ** Math.min(target.attempt, 30));
    const delayMs = Math.round(capMs / 2 + this.#jitter() * capMs / 2);
    target.attempt++;
    t.log.debug("peer redial scheduled", { remote: target.address, delayMs, attempt: target.attempt });
    target.timer = setTimeout(() => this.#dial(target), delayMs);
  }
}
