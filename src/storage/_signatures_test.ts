import assert from "node:assert/strict";
import { decodeSignatures, encodeSignatures } from "./_signatures.ts";
import { StorageError } from "./types.ts";

const a = "0a".repeat(32);
const b = "fb".repeat(32);

Deno.test("encodeSignatures() writes count, then id, length and signature per signer; decodeSignatures() reads it back", () => {
  const signatures = [{ validator: a, signature: new Uint8Array([1, 2, 3]) }, {
    validator: b,
    signature: new Uint8Array(0),
  }];
  const bytes = encodeSignatures(signatures);
  assert.equal(bytes.length, 4 + (32 + 4 + 3) + (32 + 4));
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 0, 2]);
  assert.equal(bytes.subarray(4, 36).toHex(), a);
  assert.deepEqual([...bytes.subarray(36, 43)], [0, 0, 0, 3, 1, 2, 3]);
  assert.deepEqual(decodeSignatures(bytes, "certificate 1"), signatures);
  assert.deepEqual(decodeSignatures(encodeSignatures([]), "certificate 1"), []);
});

Deno.test("decodeSignatures() reports malformed bytes as storage_corrupt, naming the row", () => {
  const good = encodeSignatures([{ validator: a, signature: new Uint8Array([1, 2, 3]) }]);
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(3), /too short for a count/],
    [new Uint8Array([0, 0, 0, 9, ...new Uint8Array(36)]), /count 9 does not fit/],
    [new Uint8Array([0, 0, 0, 2, ...new Uint8Array(32), 0, 0, 0, 36, ...new Uint8Array(36)]), /entry 1 is cut short/],
    [good.subarray(0, good.length - 1), /signature 0 claims 3 bytes, 2 remain/],
    [new Uint8Array([...good, 0]), /1 trailing bytes/],
  ];
  for (const [bytes, why] of cases) {
    assert.throws(() => decodeSignatures(bytes, "certificate 7"), (e: unknown) => {
      assert.ok(e instanceof StorageError);
      assert.equal(e.code, "storage_corrupt");
      assert.match(e.message, /^certificate 7: signatures column is malformed: /);
      assert.match(e.message, why);
      return true;
    });
  }
});
