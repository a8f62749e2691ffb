/** BLAKE3 by the WASM core (wasm/src/blake3.rs): every id in qudag is its 256-bit output. */
import { core } from "./_wasm.ts";
import { CoreError } from "./_error.ts";

/** BLAKE3 of `data`; `outLen` bytes of extended output (default 32). */
export function blake3(data: Uint8Array, outLen = 32): Uint8Array {
  if (!Number.isInteger(outLen) || outLen < 0 || outLen > 0xffff_ffff) {
    throw new CoreError(
      "output_too_large",
      `BLAKE3 output length ${outLen} is not a valid length`,
    );
  }
  return core.blake3(data, outLen);
}
