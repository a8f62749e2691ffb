import assert from "node:assert/strict";
import type { SyncAes256Gcm } from "../crypto/backend.ts";
import { createNativeBackend } from "../crypto/native.ts";
import { ChannelError, type ChannelErrorReason, ReceiveCipher, SendCipher } from "./channel.ts";
import { DATA_FRAME_BYTES_MIN, dataFrameBytesMax, KIND_APP, KIND_PING, readCounter } from "./frame.ts";

const key = new Uint8Array(32).fill(7);
const other = new Uint8Array(32).fill(8);
const MAX = dataFrameBytesMax(64);

async function rejectsWith(reason: ChannelErrorReason, p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof ChannelError && e.reason === reason);
}

/** The native library's AES-256-GCM when it loads here; its tests are skipped (not passed) without it. */
function nativeAes(): SyncAes256Gcm | undefined {
  try {
    return createNativeBackend().aes256Gcm;
  } catch {
    return undefined;
  }
}
const NATIVE_AES = nativeAes();

const IMPLEMENTATIONS: readonly [string, SyncAes256Gcm | undefined, boolean][] = [
  ["WebCrypto AES-GCM", undefined, false],
  ["native AES-GCM", NATIVE_AES, NATIVE_AES === undefined],
];

for (const [label, aes, ignore] of IMPLEMENTATIONS) {
  Deno.test(
    `${label}: SendCipher/ReceiveCipher: frames round-trip in order with counters 0, 1, 2`,
    { ignore },
    async () => {
      const tx = await SendCipher.create(key, aes);
      const rx = await ReceiveCipher.create(key, MAX, aes);
      const frames = await Promise.all([tx.seal(KIND_APP, new Uint8Array([1])), tx.seal(KIND_PING, new Uint8Array(0))]);
      assert.deepEqual(frames.map(readCounter), [0, 1]);
      assert.equal(frames[1].length, DATA_FRAME_BYTES_MIN);
      const [one, two] = await Promise.all(frames.map((f) => rx.open(f)));
      assert.deepEqual([one.kind, one.counter, [...one.payload]], [KIND_APP, 0, [1]]);
      assert.deepEqual([two.kind, two.counter, two.payload.length], [KIND_PING, 1, 0]);
      assert.equal(rx.counter, 2);
    },
  );

  Deno.test(`${label}: ReceiveCipher refuses replayed, reordered and skipped frames`, { ignore }, async () => {
    const tx = await SendCipher.create(key, aes);
    const f0 = await tx.seal(KIND_APP, new Uint8Array([0]));
    const f1 = await tx.seal(KIND_APP, new Uint8Array([1]));
    const f2 = await tx.seal(KIND_APP, new Uint8Array([2]));
    const rx = await ReceiveCipher.create(key, MAX, aes);
    // A frame opened is the channel's (decrypted in place): each receiver gets copies.
    await rejectsWith("counter", rx.open(f1.slice())); // skipped ahead
    await rx.open(f0.slice());
    await rejectsWith("counter", rx.open(f0.slice())); // replayed
    const rx2 = await ReceiveCipher.create(key, MAX, aes);
    await rx2.open(f0);
    await rx2.open(f1);
    await rx2.open(f2);
    await rejectsWith("counter", rx2.open(f1)); // reordered
  });

  Deno.test(
    `${label}: ReceiveCipher refuses tampered frames, the wrong key and a forged counter`,
    { ignore },
    async () => {
      const tx = await SendCipher.create(key, aes);
      const frame = await tx.seal(KIND_APP, new Uint8Array(16));
      for (const at of [0 + 9, frame.length - 1, 12]) {
        const bad = frame.slice();
        bad[at] ^= 0x01;
        await rejectsWith("tampered", (await ReceiveCipher.create(key, MAX, aes)).open(bad));
      }
      await rejectsWith("tampered", (await ReceiveCipher.create(other, MAX, aes)).open(frame.slice()));
      // The right key opens the untouched frame.
      assert.deepEqual(
        [...(await (await ReceiveCipher.create(key, MAX, aes)).open(frame)).payload],
        new Array(16).fill(0),
      );
      // Frame 1 relabelled as frame 0: the header is associated data, so authentication fails.
      await tx.seal(KIND_APP, new Uint8Array(1));
      const f1 = await tx.seal(KIND_APP, new Uint8Array(1));
      const relabelled = f1.slice();
      relabelled.fill(0, 1, 9);
      await rejectsWith("tampered", (await ReceiveCipher.create(key, MAX, aes)).open(relabelled));
    },
  );

  Deno.test(
    `${label}: ReceiveCipher refuses malformed and oversized frames before decrypting`,
    { ignore },
    async () => {
      const rx = await ReceiveCipher.create(key, MAX, aes);
      await rejectsWith("malformed", rx.open(new Uint8Array(0)));
      await rejectsWith("malformed", rx.open(new Uint8Array([0x10, 0, 0])));
      await rejectsWith("malformed", rx.open(new Uint8Array(40).fill(1)));
      await rejectsWith("oversized", rx.open(new Uint8Array(MAX + 1).fill(0x10)));
      const tx = await SendCipher.create(key, aes);
      const big = await tx.seal(KIND_APP, new Uint8Array(65));
      await rejectsWith("oversized", rx.open(big));
    },
  );

  Deno.test(`${label}: ReceiveCipher refuses an unknown plaintext kind`, { ignore }, async () => {
    const tx = await SendCipher.create(key, aes);
    const frame = await tx.seal(0x7f as typeof KIND_APP, new Uint8Array(1));
    await rejectsWith("malformed", (await ReceiveCipher.create(key, MAX, aes)).open(frame));
  });
}

Deno.test("native and WebCrypto AES-GCM ends of one channel understand each other", {
  ignore: NATIVE_AES === undefined,
}, async () => {
  for (const [sendAes, receiveAes] of [[NATIVE_AES, undefined], [undefined, NATIVE_AES]]) {
    const tx = await SendCipher.create(key, sendAes);
    const rx = await ReceiveCipher.create(key, MAX, receiveAes);
    for (const size of [0, 1, 15, 16, 17, 64]) {
      const payload = new Uint8Array(size).map((_, i) => i * 7 + size);
      const opened = await rx.open(await tx.seal(KIND_APP, payload));
      assert.deepEqual([...opened.payload], [...payload]);
    }
  }
});

Deno.test("native AES-256-GCM matches NIST SP 800-38D test case 14 and refuses a wrong tag", {
  ignore: NATIVE_AES === undefined,
}, () => {
  const aes = NATIVE_AES as SyncAes256Gcm;
  const zeroKey = new Uint8Array(32);
  const zeroNonce = new Uint8Array(12);
  const sealed = aes.seal(zeroKey, zeroNonce, new Uint8Array(0), new Uint8Array(16));
  const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(hex(sealed), "cea7403d4d606b6e074ec5d3baf39d18" + "d0d1c8a799996bf0265b98b5d48ab919");
  assert.deepEqual([...(aes.open(zeroKey, zeroNonce, new Uint8Array(0), sealed) ?? [])], new Array(16).fill(0));
  const bad = sealed.slice();
  bad[bad.length - 1] ^= 1;
  assert.equal(aes.open(zeroKey, zeroNonce, new Uint8Array(0), bad), null);
  assert.throws(
    () => aes.open(zeroKey, zeroNonce, new Uint8Array(0), sealed.subarray(0, 16)),
    /longer than its 16-byte tag/,
  );
  assert.throws(() => aes.seal(zeroKey.subarray(1), zeroNonce, new Uint8Array(0), new Uint8Array(1)), /key/);
});

Deno.test("native AES-256-GCM in place: the bytes of seal and open, in the caller's buffer; a refusal leaves zeros", {
  ignore: NATIVE_AES === undefined,
}, () => {
  const aes = NATIVE_AES as SyncAes256Gcm;
  const k = new Uint8Array(32).fill(9);
  const nonce = new Uint8Array(12).fill(4);
  const aad = new Uint8Array([1, 2, 3]);
  const plain = new Uint8Array(300_000).map((_, i) => i * 13);
  // A frame's layout: a header, then the plaintext with room for the tag.
  const frame = new Uint8Array(9 + plain.length + 16);
  frame.set(plain, 9);
  const body = frame.subarray(9);
  aes.sealInPlace(k, nonce, aad, body);
  assert.deepEqual(body, aes.seal(k, nonce, aad, plain));
  const opened = aes.openInPlace(k, nonce, aad, body);
  assert.ok(opened !== null && opened.buffer === frame.buffer && opened.byteOffset === 9);
  assert.deepEqual(opened, plain);
  aes.sealInPlace(k, nonce, aad, body);
  body[1000] ^= 1;
  assert.equal(aes.openInPlace(k, nonce, aad, body), null);
  assert.ok(body.subarray(0, plain.length).every((b) => b === 0));
  assert.throws(() => aes.sealInPlace(k, nonce, aad, new Uint8Array(16)), /needs a plaintext and 16 more/);
});
