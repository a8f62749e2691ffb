/**
 * The genesis: the validator set and network a node belongs to. Its chain id
 * is the BLAKE3-256 of the genesis file's exact bytes (computed by the WASM
 * core), so nodes started from different files never agree on a chain id and
 * never talk to each other. In network mode "local" a node without a genesis
 * file makes one at first start, with itself as the only validator.
 */
import { blake3 } from "../core/mod.ts";
import { keyIdOf, toHex } from "../keys/mod.ts";
import { makeLocalExchange } from "./genesis_build.ts";

export const GENESIS_FORMAT = "qudag-genesis/1";
export const GENESIS_FILE = "genesis.json";
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

/** The bytes of a new genesis file. */
export function makeGenesis(
  network: string,
  createdAt: string,
  validators: readonly { name: string; publicKey: Uint8Array }[],
  exchange?: unknown,
  settlement?: Partial<ChainSettlement>,
): Uint8Array {
  const doc = {
    format: GENESIS_FORMAT,
    network,
    createdAt,
    // A random nonce keeps two genesis files made at the same moment apart.
    nonce: toHex(crypto.getRandomValues(new Uint8Array(16))),
    validators: validators.map((v) => ({ name: v.name, publicKey: v.publicKey.toBase64() })),
    ...(exchange === undefined ? {} : { exchange }),
    ...(settlement === undefined ? {} : { settlement }),
  };
  return new TextEncoder().encode(JSON.stringify(doc, null, 2) + "\n");
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
    const id = keyIdOf(pk);
    if (seen.has(id)) throw bad(`validator ${r.name} repeats a public key`);
    seen.add(id);
    return { name: r.name, publicKey: pk, id };
  });
  const settlement = parseSettlement(doc.settlement, bad);
  const chainId = blake3(bytes);
  return {
    chainId,
    chainIdHex: toHex(chainId),
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

export function readGenesis(path: string): Genesis {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : (cause as Error).message;
    throw new GenesisError(`cannot read genesis file ${path}: ${why}`, { cause });
  }
  return parseGenesis(bytes, path);
}

/**
 * The node's genesis: `--genesis FILE` / QUDAG_GENESIS_FILE, else
 * <dataDir>/genesis.json. In network mode "local" a missing default file is
 * made with this node as the only validator; any other mode needs one. With
 * `localExchange` the local chain gets the exchange too, its five authority
 * keys kept beside the data (LOCAL_AUTHORITY_DIR), where the CLI finds them in
 * local mode: `deno task dev` then runs the seeds' exchange commands as is.
 */
export function loadGenesis(o: {
  file: string | null;
  dataDir: string;
  networkMode: string;
  nodeName: string;
  nodePublicKey: Uint8Array;
  nowIso: string;
  localExchange?: boolean;
}): { genesis: Genesis; created: boolean } {
  const path = o.file ?? `${o.dataDir.replace(/\/+$/, "")}/${GENESIS_FILE}`;
  let created = false;
  if (o.file === null && o.networkMode === "local") {
    try {
      Deno.statSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      const validator = [{ name: o.nodeName, publicKey: o.nodePublicKey }];
      const bytes = o.localExchange
        ? makeGenesis("local", o.nowIso, validator, makeLocalExchange(o.dataDir, Date.parse(o.nowIso)))
        : makeGenesis("local", o.nowIso, validator);
      Deno.writeFileSync(path, bytes, { createNew: true });
      created = true;
    }
  } else if (o.file === null) {
    try {
      Deno.statSync(path);
    } catch (cause) {
      throw new GenesisError(
        `network mode ${o.networkMode} needs a genesis file: none at ${path} (set --genesis or QUDAG_GENESIS_FILE)`,
        { cause },
      );
    }
  }
  return { genesis: readGenesis(path), created };
}
