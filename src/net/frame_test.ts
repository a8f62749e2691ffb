import assert from "node:assert/strict";
import {
  checkDataFrame,
  decodeFinish,
  decodeHello,
  decodeReply,
  encodeFinish,
  encodeHello,
  encodeReply,
  encodeReplyCore,
  FINISH_BYTES,
  FrameError,
  HANDSHAKE_FRAME_BYTES_MAX,
  HELLO_BYTES,
  readCounter,
  REPLY_BYTES,
  writeCounter,
} from "./frame.ts";

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

Deno.test("frame sizes are the documented ones", () => {
  assert.deepEqual([HELLO_BYTES, REPLY_BYTES, FINISH_BYTES, HANDSHAKE_FRAME_BYTES_MAX], [1315, 5812, 4660, 5812]);
});

Deno.test("hello, reply and finish round-trip", () => {
  const hello = {
    version: 1,
    chainId: fill(32, 1),
    initiatorId: fill(32, 2),
    x25519PublicKey: fill(32, 3),
    mlKemEncapsulationKey: fill(1184, 4),
    nonce: fill(32, 5),
  };
  assert.deepEqual(decodeHello(encodeHello(hello)), hello);
  const core = {
    responderId: fill(32, 6),
    x25519PublicKey: fill(32, 7),
    mlKemCiphertext: fill(1088, 8),
    nonce: fill(32, 9),
  };
  const reply = encodeReply(encodeReplyCore(core), fill(4627, 10));
  assert.deepEqual(decodeReply(reply), { ...core, signature: fill(4627, 10) });
  const finish = { signature: fill(4627, 11), tokenMac: fill(32, 12) };
  assert.deepEqual(decodeFinish(encodeFinish(finish)), finish);
  assert.throws(() => encodeFinish({ ...finish, tokenMac: fill(31, 0) }), RangeError);
});

Deno.test("decoders refuse wrong sizes and types with a reason", () => {
  const reason = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof FrameError);
      return e.reason;
    }
    return "accepted";
  };
  assert.equal(reason(() => decodeHello(fill(HELLO_BYTES - 1, 1))), "malformed");
  assert.equal(reason(() => decodeHello(fill(HELLO_BYTES, 2))), "malformed");
  assert.equal(reason(() => decodeFinish(fill(HANDSHAKE_FRAME_BYTES_MAX + 1, 3))), "oversized");
  assert.equal(reason(() => checkDataFrame(fill(100, 0x10), 99)), "oversized");
  assert.equal(reason(() => checkDataFrame(fill(20, 0x10), 99)), "malformed");
  assert.equal(reason(() => checkDataFrame(fill(30, 0x01), 99)), "malformed");
});

Deno.test("counters are u64 big-endian", () => {
  const b = new Uint8Array(9);
  writeCounter(b, 1, 2 ** 40 + 5);
  assert.deepEqual([...b], [0, 0, 0, 1, 0, 0, 0, 0, 5]);
  assert.equal(readCounter(b), 2 ** 40 + 5);
});
