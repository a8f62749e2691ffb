/**
 * Who signs: account keys from the key store (labelled with the account
 * name), role keys from the environment (EXCHANGE_MASTER_KEY, FEE_ADMIN_KEY,
 * AGENT_VERIFICATION_KEY, IMMUTABLE_GOVERNANCE_KEY) or --key-path FILE, and,
 * in network mode local, the dev chain's authority keys kept beside its data.
 */
import { ml_dsa87 } from "@noble/post-quantum/ml-dsa.js";
import { blake3 } from "../../core/mod.ts";
import type { Config } from "../../config/mod.ts";
import { createNobleBackend } from "../../crypto/noble.ts";
import { type KeyInfo, KeyStore, parseSeedSecret, toHex } from "../../keys/mod.ts";
import { keyStoreDir } from "../../node/identity.ts";
import { AUTHORITIES, localAuthorityFile } from "../../node/genesis_build.ts";
import { CliError } from "../_errors.ts";
import { passphrase } from "../_passphrase.ts";
import { type Ctx, type Json, short, str, who } from "./context.ts";

export interface Signer {
  id: string;
  publicKey: Uint8Array;
  secretKey: Uint8Array;
  /** Where the key came from, for messages. */
  source: string;
}

export function signerFromSeed(seed: Uint8Array, source: string): Signer {
  const { publicKey, secretKey } = ml_dsa87.keygen(seed);
  return { id: toHex(blake3(publicKey)), publicKey, secretKey, source };
}

export function store(ctx: Ctx): KeyStore {
  return new KeyStore({ dir: keyStoreDir(ctx.config.node.dataDir), backend: createNobleBackend() });
}

/** A key file (sealed; the passphrase is asked for) or a seed file of 64 hex digits. */
export async function signerFromKeyPath(ctx: Ctx, path: string): Promise<Signer> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (cause) {
    const why = cause instanceof Deno.errors.NotFound ? "no such file" : (cause as Error).message;
    throw new CliError("key_not_found", `cannot read --key-path ${path}: ${why}`, { cause });
  }
  if (/^\s*[0-9a-fA-F]{64}\s*$/.test(text)) return signerFromSeed(parseSeedSecret(`--key-path ${path}`, text), path);
  const s = store(ctx);
  const info = s.read(path);
  if (info.algorithm !== "ml-dsa") {
    throw new CliError("key_invalid", `${path} is an ML-KEM key; transactions are signed with ML-DSA-87 keys`);
  }
  const unlocked = await s.unlock(path, await passphrase(ctx.config, ctx.io, false));
  return signerFromSeed(unlocked.secret, `key file ${path}`);
}

export interface Role {
  /** Key of the role in /status roles. */
  key: "exchangeMaster" | "feeAdmin" | "agentVerifier" | "governance";
  what: string;
  secret: string;
  value: (c: Config) => string | null;
}

export const ROLES = {
  exchangeMaster: {
    key: "exchangeMaster",
    what: "exchange master key (mint)",
    secret: "EXCHANGE_MASTER_KEY",
    value: (c) => c.secrets.exchangeMasterKey,
  },
  feeAdmin: {
    key: "feeAdmin",
    what: "fee admin key (configure-fees)",
    secret: "FEE_ADMIN_KEY",
    value: (c) => c.secrets.feeAdminKey,
  },
  agentVerifier: {
    key: "agentVerifier",
    what: "agent verification key (verify-agent)",
    secret: "AGENT_VERIFICATION_KEY",
    value: (c) => c.secrets.agentVerificationKey,
  },
  governance: {
    key: "governance",
    what: "immutable governance key (deploy-immutable, governance-override)",
    secret: "IMMUTABLE_GOVERNANCE_KEY",
    value: (c) => c.secrets.immutableGovernanceKey,
  },
} as const satisfies Record<string, Role>;

/**
 * The role's key: --key-path FILE, else its secret (EXCHANGE_MASTER_KEY, ...),
 * else, in network mode local, the dev chain's authority seed kept beside its
 * data (made by `deno task dev` with the chain).
 */
export async function roleSigner(ctx: Ctx, role: Role): Promise<Signer> {
  const path = str("--key-path", ctx.parsed, false);
  if (path !== undefined) return await signerFromKeyPath(ctx, path);
  const value = role.value(ctx.config);
  if (value) return signerFromSeed(parseSeedSecret(role.secret, value), role.secret);
  const seed = localRoleSeed(ctx.config, role);
  if (seed !== null) {
    return signerFromSeed(parseSeedSecret(seed.path, seed.text), `the local chain's key ${seed.path}`);
  }
  const local = ctx.config.node.networkMode === "local"
    ? `; a local chain made by \`deno task dev\` keeps it in ${
      localAuthorityFile(ctx.config.node.dataDir, authorityOf(role))
    }, none there`
    : "";
  throw new CliError(
    "key_missing",
    `this needs the ${role.what}: set ${role.secret} (the ML-DSA-87 seed, 64 hex digits${local}) or pass ` +
      "--key-path FILE",
  );
}

function authorityOf(role: Role): string {
  const a = AUTHORITIES.find((x) => x.role === role.key);
  if (a === undefined) throw new Error(`no authority holds ${role.key}`);
  return a.name;
}

/** In network mode local: the role's seed file beside the dev chain's data, when there is one. */
function localRoleSeed(config: Config, role: Role): { path: string; text: string } | null {
  if (config.node.networkMode !== "local") return null;
  const path = localAuthorityFile(config.node.dataDir, authorityOf(role));
  try {
    return { path, text: Deno.readTextFileSync(path) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new CliError("key_not_found", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The signer must hold the role on this ledger (checked before submitting, so no nonce is spent on a refusal). */
export function checkRole(status: Json, role: Role, signer: Signer): void {
  const holder = (status.roles as Record<string, { id: string; name: string | null }>)[role.key];
  if (holder.id !== signer.id) {
    throw new CliError(
      "not_authorized",
      `${signer.source} is not the ${role.what} of this ledger: it signs for account ${
        short(signer.id)
      }, the role belongs to ${who(holder)}`,
    );
  }
}

/** An account key in the store: by label (the account name), else by key id prefix (8+ hex digits). */
export function findAccountKey(ctx: Ctx, ref: string): KeyInfo {
  const s = store(ctx);
  const labelled = s.findLabelled("account", ref);
  if (labelled) return labelled;
  if (/^[0-9a-f]{8,64}$/.test(ref)) {
    const k = s.find(ref);
    if (k.algorithm === "ml-dsa") return k;
  }
  throw new CliError(
    "key_not_found",
    `no account key for "${ref}" in ${s.dir} (by account name or key id prefix); make one with ` +
      `"qudag exchange create-account --name NAME", or point --data-dir / QUDAG_DATA_DIR at the store that has it`,
  );
}

export async function accountSigner(ctx: Ctx, ref: string): Promise<Signer> {
  const info = findAccountKey(ctx, ref);
  const unlocked = await store(ctx).unlock(info.path, await passphrase(ctx.config, ctx.io, false, true));
  return signerFromSeed(unlocked.secret, `account key ${info.label ?? short(info.keyId)}`);
}
