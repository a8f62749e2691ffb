/**
 * Making a new chain: validator keys, the exchange's five authority keys and
 * the genesis that names them. One home for `qudag genesis init` (a real
 * network), `deno task testnet` (loopback) and the local dev chain of
 * `deno task dev`. Randomness and the clock are inputs.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import type { FeeParams } from "../core/mod.ts";
import { keyIdOf, toHex } from "../keys/mod.ts";
import { type ExchangeGenesisJson, makeExchangeGenesis, type RoleName } from "../ledger/genesis.ts";
import { type ChainSettlement, makeGenesis } from "./genesis.ts";

/** An ML-DSA-87 key made from a 32-byte seed, with the name it goes by. */
export interface SeededKey {
  readonly name: string;
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  /** Hex BLAKE3-256 of the public key: the validator or account id. */
  readonly id: string;
}

export function seededKey(name: string, seed: Uint8Array): SeededKey {
  const { publicKey } = ml_dsa87.keygen(seed);
  return { name, seed, publicKey, id: keyIdOf(publicKey) };
}

/**
 * The exchange's genesis accounts, one per authority (SPEC.md "Exchange"):
 * the account name, the role it holds, and the environment name the CLI reads
 * its seed from (the fee account signs nothing: it only receives fees).
 */
export const AUTHORITIES: readonly { name: string; role: RoleName; env: string | null; what: string }[] = [
  { name: "fees", role: "feeAccount", env: null, what: "fee account (receives every fee)" },
  { name: "exchange-master", role: "exchangeMaster", env: "EXCHANGE_MASTER_KEY", what: "exchange master (mint)" },
  { name: "fee-admin", role: "feeAdmin", env: "FEE_ADMIN_KEY", what: "fee admin (configure-fees)" },
  {
    name: "agent-verifier",
    role: "agentVerifier",
    env: "AGENT_VERIFICATION_KEY",
    what: "agent verifier (verify-agent)",
  },
  {
    name: "governance",
    role: "governance",
    env: "IMMUTABLE_GOVERNANCE_KEY",
    what: "governance (deploy-immutable, governance-override)",
  },
];

export type Random = (n: number) => Uint8Array;
export const systemRandom: Random = (n) => crypto.getRandomValues(new Uint8Array(n));

export interface ChainPlan {
  readonly network: string;
  readonly createdAt: string;
  readonly validators: readonly string[];
  /** Give the chain the exchange (its five authority accounts). */
  readonly exchange: boolean;
  /** Exchange fee parameters; the core's defaults when absent. */
  readonly fees?: FeeParams;
  /** Smallest units; 0n = no cap. */
  readonly supplyCap?: bigint;
  readonly settlement?: Partial<ChainSettlement>;
}

export interface NewChain {
  readonly genesis: Uint8Array;
  readonly validators: readonly SeededKey[];
  /** The authorities' keys, in AUTHORITIES order; empty without the exchange. */
  readonly authorities: readonly SeededKey[];
}

/** Keys and genesis bytes for a new chain. */
export function makeChain(plan: ChainPlan, random: Random, nowMs: number): NewChain {
  const seen = new Set<string>();
  for (const name of plan.validators) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new RangeError(`validator name ${JSON.stringify(name)} is invalid: expected 1-64 of A-Z a-z 0-9 _ . -`);
    }
    if (seen.has(name)) throw new RangeError(`validator name ${name} is given twice`);
    seen.add(name);
  }
  if (plan.validators.length === 0) throw new RangeError("a chain needs at least one validator");
  const validators = plan.validators.map((name) => seededKey(name, random(32)));
  const authorities = plan.exchange ? AUTHORITIES.map((a) => seededKey(a.name, random(32))) : [];
  const exchange = plan.exchange
    ? makeExchangeGenesis({
      timeMs: BigInt(nowMs),
      supplyCap: plan.supplyCap ?? 0n,
      fees: plan.fees,
      accounts: authorities,
      roles: Object.fromEntries(AUTHORITIES.map((a) => [a.role, a.name])) as Record<RoleName, string>,
    })
    : undefined;
  const genesis = makeGenesis(plan.network, plan.createdAt, validators, exchange, plan.settlement);
  return { genesis, validators, authorities };
}

/** A seed file: 64 hex digits and a newline (what `--key-path` and the *_KEY secrets take). */
export function seedFileText(k: SeededKey): string {
  return toHex(k.seed) + "\n";
}

/** Where a local (dev) chain keeps its exchange authorities' seed files, inside its data directory. */
export const LOCAL_AUTHORITY_DIR = "exchange-keys";

/** The seed file of authority `name` (an AUTHORITIES name) of the local chain in `dataDir`. */
export function localAuthorityFile(dataDir: string, name: string): string {
  return `${dataDir.replace(/\/+$/, "")}/${LOCAL_AUTHORITY_DIR}/${name}.seed`;
}

/**
 * The exchange section of a new local chain: five fresh authority keys whose
 * seeds are written beside the data (mode 0600), never overwritten.
 */
export function makeLocalExchange(dataDir: string, nowMs: number, random: Random = systemRandom): ExchangeGenesisJson {
  const authorities = AUTHORITIES.map((a) => seededKey(a.name, random(32)));
  Deno.mkdirSync(`${dataDir.replace(/\/+$/, "")}/${LOCAL_AUTHORITY_DIR}`, { recursive: true, mode: 0o700 });
  for (const k of authorities) {
    Deno.writeTextFileSync(localAuthorityFile(dataDir, k.name), seedFileText(k), { createNew: true, mode: 0o600 });
  }
  return makeExchangeGenesis({
    timeMs: BigInt(nowMs),
    supplyCap: 0n,
    accounts: authorities,
    roles: Object.fromEntries(AUTHORITIES.map((a) => [a.role, a.name])) as Record<RoleName, string>,
  });
}
