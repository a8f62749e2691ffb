import assert from "node:assert/strict";
import { base64, base64Bytes, base64Exact } from "./_schemas.ts";

Deno.test("base64() schemas accept exactly the texts of min..max bytes, by pattern and by decoded size", () => {
  for (const [lo, hi] of [[1184, 1184], [4627, 4627], [0, 100], [10, 100], [1142, 1142 + 65536], [0, 1024]] as const) {
    const schema = lo === hi ? base64Exact("x", lo) : base64("y", hi, lo);
    const sizes = new Set<number>();
    for (let n = Math.max(0, lo - 3); n <= Math.min(hi + 3, lo + 40); n++) sizes.add(n);
    for (let n = Math.max(0, hi - 3); n <= hi + 3; n++) sizes.add(n);
    for (const n of sizes) {
      const text = new Uint8Array(n).fill(0xa5).toBase64();
      assert.equal(base64Bytes(text), n);
      assert.equal(schema.safeParse(text).success, n >= lo && n <= hi, `${lo}..${hi}: ${n} bytes`);
    }
  }
  const any = base64("z");
  for (const bad of ["a", "abc", "ab=c", "a b=", "####"]) assert.equal(any.safeParse(bad).success, false, bad);
  assert.equal(any.safeParse("").success, true);
});
