import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessage,
  IDS_PER_MESSAGE_MAX,
  ProtocolError,
  type ProtocolMessage,
  VERTICES_PER_MESSAGE_MAX,
} from "./protocol.ts";

const id = (n: number) => n.toString(16).padStart(2, "0").repeat(32);

Deno.test("encodeMessage() and decodeMessage() round-trip every message type", () => {
  const messages: ProtocolMessage[] = [
    { type: "vertices", vertices: [new Uint8Array([1, 2, 3]), new Uint8Array(0)] },
    { type: "getVertices", ids: [id(1), id(2)] },
    { type: "query", requestId: 4_000_000_000, frontier: [id(3)] },
    {
      type: "votes",
      querier: id(4),
      requestId: 7,
      responder: id(5),
      frontier: [],
    },
    { type: "frontier", frontier: [id(6), id(7)], replyWanted: true },
    { type: "frontier", frontier: [], replyWanted: false },
    { type: "getAcceptedSince", sinceMs: 1_796_289_715_000, skip: 64 },
    { type: "acceptedSince", vertices: [new Uint8Array([9, 9])], next: { sinceMs: 1_796_289_720_000, skip: 0 } },
    { type: "acceptedSince", vertices: [], next: null },
  ];
  for (const m of messages) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
});

Deno.test("an encoded message is its own memory: the next encoding never changes it, small or large", () => {
  const vertices = (fill: number, bytes: number): ProtocolMessage => ({
    type: "vertices",
    vertices: [new Uint8Array(bytes).fill(fill)],
  });
  // A small one is copied out of the scratch buffer; one past its 64 KiB limit is handed over as it is.
  for (const bytes of [100, 70_000, 400_000]) {
    const first = encodeMessage(vertices(1, bytes));
    const kept = first.slice();
    const second = encodeMessage(vertices(2, bytes));
    assert.deepEqual(first, kept, `${bytes} bytes`);
    assert.notEqual(first.buffer, second.buffer);
    assert.deepEqual(decodeMessage(second), vertices(2, bytes));
    // Exactly the message's bytes, whatever buffer holds them.
    assert.equal(first.length, 1 + 4 + 4 + bytes);
  }
});

Deno.test("a decoded vertex that fills its message is a view of it; small ones are copies of their own", () => {
  const big = encodeMessage({ type: "vertices", vertices: [new Uint8Array(300_000).fill(7)] });
  const one = decodeMessage(big);
  assert.ok(one.type === "vertices");
  assert.equal(one.vertices[0].buffer, big.buffer, "no copy of a vertex of hundreds of KB");
  assert.equal(one.vertices[0].length, 300_000);
  // Three vertices of a third each: a view of one would hold the other two (and their message) alive.
  const three = encodeMessage({
    type: "vertices",
    vertices: [1, 2, 3].map((f) => new Uint8Array(100_000).fill(f)),
  });
  const each = decodeMessage(three);
  assert.ok(each.type === "vertices");
  for (const [i, v] of each.vertices.entries()) {
    assert.notEqual(v.buffer, three.buffer);
    assert.equal(v.buffer.byteLength, 100_000);
    assert.ok(v.every((b) => b === i + 1));
  }
});

Deno.test("decodeMessage() refuses unknown types, truncation, trailing bytes and over-limit counts", () => {
  const ok = encodeMessage({ type: "getVertices", ids: [id(1)] });
  const refuse = (b: Uint8Array, re: RegExp) =>
    assert.throws(() => decodeMessage(b), (e: unknown) => e instanceof ProtocolError && re.test(e.message));
  refuse(new Uint8Array([99]), /unknown message type 99/);
  refuse(new Uint8Array(0), /truncated message type/);
  refuse(ok.slice(0, ok.length - 1), /truncated ids/);
  refuse(new Uint8Array([...ok, 0]), /1 trailing bytes/);
  const many = new Uint8Array(5);
  many[0] = 2;
  new DataView(many.buffer).setUint32(1, IDS_PER_MESSAGE_MAX + 1, true);
  refuse(many, /more than 256/);
  const vs = new Uint8Array(5);
  vs[0] = 1;
  new DataView(vs.buffer).setUint32(1, VERTICES_PER_MESSAGE_MAX + 1, true);
  refuse(vs, /vertices, more than/);
  refuse(new Uint8Array([5, 2, 0, 0, 0, 0]), /reply flag 2/);
});

Deno.test("encodeMessage() refuses ids that are not 64 lower-case hex digits", () => {
  assert.throws(() => encodeMessage({ type: "getVertices", ids: ["AB".repeat(32)] }), ProtocolError);
  assert.throws(() => encodeMessage({ type: "getVertices", ids: ["ab"] }), ProtocolError);
});

Deno.test("decodeMessage() refuses a signature that is not ML-DSA-87's 4,627 bytes, before anyone verifies it", () => {
  const id = "cd".repeat(32);
  const signed = encodeMessage({ type: "checkpointSignature", seq: 1, digest: id, signature: new Uint8Array(4627) });
  // The same message with the signature's length field and bytes cut to 4,626.
  const short = signed.slice(0, signed.length - 1);
  new DataView(short.buffer).setUint32(short.length - 4626 - 4, 4626, true);
  assert.throws(() => decodeMessage(short), /signature is 4626 bytes, expected 4627 \(ML-DSA-87\)/);
  assert.throws(
    () => encodeMessage({ type: "checkpointSignature", seq: 1, digest: id, signature: new Uint8Array(100) }),
    /signature is 100 bytes, expected 4627/,
  );
});

Deno.test("decodeMessage() refuses an acceptedSince page with a bad flag or too many vertices", () => {
  const good = encodeMessage({ type: "acceptedSince", vertices: [], next: null });
  const flag = good.slice();
  flag[1] = 2;
  assert.throws(() => decodeMessage(flag), ProtocolError);
  const many = good.slice();
  new DataView(many.buffer).setUint32(1 + 1 + 8 + 4, VERTICES_PER_MESSAGE_MAX + 1, true);
  assert.throws(() => decodeMessage(many), /more than 64/);
});
