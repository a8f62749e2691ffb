/**
 * The listening side: accepts TCP connections, takes a handshake slot for each
 * (handshake_slots.ts: open slots in all and per IP address, starts per second,
 * and slots reserved for known validators) before reading a byte, reads the
 * WebSocket upgrade and runs the responder's half of the handshake, all within
 * the handshake time counted from the accept.
 */

import { toHex } from "../keys/mod.ts";
import { ServerWebSocket } from "./_ws.ts";
import { readUpgradeRequest, refuseUpgrade } from "./_ws_http.ts";
import { canonicalIp, formatAddress } from "./address.ts";
import type { SendCipher } from "./channel.ts";
import { Connection, delay, describe, type Timer } from "./connection.ts";
import { HANDSHAKE_FRAME_BYTES_MAX, KIND_CONFIRM, WS_PATH, WS_SUBPROTOCOL } from "./frame.ts";
import { HandshakeError, type HandshakeFailure, type ReplayCache, ResponderHandshake } from "./handshake.ts";
import { type HandshakeSlot, isSlot } from "./handshake_slots.ts";
import type { SessionTable } from "./sessions.ts";

/** Pause after a failed accept() (e.g. no file descriptors left) before trying again. */
const ACCEPT_RETRY_MS = 100;

export class Inbound {
  readonly #t: SessionTable;
  readonly #replays: ReplayCache;
  #listener: Deno.TcpListener | undefined;
  #acceptLoop: Promise<void> | undefined;
  /** Accepted TCP connections still sending their upgrade request, with their deadline timers. */
  readonly #upgrading = new Map<Deno.TcpConn, Timer>();

  constructor(table: SessionTable, replays: ReplayCache) {
    this.#t = table;
    this.#replays = replays;
  }

  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /** Starts accepting on hostname:port (port 0 picks one); returns the bound address. */
  listen(hostname: string, port: number): Deno.NetAddr {
    const listener = Deno.listen({ hostname, port });
    this.#listener = listener;
    this.#acceptLoop = this.#accept(listener);
    return listener.addr;
  }

  /** Stops accepting and drops connections still in their upgrade; established ones are the table's. */
  async close(): Promise<void> {
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
  }

  /** Accepts TCP connections until the listener is closed. */
  async #accept(listener: Deno.TcpListener): Promise<void> {
    // Bounded by the listener's life: close() closes it, and accept() then rejects.
    while (!this.#t.closing) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#t.closing || error instanceof Deno.errors.BadResource) return;
        this.#t.log.error("peer listener accept failed", { err: error });
        await delay(ACCEPT_RETRY_MS); // e.g. out of file descriptors: do not spin
        continue;
      }
      void this.#onTcp(conn);
    }
  }

  /**
   * A handshake slot, then the WebSocket upgrade, then the handshake, all within
   * handshakeTimeoutMs of the accept. Nothing is read before the slot is taken.
   */
  async #onTcp(conn: Deno.TcpConn): Promise<void> {
    const t = this.#t;
    const acceptedAtMs = t.now();
    const remote = formatAddress(conn.remoteAddr);
    const ip = canonicalIp(conn.remoteAddr.hostname);
    if (t.closing) return await refuseUpgrade(conn, 503, "shutting down");
    conn.setNoDelay(true);
    const slot = t.slots.take(ip, acceptedAtMs);
    if (!isSlot(slot)) {
      this.#refusedBeforeUpgrade(slot.reason, slot.detail, remote);
      return await refuseUpgrade(conn, slot.reason === "rate_limited" ? 429 : 503, "too many handshakes");
    }
    // The slot is held from here until the session is up or the connection ends.
    this.#countSlots();
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
      }, t.limits.handshakeTimeoutMs),
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
      this.releaseSlot(slot);
      this.#refusedBeforeUpgrade(reason, detail, remote);
      await refuseUpgrade(conn, status, reason);
    };
    if (upgrade === undefined) {
      if (timedOut) return await refuse("timeout", "no upgrade request in time", 408);
      if (t.closing) return await refuse("connection_closed", "transport closing", 503);
      return await refuse("malformed", `upgrade request: ${describe(failure)}`, 400);
    }
    if ("status" in upgrade) return await refuse("malformed", upgrade.why, upgrade.status);
    if (upgrade.request.path !== WS_PATH) return await refuse("malformed", `path ${upgrade.request.path}`, 404);
    if (!upgrade.request.protocols.includes(WS_SUBPROTOCOL)) {
      return await refuse("malformed", `subprotocol ${WS_SUBPROTOCOL} not offered`, 400);
    }
    if (t.closing) return await refuse("connection_closed", "transport closing", 503);
    const socket = new ServerWebSocket(conn, upgrade.request, WS_SUBPROTOCOL, upgrade.rest, HANDSHAKE_FRAME_BYTES_MAX);
    const connection = new Connection(socket, "responder", remote, undefined, t.limits, t.now());
    connection.inboundSlot = slot;
    // What is left of the handshake time: a slow upgrade does not earn a second full period.
    t.attach(connection, Math.max(0, acceptedAtMs + t.limits.handshakeTimeoutMs - t.now()));
    void this.#runResponder(connection);
  }

  /** Gives back a handshake slot (the session is up, or the connection ended). */
  releaseSlot(slot: HandshakeSlot): void {
    this.#t.slots.release(slot);
    this.#countSlots();
  }

  #countSlots(): void {
    const inFlight = this.#t.slots.inFlight;
    this.#t.metrics.handshakesInFlight.set({ pool: "open" }, inFlight.open);
    this.#t.metrics.handshakesInFlight.set({ pool: "reserved" }, inFlight.reserved);
  }

  #refusedBeforeUpgrade(reason: HandshakeFailure, detail: string, remote: string): void {
    this.#t.metrics.handshakeFailures.inc({ reason });
    this.#t.peerWarning("peer refused", { reason, detail, remote, role: "responder" });
  }

  async #runResponder(conn: Connection): Promise<void> {
    const t = this.#t;
    const handshake = new ResponderHandshake(t.ctx, this.#replays);
    try {
      const reply = await handshake.onHello(await conn.next());
      conn.peerId = handshake.claimedPeerId;
      if (conn.phase !== "handshake") return;
      conn.ws.send(reply);
      const session = await handshake.onFinish(await conn.next());
      conn.proven = true;
      conn.ws.messageBytesMax = t.frameBytesMax;
      await t.installSession(conn, session);
      // The confirm frame carries our token MAC; sealed before the (synchronous) admission below.
      const confirm = await (conn.sendCipher as SendCipher).seal(KIND_CONFIRM, session.confirmMac);
      if (conn.phase !== "handshake") return;
      if (!t.admit(conn)) return;
      conn.ws.send(confirm);
      t.up(conn);
    } catch (error) {
      conn.peerId ??= handshake.claimedPeerId;
      if (error instanceof HandshakeError && error.reason === "self_connection" && handshake.helloNonce) {
        t.rememberSelfHello(toHex(handshake.helloNonce), conn.remote);
      }
      t.handshakeFailed(conn, error);
    }
  }
}
