import assert from "node:assert/strict";
import { maskInto } from "./_ws_frame.ts";

/** RFC 6455's definition, one byte at a time. */
function maskBytewise(payload: Uint8Array, mask: Uint8Array): Uint8Array {
  return payload.map((b, i) => b ^ mask[i & 3]);
}

Deno.test("maskInto() equals the byte-by-byte XOR at every alignment and length, and leaves the rest of out alone", () => {
  const mask = Uint8Array.of(0x12, 0xa7, 0x5c, 0xf0);
  for (const length of [0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 125, 126, 1_000, 65_537]) {
    const payload = new Uint8Array(length).map((_, i) => (i * 31 + 7) & 0xff);
    for (let bufferOffset = 0; bufferOffset < 4; bufferOffset++) {
      for (let offset = 0; offset < 4; offset++) {
        // `out` is itself a view at an odd place in its buffer, as a frame's payload is.
        const backing = new Uint8Array(bufferOffset + offset + length + 3).fill(0xee);
        const out = backing.subarray(bufferOffset);
        maskInto(out, offset, payload, mask);
        assert.deepEqual(
          out.subarray(offset, offset + length),
          maskBytewise(payload, mask),
          `${length}/${bufferOffset}/${offset}`,
        );
        assert.ok(backing.subarray(0, bufferOffset + offset).every((b) => b === 0xee));
        assert.ok(backing.subarray(bufferOffset + offset + length).every((b) => b === 0xee));
        // Masking twice gives the payload back (the receiver's unmasking).
        const back = new Uint8Array(length);
        maskInto(back, 0, out.subarray(offset, offset + length), mask);
        assert.deepEqual(back, payload);
      }
    }
  }
});
