/**
 * The genesis: the validator set and network a node belongs to. Its chain id
 * is the BLAKE3-256 of the genesis file's exact bytes (computed by the WASM
 * core), so nodes started from different files never agree on a chain id and
 * never talk to each other. In network mode "local" a node without a genesis
 * file makes one at first start, with itself as the only validator.
 */
import { toHex } from "../keys/mod.ts";
import {
  type ChainSettlement,
  type Genesis,
  GENESIS_FORMAT,
  GenesisError,
  parseGenesis,
} from "../checkpoint/genesis.ts";
import { makeLocalExchange } from "./genesis_build.ts";

export {
  type ChainSettlement,
  DEFAULT_SETTLEMENT,
  type Genesis,
  GENESIS_BYTES_MAX,
  GENESIS_FORMAT,
  GenesisError,
  type GenesisValidator,
  parseGenesis,
} from "../checkpoint/genesis.ts";

export const GENESIS_FILE = "genesis.json";

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
