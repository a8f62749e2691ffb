/**
 * Who may start an inbound handshake now. Before its hello an inbound
 * connection is anonymous, so anyone can hold the open slots: a few addresses
 * holding `handshakesInFlightPerAddressMax` slots each fill all of them. Every
 * validator therefore also has slots of its own: connections from an address a
 * validator has authenticated from before (or that this node dials) take them
 * first, up to `handshakesReservedPerValidator` per validator known there, with
 * a rate of their own; only when those are taken do they compete for the open
 * slots like anyone else. A hostile address can only fill the open slots and
 * the reserve of validators at its own address.
 *
 * Pure: time comes from the caller.
 */

import type { HandshakeFailure } from "./handshake.ts";
import { TokenBucket } from "./limits.ts";

export interface HandshakeSlotLimits {
  /** Open slots: any address. */
  readonly handshakesInFlightMax: number;
  /** Open slots one address may hold. */
  readonly handshakesInFlightPerAddressMax: number;
  /** Open slots taken per second, and the burst. */
  readonly handshakesPerSecond: number;
  readonly handshakeBurst: number;
  /** Reserved slots per validator known at an address; that address's handshakes per second and burst, likewise. */
  readonly handshakesReservedPerValidator: number;
  readonly handshakesReservedPerValidatorPerSecond: number;
}

/** A slot an inbound connection holds until its session is up or it ends. */
export interface HandshakeSlot {
  readonly address: string;
  readonly pool: "open" | "reserved";
}

export type SlotRefusal = {
  readonly reason: Extract<HandshakeFailure, "handshake_limit" | "rate_limited">;
  detail: string;
};

/** Addresses remembered as validators' (a validator reached from several addresses counts at each). */
export const KNOWN_ADDRESSES_MAX = 4_096;

interface Known {
  readonly validators: Set<string>;
  bucket: TokenBucket;
  reservedInFlight: number;
}

export class HandshakeSlots {
  readonly #limits: HandshakeSlotLimits;
  readonly #openBucket: TokenBucket;
  #openInFlight = 0;
  #reservedInFlight = 0;
  /** Open slots held per address; entries are deleted at zero. */
  readonly #openByAddress = new Map<string, number>();
  /** Validators' addresses, oldest first (Map order), bounded by KNOWN_ADDRESSES_MAX. */
  readonly #known = new Map<string, Known>();

  constructor(limits: HandshakeSlotLimits, nowMs: number) {
    this.#limits = limits;
    this.#openBucket = new TokenBucket(limits.handshakesPerSecond, limits.handshakeBurst, nowMs);
  }

  /** Slots held now, by pool. */
  get inFlight(): { open: number; reserved: number } {
    return { open: this.#openInFlight, reserved: this.#reservedInFlight };
  }

  /**
   * Remembers that validator `who` is at `address` (an IP address): it
   * authenticated from there, or this node dials it there (`who` is then the
   * dial target). Refreshes the address's place in the bounded memory.
   */
  learn(address: string, who: string, nowMs: number): void {
    let known = this.#known.get(address);
    if (known === undefined) {
      known = { validators: new Set(), bucket: this.#bucketFor(1, nowMs), reservedInFlight: 0 };
    } else {
      this.#known.delete(address);
    }
    this.#known.set(address, known);
    if (!known.validators.has(who)) {
      known.validators.add(who);
      known.bucket = this.#bucketFor(known.validators.size, nowMs);
    }
    while (this.#known.size > KNOWN_ADDRESSES_MAX) {
      const [oldest, entry] = this.#known.entries().next().value!;
      if (entry.reservedInFlight > 0) break; // in use; trimmed once its handshakes end
      this.#known.delete(oldest);
    }
  }

  /** Whether a validator is known at `address`. */
  isKnown(address: string): boolean {
    return this.#known.has(address);
  }

  /** A slot for a new connection from `address`, or why there is none. */
  take(address: string, nowMs: number): HandshakeSlot | SlotRefusal {
    const known = this.#known.get(address);
    if (known !== undefined) {
      const reservedMax = this.#limits.handshakesReservedPerValidator * known.validators.size;
      if (known.reservedInFlight < reservedMax && known.bucket.take(1, nowMs)) {
        known.reservedInFlight++;
        this.#reservedInFlight++;
        return { address, pool: "reserved" };
      }
    }
    if (this.#openInFlight >= this.#limits.handshakesInFlightMax) {
      return { reason: "handshake_limit", detail: `${this.#openInFlight} handshakes in flight` };
    }
    const fromAddress = this.#openByAddress.get(address) ?? 0;
    if (fromAddress >= this.#limits.handshakesInFlightPerAddressMax) {
      return { reason: "handshake_limit", detail: `${fromAddress} handshakes in flight from ${address}` };
    }
    if (!this.#openBucket.take(1, nowMs)) {
      return { reason: "rate_limited", detail: `over ${this.#limits.handshakesPerSecond} handshakes/s` };
    }
    this.#openInFlight++;
    this.#openByAddress.set(address, fromAddress + 1);
    return { address, pool: "open" };
  }

  /** Gives a slot back; each slot exactly once. */
  release(slot: HandshakeSlot): void {
    if (slot.pool === "reserved") {
      this.#reservedInFlight--;
      const known = this.#known.get(slot.address);
      if (known !== undefined) known.reservedInFlight--;
      return;
    }
    this.#openInFlight--;
    const left = (this.#openByAddress.get(slot.address) ?? 1) - 1;
    if (left > 0) this.#openByAddress.set(slot.address, left);
    else this.#openByAddress.delete(slot.address);
  }

  #bucketFor(validators: number, nowMs: number): TokenBucket {
    const perValidator = this.#limits.handshakesReservedPerValidatorPerSecond;
    return new TokenBucket(perValidator * validators, this.#limits.handshakesReservedPerValidator * validators, nowMs);
  }
}

export function isSlot(x: HandshakeSlot | SlotRefusal): x is HandshakeSlot {
  return "pool" in x;
}
