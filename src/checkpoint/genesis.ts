/**
 * The genesis as a trust root: its chain id is the BLAKE3-256 of the file's
 * exact bytes (so nodes started from different files never agree on a chain
 * id), and its validators are the keys whose signatures count, for vertices
 * and for checkpoint certificates (more than two thirds of them). Whoever
 * checks what a node says (a node, `qudag checkpoint verify`, the edge
 * replica) starts here. Pure: bytes in, a frozen description out.
 */
import { blake3 } from "../core/hash.ts";

export const GENESIS_FORMAT = "qudag-genesis/1";
/** Large enough for 1,000 validators (2,592-byte keys in base64). */
export const GENESIS_BYTES_MAX = 4 * 1024 * 1024;

export interface GenesisValidator {
  readonly name: string;
  /** ML-DSA-87 public key. */
  readonly publicKey: Uint8Array;
  /** Hex BLAKE3-256 of the public key. */
  readonly id: string;
}

export interface Genesis {
  readonly chainId: Uint8Array;
  readonly chainIdHex: string;
  readonly network: string;
  readonly createdAt: string;
  readonly validators: readonly GenesisValidator[];
  /** The exchange ledger's genesis (JSON, parsed by src/ledger/genesis.ts), when this chain runs the exchange. */
  readonly exchange: unknown;
  /** When cuts close and checkpoints are stated: chain parameters, the same on every node. */
  readonly settlement: ChainSettlement;
  /** Where it was read from. */
  readonly path: string;
}

/** Chain-wide settlement parameters (wasm/LEDGER.md, "Settlement"); the genesis may override the defaults. */
export interface ChainSettlement {
  /** Cut boundaries are multiples of this (ms of vertex time). */
  readonly intervalMs: number;
  /** Most vertices one cut (one checkpoint) settles; a busier interval is split. */
  readonly verticesMax: number;
}

export const DEFAULT_SETTLEMENT: ChainSettlement = Object.freeze({ intervalMs: 5_000, verticesMax: 2_000 });

export class GenesisError extends Error {
  readonly code = "genesis_invalid";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GenesisError";
  }
}

export function parseGenesis(bytes: Uint8Array, path: string): Genesis {
  const bad = (why: string) => new GenesisError(`genesis file ${path} is invalid: ${why}`);
  if (bytes.length > GENESIS_BYTES_MAX) throw bad(`${bytes.length} bytes, more than ${GENESIS_BYTES_MAX}`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw bad("not UTF-8 JSON");
  }
  if (doc?.format !== GENESIS_FORMAT) {
    throw bad(`format is ${JSON.stringify(doc?.format)}, expected "${GENESIS_FORMAT}"`);
  }
  if (typeof doc.network !== "string" || typeof doc.createdAt !== "string") throw bad("network or createdAt missing");
  if (!Array.isArray(doc.validators) || doc.validators.length === 0) throw bad("no validators");
  const seen = new Set<string>();
  const validators = doc.validators.map((v: unknown, i: number): GenesisValidator => {
    const r = v as { name?: unknown; publicKey?: unknown };
    if (typeof r.name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(r.name)) {
      throw bad(`validator ${i} has no valid name`);
    }
    let pk: Uint8Array;
    try {
      pk = Uint8Array.fromBase64(String(r.publicKey));
    } catch {
      throw bad(`validator ${r.name}'s publicKey is not base64`);
    }
    if (pk.length !== 2592) {
      throw bad(`validator ${r.name}'s publicKey is ${pk.length} bytes, expected 2592 (ML-DSA-87)`);
    }
    const id = blake3(pk).toHex();
    if (seen.has(id)) throw bad(`validator ${r.name} repeats a public key`);
    seen.add(id);
    return { name: r.name, publicKey: pk, id };
  });
  const settlement = parseSettlement(doc.settlement, bad);
  const chainId = blake3(bytes);
  return {
    chainId,
    chainIdHex: chainId.toHex(),
    network: doc.network,
    createdAt: doc.createdAt,
    validators,
    exchange: doc.exchange ?? null,
    settlement,
    path,
  };
}

function parseSettlement(value: unknown, bad: (why: string) => GenesisError): ChainSettlement {
  if (value === undefined) return DEFAULT_SETTLEMENT;
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad("settlement is not an object");
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (key !== "intervalMs" && key !== "verticesMax") throw bad(`settlement has an unknown field ${key}`);
  }
  const int = (key: "intervalMs" | "verticesMax", min: number, max: number): number => {
    const n = v[key] ?? DEFAULT_SETTLEMENT[key];
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      throw bad(`settlement.${key} is ${JSON.stringify(n)}, expected an integer in ${min}..${max}`);
    }
    return n;
  };
  return Object.freeze({ intervalMs: int("intervalMs", 100, 3_600_000), verticesMax: int("verticesMax", 16, 100_000) });
}
