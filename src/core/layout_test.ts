/**
 * The core's TS face mirrors wasm/src/ file for file, and mod.ts only
 * re-exports: a caller such as the edge replica imports the one file it needs.
 */
import assert from "node:assert/strict";
import * as face from "./mod.ts";
import * as tx from "./tx.ts";
import * as vertex from "./vertex.ts";
import * as fee from "./fee.ts";
import * as amount from "./amount.ts";
import * as ledger from "./ledger.ts";
import * as hash from "./hash.ts";
import * as constants from "./constants.ts";

const dir = new URL(".", import.meta.url);

Deno.test("core/mod.ts holds no code of its own: only export ... from statements", () => {
  const source = Deno.readTextFileSync(new URL("mod.ts", dir))
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const statements = source.split(";").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const s of statements) assert.match(s, /^export (type )?\{[^}]*\} from "\.\/[a-z_]+\.ts"$/, s);
});

Deno.test("every value a core file exports is the same object through core/mod.ts", () => {
  const parts: Record<string, Record<string, unknown>> = { tx, vertex, fee, amount, ledger, hash, constants };
  const faceValues = face as Record<string, unknown>;
  for (const [file, part] of Object.entries(parts)) {
    for (const [name, value] of Object.entries(part)) {
      // Frame helpers shared inside the core are not part of its face.
      if (name === "readFees" || name === "writeFees") continue;
      assert.equal(faceValues[name], value, `${file}.ts exports ${name}, which mod.ts must re-export`);
    }
  }
});

Deno.test("each part of wasm/src/ has its TypeScript face file", () => {
  const mirror: Record<string, string> = {
    "tx.rs": "tx.ts",
    "vertex.rs": "vertex.ts",
    "fee.rs": "fee.ts",
    "amount.rs": "amount.ts",
    "blake3.rs": "hash.ts",
    "limits.rs": "constants.ts",
    "ledger": "ledger.ts",
  };
  for (const [rust, ts] of Object.entries(mirror)) {
    Deno.statSync(new URL(`../../wasm/src/${rust}`, dir));
    Deno.statSync(new URL(ts, dir));
  }
});
