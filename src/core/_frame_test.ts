import assert from "node:assert/strict";
import { FrameReader, FrameWriter, Tag } from "./_frame.ts";

Deno.test("Tag matches the core's tag table (wasm/src/frame.rs) name for name", async () => {
  const source = await Deno.readTextFile(new URL("../../wasm/src/frame.rs", import.meta.url));
  const table = source.slice(source.indexOf("pub mod tag {"), source.indexOf("\n}\n", source.indexOf("pub mod tag {")));
  const fromCore: Record<string, number> = {};
  for (const [, name, value] of table.matchAll(/pub const ([A-Z0-9_]+): u8 = (\d+);/g)) {
    const camel = name.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
    fromCore[camel] = Number(value);
  }
  assert.ok(Object.keys(fromCore).length > 70, "could not read the core's tag table");
  assert.deepEqual({ ...Tag }, fromCore);
});

Deno.test("a frame written into part of a larger buffer is the bytes finish() gives, and nothing around them", () => {
  const w = new FrameWriter().bytes(Tag.tx, new Uint8Array([1, 2, 3]), "tx").u64(Tag.nonce, 7n, "nonce")
    .u32(Tag.resultCount, 9, "count").bool(Tag.signatureOk, true, "ok");
  const whole = w.finish();
  assert.equal(whole.length, w.length);
  const memory = new Uint8Array(w.length + 20).fill(0xee);
  w.writeTo(memory.subarray(13, 13 + w.length));
  assert.deepEqual(memory.subarray(13, 13 + w.length), whole);
  assert.ok(memory.subarray(0, 13).every((b) => b === 0xee) && memory.subarray(13 + w.length).every((b) => b === 0xee));
  const r = new FrameReader(memory.subarray(13, 13 + w.length));
  assert.deepEqual(r.bytes(Tag.tx), new Uint8Array([1, 2, 3]));
  assert.equal(r.u64(Tag.nonce), 7n);
  assert.throws(() => w.writeTo(new Uint8Array(w.length - 1)), RangeError);
});
