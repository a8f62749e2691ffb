/** Decimal rUv amounts (wasm/src/amount.rs): parsing and formatting of smallest units (1 rUv = 10^6). */
import { core } from "./_wasm.ts";
import { CoreError } from "./_error.ts";

const encoder = new TextEncoder();

/** Decimal rUv text ("50000", "0.5") to smallest units (1 rUv = 10^6). */
export function parseAmount(text: string): bigint {
  if (typeof text !== "string") {
    throw new CoreError("amount_invalid", "An amount must be a string");
  }
  const out = core.amountParse(encoder.encode(text));
  return new DataView(out.buffer).getBigUint64(0, true);
}

/** Smallest units to the shortest decimal rUv text. */
export function formatAmount(units: bigint): string {
  const w = new Uint8Array(8);
  if (typeof units !== "bigint" || units < 0n || units >= 1n << 64n) {
    throw new CoreError(
      "amount_overflow",
      `Amount ${units} is outside 0..2^64-1 smallest units`,
    );
  }
  new DataView(w.buffer).setBigUint64(0, units, true);
  return new TextDecoder().decode(core.amountFormat(w));
}
