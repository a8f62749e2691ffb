import assert from "node:assert/strict";
import { blake3 } from "../core/mod.ts";
import {
  CheckpointError,
  type CheckpointStatement,
  decodeStatement,
  encodeStatement,
  nextTxAccumulator,
  STATEMENT_BYTES_MAX,
  STATEMENT_DOMAIN,
  statementDigest,
  ZERO_HASH,
} from "./statement.ts";

const filled = (byte: number) => new Uint8Array(32).fill(byte);
const id = (byte: number) => filled(byte).toHex();

const STATEMENT: CheckpointStatement = {
  chainId: filled(0xc1),
  seq: 12,
  boundaryMs: 1_780_000_000_000,
  prevBoundaryMs: 1_779_999_990_000,
  vertexCount: 37,
  frontier: [id(0x01), id(0x02), id(0xf0)],
  txAccumulator: filled(0xa0),
  stateHash: filled(0x5a),
  journalHash: filled(0x10),
  prevDigest: filled(0xdd),
};

function assertMalformed(action: () => unknown, message?: RegExp): void {
  assert.throws(action, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, String(e));
    assert.equal(e.code, "checkpoint_malformed");
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** Rewrites one u64 field of an encoding in place (offsets from the documented layout). */
function withU64(bytes: Uint8Array, field: "seq" | "boundaryMs" | "prevBoundaryMs", value: bigint): Uint8Array {
  const copy = bytes.slice();
  const offset = STATEMENT_DOMAIN.length + 32 + { seq: 0, boundaryMs: 8, prevBoundaryMs: 16 }[field];
  new DataView(copy.buffer).setBigUint64(offset, value, true);
  return copy;
}

Deno.test("encodeStatement() lays out the documented fields and decodeStatement() inverts it", () => {
  const bytes = encodeStatement(STATEMENT);
  assert.equal(bytes.length, 215 + 32 * 3);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 19)), "qudag/checkpoint/v1");
  assert.deepEqual(bytes.subarray(19, 51), STATEMENT.chainId);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getBigUint64(51, true), 12n);
  assert.equal(view.getBigUint64(59, true), 1_780_000_000_000n);
  assert.equal(view.getBigUint64(67, true), 1_779_999_990_000n);
  assert.equal(view.getBigUint64(75, true), 37n);
  assert.equal(view.getUint32(83, true), 3);
  assert.equal(bytes.subarray(87, 119).toHex(), id(0x01));
  assert.deepEqual(bytes.subarray(bytes.length - 32), STATEMENT.prevDigest);
  const back = decodeStatement(bytes);
  assert.deepEqual(back, { ...STATEMENT, frontier: [...STATEMENT.frontier] });
  assert.deepEqual(encodeStatement(back), bytes);
});

Deno.test("encodeStatement() round-trips the first checkpoint and a full frontier", () => {
  const first = { ...STATEMENT, seq: 1, prevBoundaryMs: 0, prevDigest: new Uint8Array(32) };
  assert.deepEqual(decodeStatement(encodeStatement(first)), first);
  const frontier = Array.from({ length: 64 }, (_, i) => id(i + 1));
  const full = encodeStatement({ ...STATEMENT, frontier });
  assert.equal(full.length, STATEMENT_BYTES_MAX);
  assert.deepEqual(decodeStatement(full).frontier, frontier);
});

Deno.test("statementDigest() is BLAKE3-256 of the encoding", () => {
  assert.deepEqual(statementDigest(STATEMENT), blake3(encodeStatement(STATEMENT)));
});

Deno.test("decodeStatement() refuses truncated bytes and trailing bytes", () => {
  const bytes = encodeStatement(STATEMENT);
  assertMalformed(() => decodeStatement(bytes.subarray(0, bytes.length - 1)), /truncated/);
  assertMalformed(() => decodeStatement(bytes.subarray(0, 40)), /before the frontier count/);
  assertMalformed(() => decodeStatement(new Uint8Array(0)));
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  assertMalformed(() => decodeStatement(longer), /1 trailing bytes/);
});

Deno.test("decodeStatement() refuses another domain", () => {
  const bytes = encodeStatement(STATEMENT);
  bytes[18] = "2".charCodeAt(0); // qudag/checkpoint/v2
  assertMalformed(() => decodeStatement(bytes), /does not start with/);
});

Deno.test("decodeStatement() refuses an unsorted and a duplicated frontier", () => {
  const bytes = encodeStatement(STATEMENT);
  const swapped = bytes.slice();
  swapped.set(bytes.subarray(119, 151), 87);
  swapped.set(bytes.subarray(87, 119), 119);
  assertMalformed(() => decodeStatement(swapped), /not sorted/);
  const twice = bytes.slice();
  twice.set(bytes.subarray(87, 119), 119);
  assertMalformed(() => decodeStatement(twice), /listed twice/);
});

Deno.test("decodeStatement() refuses 0 and 65 frontier ids", () => {
  const frontier = Array.from({ length: 64 }, (_, i) => id(i + 1));
  const full = encodeStatement({ ...STATEMENT, frontier });
  const view = new DataView(full.buffer);
  // 65 ids with the bytes of 65 ids: refused for the count, not the length.
  const over = new Uint8Array(full.length + 32);
  over.set(full.subarray(0, 87 + 64 * 32));
  over.set(filled(0xff), 87 + 64 * 32);
  over.set(full.subarray(87 + 64 * 32), 87 + 65 * 32);
  new DataView(over.buffer).setUint32(83, 65, true);
  assertMalformed(() => decodeStatement(over), /65 ids, expected 1\.\.64/);
  view.setUint32(83, 0, true);
  assertMalformed(() => decodeStatement(full), /0 ids/);
});

Deno.test("decodeStatement() refuses seq 0, a boundary at or before the previous one, and u64 above 2^53", () => {
  const bytes = encodeStatement(STATEMENT);
  assertMalformed(() => decodeStatement(withU64(bytes, "seq", 0n)), /seq is 0/);
  assertMalformed(() => decodeStatement(withU64(bytes, "prevBoundaryMs", 1_780_000_000_000n)), /not below/);
  assertMalformed(() => decodeStatement(withU64(bytes, "boundaryMs", 5n)), /not below/);
  assertMalformed(() => decodeStatement(withU64(bytes, "seq", 1n << 60n)), /above 2\^53/);
});

Deno.test("encodeStatement() refuses what decodeStatement() refuses", () => {
  const bad: [Partial<CheckpointStatement>, RegExp][] = [
    [{ seq: 0 }, /seq is 0/],
    [{ seq: 1.5 }, /seq is 1\.5/],
    [{ boundaryMs: STATEMENT.prevBoundaryMs }, /not below/],
    [{ frontier: [] }, /0 ids/],
    [{ frontier: Array.from({ length: 65 }, (_, i) => id(i + 1)) }, /65 ids/],
    [{ frontier: [id(2), id(1)] }, /not sorted/],
    [{ frontier: [id(1), id(1)] }, /listed twice/],
    [{ frontier: [id(0xab).toUpperCase()] }, /lowercase hex/],
    [{ chainId: new Uint8Array(31) }, /chainId is 31 bytes/],
    [{ stateHash: new Uint8Array(33) }, /stateHash is 33 bytes/],
    [{ seq: 1, prevBoundaryMs: 0 }, /non-zero prevDigest/],
    [{ seq: 1, prevDigest: new Uint8Array(32) }, /prevBoundaryMs 1779999990000, expected 0/],
    [{ seq: 2, prevDigest: new Uint8Array(32) }, /zero prevDigest/],
  ];
  for (const [change, message] of bad) assertMalformed(() => encodeStatement({ ...STATEMENT, ...change }), message);
});

Deno.test("statementDigest() changes when any field changes", () => {
  const base = statementDigest(STATEMENT).toHex();
  const changes: Partial<CheckpointStatement>[] = [
    { chainId: filled(0xc2) },
    { seq: 13 },
    { boundaryMs: STATEMENT.boundaryMs + 1 },
    { prevBoundaryMs: STATEMENT.prevBoundaryMs + 1 },
    { vertexCount: 38 },
    { frontier: [id(0x01), id(0x02)] },
    { frontier: [id(0x01), id(0x02), id(0xf1)] },
    { txAccumulator: filled(0xa1) },
    { stateHash: filled(0x5b) },
    { journalHash: filled(0x11) },
    { prevDigest: filled(0xde) },
  ];
  const seen = new Set([base]);
  for (const change of changes) {
    const digest = statementDigest({ ...STATEMENT, ...change }).toHex();
    assert.ok(!seen.has(digest), `no change for ${Object.keys(change)}`);
    seen.add(digest);
  }
});

Deno.test("nextTxAccumulator() hashes the sorted ids after prev and their count", () => {
  const ids = [id(3), id(1), id(2)];
  const expected = new Uint8Array([
    ...new TextEncoder().encode("qudag/checkpoint-txs/v1"),
    ...ZERO_HASH,
    3,
    0,
    0,
    0,
    ...filled(1),
    ...filled(2),
    ...filled(3),
  ]);
  assert.deepEqual(nextTxAccumulator(ZERO_HASH, ids), blake3(expected));
});

Deno.test("nextTxAccumulator() ignores the order of its input list and depends on prev", () => {
  const a = nextTxAccumulator(ZERO_HASH, [id(1), id(2), id(3)]);
  assert.deepEqual(nextTxAccumulator(ZERO_HASH, [id(3), id(1), id(2)]), a);
  assert.notDeepEqual(nextTxAccumulator(filled(9), [id(1), id(2), id(3)]), a);
  assert.notDeepEqual(nextTxAccumulator(ZERO_HASH, [id(1), id(2)]), a);
  // An empty cut still moves the accumulator on, and chains onto its prev.
  const empty = nextTxAccumulator(a, []);
  assert.notDeepEqual(empty, a);
  assert.notDeepEqual(nextTxAccumulator(empty, []), empty);
  assert.ok(ZERO_HASH.every((b) => b === 0));
});

Deno.test("nextTxAccumulator() refuses repeated and malformed ids and a short prev", () => {
  assertMalformed(() => nextTxAccumulator(ZERO_HASH, [id(1), id(1)]), /listed twice/);
  assertMalformed(() => nextTxAccumulator(ZERO_HASH, ["xyz"]), /lowercase hex/);
  assertMalformed(() => nextTxAccumulator(new Uint8Array(16), []), /16 bytes/);
});
