/**
 * The transport's limits: every bound on peers, handshakes, messages, queues,
 * rates and timers, with their defaults and the checks that keep them
 * consistent, and the token bucket that enforces the rates.
 */

export interface TransportLimits {
  /** Authenticated sessions at once. */
  peersMax: number;
  /** Inbound connections still in their handshake (open slots: anyone), in all and from one IP address. */
  handshakesInFlightMax: number;
  handshakesInFlightPerAddressMax: number;
  /** Inbound handshakes started per second in open slots (token bucket), and the burst allowed. */
  handshakesPerSecond: number;
  handshakeBurst: number;
  /**
   * Slots beyond the open ones, per validator known at an address (it authenticated
   * from there, or this node dials it there), and that address's handshakes per
   * second per validator: validators get in while strangers hold every open slot
   * (handshake_slots.ts).
   */
  handshakesReservedPerValidator: number;
  handshakesReservedPerValidatorPerSecond: number;
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
  handshakesReservedPerValidator: 2,
  handshakesReservedPerValidatorPerSecond: 1,
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

function positiveLimit(limits: TransportLimits, name: keyof TransportLimits): void {
  const v = limits[name];
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`transport limit ${name} = ${v} is invalid: expected > 0`);
}

/** The defaults overridden by `partial`, checked and frozen. */
export function resolveLimits(partial: Partial<TransportLimits> | undefined): TransportLimits {
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

/** `perSecond` tokens a second up to `burst`; time comes from the caller. */
export class TokenBucket {
  #tokens: number;
  #lastMs: number;
  constructor(readonly perSecond: number, readonly burst: number, nowMs: number) {
    this.#tokens = burst;
    this.#lastMs = nowMs;
  }
  take(n: number, nowMs: number): boolean {
    this.#refill(nowMs);
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
  /** Tokens there now. */
  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }
  #refill(nowMs: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + (nowMs - this.#lastMs) * this.perSecond / 1000);
    this.#lastMs = nowMs;
  }
}
