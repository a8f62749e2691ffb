import assert from "node:assert/strict";
import { Tag } from "./_frame.ts";

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
