/**
 * The data path of an established session: the bounded send queue, the pump
 * that encrypts and sends it in order (holding back while the socket's own
 * buffer is full), and the drain that decrypts received frames in order and
 * hands application messages to the handler, as fast as the peer's budget
 * for the work they cause allows (peer_budget.ts).
 */

import { ChannelError, type Opened, type ReceiveCipher, type SendCipher } from "./channel.ts";
import {
  CLOSE_GOING_AWAY,
  CLOSE_VIOLATION,
  type Connection,
  delay,
  describe,
  type DisconnectReason,
} from "./connection.ts";
import { DATA_FRAME_BYTES_MIN, type FrameKind, KIND_CONFIRM, KIND_PING } from "./frame.ts";
import type { SessionTable } from "./sessions.ts";

export type SendResult = "queued" | "unknown_peer" | "queue_full" | "too_large" | "closed";

/** Frames encrypted or decrypted per batch; WebCrypto runs a batch's operations concurrently. */
const CRYPTO_BATCH_MAX = 64;
/** How often a sender blocked by a full socket buffer looks again. */
const BACKPRESSURE_POLL_MS = 5;

/** Counts a message send() or broadcast() did not queue, and says why. */
export function dropped(t: SessionTable, reason: Exclude<SendResult, "queued">): SendResult {
  t.metrics.sendDropped.inc({ reason });
  return reason;
}

export function enqueue(t: SessionTable, conn: Connection, kind: FrameKind, payload: Uint8Array): SendResult {
  if (conn.phase !== "up") return dropped(t, "unknown_peer");
  if (
    conn.outbox.length >= t.limits.sendQueueFramesMax ||
    conn.outboxBytes + payload.length > t.limits.sendQueueBytesMax
  ) {
    return dropped(t, "queue_full");
  }
  conn.outbox.push({ kind, payload });
  conn.outboxBytes += payload.length;
  kickPump(t, conn);
  return "queued";
}

export function kickPump(t: SessionTable, conn: Connection): void {
  if (conn.pumpActive || conn.phase !== "up" || conn.outbox.length === 0) return;
  // pump() clears pumpActive itself, synchronously as it returns, so no send() can find it stale.
  conn.pumpActive = true;
  conn.pumping = pump(t, conn);
}

/** Encrypts and sends the queue in order, in batches, holding back while the socket's own buffer is full. */
async function pump(t: SessionTable, conn: Connection): Promise<void> {
  const cipher = conn.sendCipher as SendCipher;
  try {
    while (conn.phase === "up" && conn.outbox.length > 0) {
      if (conn.ws.bufferedAmount > t.limits.socketBufferedBytesHigh) {
        const nowMs = t.now();
        if (conn.stalledSinceMs === 0) conn.stalledSinceMs = nowMs;
        if (nowMs - conn.stalledSinceMs > t.limits.sendStallTimeoutMs) {
          t.end(
            conn,
            {
              kind: "disconnect",
              reason: "send_stalled",
              detail: `socket buffer above ${t.limits.socketBufferedBytesHigh} bytes for ${
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
        // Sealed for this peer alone: the socket may mask it in place.
        conn.ws.sendOwned(frame);
        bytes += frame.length;
      }
      t.metrics.frames.inc({ direction: "out" }, frames.length);
      t.metrics.bytes.inc({ direction: "out" }, bytes);
      conn.lastSendMs = t.now();
    }
  } catch (error) {
    const reason: DisconnectReason = error instanceof ChannelError && error.reason === "exhausted"
      ? "exhausted"
      : "internal";
    t.end(conn, { kind: "disconnect", reason, detail: describe(error) }, CLOSE_GOING_AWAY, reason);
  } finally {
    conn.pumpActive = false;
  }
}

/** Decrypts received frames in order, in batches, and hands application messages to the handler. */
export async function drain(t: SessionTable, conn: Connection): Promise<void> {
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
          t.end(conn, { kind: "disconnect", reason, detail: describe(error) }, CLOSE_VIOLATION, reason);
          return;
        }
        frames++;
        bytes += result.value.payload.length + DATA_FRAME_BYTES_MIN;
        deliver(t, conn, result.value);
      }
      t.metrics.frames.inc({ direction: "in" }, frames);
      t.metrics.bytes.inc({ direction: "in" }, bytes);
    }
  } finally {
    conn.draining = false;
  }
}

function deliver(t: SessionTable, conn: Connection, opened: Opened): void {
  if (opened.kind === KIND_PING) return;
  if (opened.kind === KIND_CONFIRM) {
    t.end(
      conn,
      { kind: "disconnect", reason: "malformed", detail: `confirm frame ${opened.counter} after the handshake` },
      CLOSE_VIOLATION,
      "malformed",
    );
    return;
  }
  hold(t, conn, opened.payload);
  release(t, conn);
}

/** Queues an application message behind those held; drops it if too many of its kind are held already. */
function hold(t: SessionTable, conn: Connection, payload: Uint8Array): void {
  const cost = t.classify(payload);
  if (cost !== null) {
    if (conn.heldByWork[cost.work] >= t.budget.limits[cost.work].heldMax) {
      t.metrics.budgetExceeded.inc({ work: cost.work, outcome: "dropped" });
      return;
    }
    conn.heldByWork[cost.work]++;
  }
  conn.held.push({ payload, cost, counted: false });
  conn.heldBytes += payload.length;
}

/** Hands held messages on, in order, while the peer's budget pays for them; else waits for it. */
function release(t: SessionTable, conn: Connection): void {
  while (conn.phase === "up" && conn.held.length > 0 && conn.releaseTimer === undefined) {
    const next = conn.held[0];
    if (next.cost !== null) {
      const waitMs = t.budget.take(conn.peerId as string, next.cost, t.now());
      if (waitMs > 0) {
        if (!next.counted) {
          next.counted = true;
          t.metrics.budgetExceeded.inc({ work: next.cost.work, outcome: "held" });
        }
        conn.releaseTimer = setTimeout(() => {
          conn.releaseTimer = undefined;
          release(t, conn);
        }, waitMs);
        return;
      }
      conn.heldByWork[next.cost.work]--;
    }
    conn.held.shift();
    conn.heldBytes -= next.payload.length;
    try {
      t.onMessage(conn.peerId as string, next.payload);
    } catch (error) {
      t.log.error("onMessage handler failed", { err: error, peer: conn.peerId });
    }
  }
}
