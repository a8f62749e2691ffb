/**
 * Limits and constants of the WASM core (wasm/src/limits.rs), read from the
 * core itself so TypeScript never restates them, and the fixed sizes of
 * ML-DSA-87 (FIPS 204) and BLAKE3-256.
 */
import { core } from "./_wasm.ts";
import { CoreError } from "./_error.ts";

export interface CoreConstants {
  abiVersion: number;
  formatVersion: number;
  txBytesMax: number;
  dataBytesMax: number;
  memoBytesMax: number;
  nameBytesMax: number;
  reasonBytesMax: number;
  parentsMax: number;
  txsPerVertexMax: number;
  vertexBytesMax: number;
  blake3OutputBytesMax: number;
  unitsPerRuv: bigint;
  amountDecimals: number;
  rateScalePpb: number;
}

function readConstants(): CoreConstants {
  const values = new Map<string, string>();
  for (const line of new TextDecoder().decode(core.constants()).split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values.set(line.slice(0, eq), line.slice(eq + 1));
  }
  const num = (key: string): number => {
    const v = values.get(key);
    if (v === undefined) {
      throw new CoreError("internal", `The core lacks constant ${key}`);
    }
    return Number(v);
  };
  return Object.freeze({
    abiVersion: num("abi_version"),
    formatVersion: num("format_version"),
    txBytesMax: num("tx_bytes_max"),
    dataBytesMax: num("data_bytes_max"),
    memoBytesMax: num("memo_bytes_max"),
    nameBytesMax: num("name_bytes_max"),
    reasonBytesMax: num("reason_bytes_max"),
    parentsMax: num("parents_max"),
    txsPerVertexMax: num("txs_per_vertex_max"),
    vertexBytesMax: num("vertex_bytes_max"),
    blake3OutputBytesMax: num("blake3_output_bytes_max"),
    unitsPerRuv: BigInt(values.get("units_per_ruv") ?? "0"),
    amountDecimals: num("amount_decimals"),
    rateScalePpb: num("rate_scale_ppb"),
  });
}

/** Limits and constants, read from the core itself. */
export const CORE_CONSTANTS: CoreConstants = readConstants();

/** Bytes of the WASM core's linear memory: it grows with the largest state ever held and never shrinks. */
export function coreMemoryBytes(): number {
  return core.memoryBytes();
}

/** ML-DSA-87 public key bytes (FIPS 204). */
export const ML_DSA_87_PUBLIC_KEY_BYTES = 2592;
/** ML-DSA-87 signature bytes (FIPS 204). */
export const ML_DSA_87_SIGNATURE_BYTES = 4627;
/** BLAKE3-256 output, and so every id: 32 bytes. */
export const HASH_BYTES = 32;
