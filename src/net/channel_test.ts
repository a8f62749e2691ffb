import assert from "node:assert/strict";
import { ChannelError, type ChannelErrorReason, ReceiveCipher, SendCipher } from "./channel.ts";
import { DATA_FRAME_BYTES_MIN, dataFrameBytesMax, KIND_APP, KIND_PING, readCounter } from "./frame.ts";

const key = new Uint8Array(32).fill(7);
const other = new Uint8Array(32).fill(8);
const MAX = dataFrameBytesMax(64);

async function rejectsWith(reason: ChannelErrorReason, p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof ChannelError && e.reason === reason);
}

Deno.test("SendCipher/ReceiveCipher: frames round-trip in order with counters 0, 1, 2", async () => {
  const tx = await SendCipher.create(key);
  const rx = await ReceiveCipher.create(key, MAX);
  const frames = await Promise.all([tx.seal(KIND_APP, new Uint8Array([1])), tx.seal(KIND_PING, new Uint8Array(0))]);
  assert.deepEqual(frames.map(readCounter), [0, 1]);
  assert.equal(frames[1].length, DATA_FRAME_BYTES_MIN);
  const [one, two] = await Promise.all(frames.map((f) => rx.open(f)));
  assert.deepEqual([one.kind, one.counter, [...one.payload]], [KIND_APP, 0, [1]]);
  assert.deepEqual([two.kind, two.counter, two.payload.length], [KIND_PING, 1, 0]);
  assert.equal(rx.counter, 2);
});

Deno.test("ReceiveCipher refuses replayed, reordered and skipped frames", async () => {
  const tx = await SendCipher.create(key);
  const f0 = await tx.seal(KIND_APP, new Uint8Array([0]));
  const f1 = await tx.seal(KIND_APP, new Uint8Array([1]));
  const f2 = await tx.seal(KIND_APP, new Uint8Array([2]));
  const rx = await ReceiveCipher.create(key, MAX);
  await rejectsWith("counter", rx.open(f1)); // skipped ahead
  await rx.open(f0);
  await rejectsWith("counter", rx.open(f0)); // replayed
  const rx2 = await ReceiveCipher.create(key, MAX);
  await rx2.open(f0);
  await rx2.open(f1);
  await rx2.open(f2);
  await rejectsWith("counter", rx2.open(f1)); // reordered
});

Deno.test("ReceiveCipher refuses tampered frames, the wrong key and a forged counter", async () => {
  const tx = await SendCipher.create(key);
  const frame = await tx.seal(KIND_APP, new Uint8Array(16));
  for (const at of [0 + 9, frame.length - 1, 12]) {
    const bad = frame.slice();
    bad[at] ^= 0x01;
    await rejectsWith("tampered", (await ReceiveCipher.create(key, MAX)).open(bad));
  }
  await rejectsWith("tampered", (await ReceiveCipher.create(other, MAX)).open(frame));
  // Frame 1 relabelled as frame 0: the header is associated data, so authentication fails.
  await tx.seal(KIND_APP, new Uint8Array(1));
  const f1 = await tx.seal(KIND_APP, new Uint8Array(1));
  const relabelled = f1.slice();
  relabelled.fill(0, 1, 9);
  await rejectsWith("tampered", (await ReceiveCipher.create(key, MAX)).open(relabelled));
});

Deno.test("ReceiveCipher refuses malformed and oversized frames before decrypting", async () => {
  const rx = await ReceiveCipher.create(key, MAX);
  await rejectsWith("malformed", rx.open(new Uint8Array(0)));
  await rejectsWith("malformed", rx.open(new Uint8Array([0x10, 0, 0])));
  await rejectsWith("malformed", rx.open(new Uint8Array(40).fill(1)));
  await rejectsWith("oversized", rx.open(new Uint8Array(MAX + 1).fill(0x10)));
  const tx = await SendCipher.create(key);
  const big = await tx.seal(KIND_APP, new Uint8Array(65));
  await rejectsWith("oversized", rx.open(big));
});

Deno.test("ReceiveCipher refuses an unknown plaintext kind", async () => {
  const tx = await SendCipher.create(key);
  const frame = await tx.seal(0x7f as typeof KIND_APP, new Uint8Array(1));
  await rejectsWith("malformed", (await ReceiveCipher.create(key, MAX)).open(frame));
});
