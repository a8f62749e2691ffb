import assert from "node:assert/strict";
import { canonicalIp } from "./address.ts";
import {
  type HandshakeSlot,
  HandshakeSlots,
  isSlot,
  KNOWN_ADDRESSES_MAX,
  type SlotRefusal,
} from "./handshake_slots.ts";
import { DEFAULT_LIMITS } from "./limits.ts";

function slot(x: HandshakeSlot | SlotRefusal): HandshakeSlot {
  assert.ok(isSlot(x), `refused: ${"reason" in x ? `${x.reason} ${x.detail}` : ""}`);
  return x;
}

function refusal(x: HandshakeSlot | SlotRefusal): SlotRefusal {
  assert.ok(!isSlot(x), `got a ${isSlot(x) ? x.pool : ""} slot`);
  return x;
}

Deno.test("HandshakeSlots: strangers filling the open slots leave a known validator its reserved ones", () => {
  const slots = new HandshakeSlots(DEFAULT_LIMITS, 0);
  slots.learn("10.0.0.9", "validator-a", 0);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 8; j++) slot(slots.take(`10.0.1.${i}`, 0));
  assert.deepEqual(slots.inFlight, { open: 32, reserved: 0 });
  assert.equal(refusal(slots.take("10.0.2.1", 0)).reason, "handshake_limit");
  assert.equal(slot(slots.take("10.0.0.9", 0)).pool, "reserved");
  assert.equal(slot(slots.take("10.0.0.9", 0)).pool, "reserved");
  // Two per validator known there; the third competes for the (full) open slots.
  assert.equal(refusal(slots.take("10.0.0.9", 0)).reason, "handshake_limit");
  assert.deepEqual(slots.inFlight, { open: 32, reserved: 2 });
});

Deno.test("HandshakeSlots: the per-address cap and the rate apply to open slots, and released slots come back", () => {
  const slots = new HandshakeSlots({ ...DEFAULT_LIMITS, handshakesPerSecond: 2, handshakeBurst: 3 }, 0);
  const held = [slot(slots.take("10.0.1.1", 0)), slot(slots.take("10.0.1.1", 0)), slot(slots.take("10.0.1.2", 0))];
  assert.equal(refusal(slots.take("10.0.1.3", 0)).reason, "rate_limited");
  assert.equal(slot(slots.take("10.0.1.3", 500)).pool, "open"); // one token back after half a second
  for (const s of held) slots.release(s);
  assert.deepEqual(slots.inFlight, { open: 1, reserved: 0 });
  const capped = new HandshakeSlots({ ...DEFAULT_LIMITS, handshakesInFlightPerAddressMax: 2 }, 0);
  slot(capped.take("10.0.1.1", 0));
  const second = slot(capped.take("10.0.1.1", 0));
  assert.match(refusal(capped.take("10.0.1.1", 0)).detail, /2 handshakes in flight from 10\.0\.1\.1/);
  capped.release(second);
  slot(capped.take("10.0.1.1", 0));
});

Deno.test("HandshakeSlots: an address with several validators gets a reserve for each, at a rate for each", () => {
  const limits = { ...DEFAULT_LIMITS, handshakesInFlightMax: 1 };
  const slots = new HandshakeSlots(limits, 0);
  for (const v of ["a", "b", "c"]) slots.learn("::1", v, 0);
  slots.learn("::1", "a", 0); // the same validator again changes nothing
  const reserved = Array.from({ length: 6 }, () => slot(slots.take("::1", 0)));
  assert.ok(reserved.every((s) => s.pool === "reserved"));
  assert.equal(slot(slots.take("::1", 0)).pool, "open");
  assert.equal(refusal(slots.take("::1", 0)).reason, "handshake_limit");
  for (const s of reserved) slots.release(s);
  // Six handshakes used the burst; the reserved rate is one per second per validator.
  assert.equal(refusal(slots.take("::1", 0)).reason, "handshake_limit");
  assert.equal(slot(slots.take("::1", 1_000)).pool, "reserved");
});

Deno.test("HandshakeSlots: remembers at most KNOWN_ADDRESSES_MAX addresses, forgetting the least recently learned", () => {
  const slots = new HandshakeSlots(DEFAULT_LIMITS, 0);
  for (let i = 0; i <= KNOWN_ADDRESSES_MAX; i++) slots.learn(`addr-${i}`, "v", 0);
  assert.ok(!slots.isKnown("addr-0"));
  assert.ok(slots.isKnown("addr-1") && slots.isKnown(`addr-${KNOWN_ADDRESSES_MAX}`));
  slots.learn("addr-1", "v", 0); // refreshed: now the newest
  slots.learn("addr-new", "v", 0);
  assert.ok(slots.isKnown("addr-1") && !slots.isKnown("addr-2"));
});

Deno.test("canonicalIp() names one address one way", () => {
  assert.equal(canonicalIp("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(canonicalIp("[FDAA:0:0:0::3]"), "fdaa::3");
  assert.equal(canonicalIp("fdaa:0000::3"), "fdaa::3");
  assert.equal(canonicalIp("10.0.0.1"), "10.0.0.1");
  assert.equal(canonicalIp("node-1.internal"), "node-1.internal");
});
