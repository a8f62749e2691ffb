/**
 * The key store: ML-DSA-87 and ML-KEM-768 keys in files under <dataDir>/keys,
 * each secret sealed with AES-256-GCM under a key derived from a passphrase by
 * scrypt (memory-hard; node:crypto's native implementation, ~0.5 s at the
 * default cost). The file's public header is the GCM associated data, so editing
 * it breaks decryption. A separate check value tells a wrong passphrase apart
 * from a damaged file.
 */
import { scrypt } from "node:crypto";
import { blake3 } from "../core/mod.ts";
import type { CryptoBackend } from "../crypto/backend.ts";

export const KEY_ALGORITHMS = ["ml-dsa", "ml-kem"] as const;
export type KeyAlgorithm = typeof KEY_ALGORITHMS[number];
export const KEY_PURPOSES = [
  "node",
  "exchange-master",
  "immutable-governance",
  "fee-configuration",
  "agent-verification",
  "account",
  // Made through POST /api/v1/crypto/keys/generate; used by the node for /decrypt and /sign.
  "api",
  // The vault's ML-KEM-768 key, sealed into the database (src/vault), never a file in the store.
  "vault",
] as const;
export type KeyPurpose = typeof KEY_PURPOSES[number];

export const KEY_FILE_FORMAT = "qudag-key/1";

/** An optional label in a key file's public header (an exchange account's name): 1..64 of [a-z0-9_-]. */
export const KEY_LABEL_RE = /^[a-z0-9_-]{1,64}$/;

export type KeyErrorCode =
  | "key_passphrase_missing"
  | "key_passphrase_wrong"
  | "key_file_corrupt"
  | "key_not_found"
  | "key_exists"
  | "key_invalid"
  | "key_kdf_refused"
  | "key_io"
  | "key_wrong_algorithm"
  | "key_store_full";

export class KeyError extends Error {
  readonly code: KeyErrorCode;
  constructor(code: KeyErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KeyError";
    this.code = code;
  }
}

export interface KdfParams {
  /** log2 of scrypt's N. */
  log2N: number;
  r: number;
  p: number;
}

/** OWASP's scrypt floor is N=2^17, r=8, p=1: 128 MiB per derivation. */
export const DEFAULT_KDF: KdfParams = Object.freeze({ log2N: 17, r: 8, p: 1 });
const KDF_LOG2N_RANGE = [10, 20] as const;
/**
 * What a key file may ask of this machine: scrypt's memory (128·N·r bytes),
 * at most twice the default, and its work (N·r·p block mixes), at most four
 * times the default (~2 s). A file is data: without these caps one asking for
 * N=2^20, r=32 made every unlock (and `qudag key list` reading it) try to
 * allocate 4 GiB.
 */
export const KDF_MEMORY_BYTES_MAX = 256 * 1024 * 1024;
export const KDF_WORK_MAX = 2 ** 22;

/** Throws key_kdf_refused if `kdf` asks for more memory or work than allowed; `where` names the file. */
export function checkKdfCost(kdf: KdfParams, where: string): void {
  const N = 2 ** kdf.log2N;
  const memory = 128 * N * kdf.r;
  const work = N * kdf.r * kdf.p;
  const asked = `scrypt N=2^${kdf.log2N}, r=${kdf.r}, p=${kdf.p}`;
  if (memory > KDF_MEMORY_BYTES_MAX) {
    throw new KeyError(
      "key_kdf_refused",
      `${where} asks for ${asked}, which needs ${memory / 2 ** 20} MiB of memory; at most ${
        KDF_MEMORY_BYTES_MAX / 2 ** 20
      } MiB is allowed`,
    );
  }
  if (work > KDF_WORK_MAX) {
    throw new KeyError(
      "key_kdf_refused",
      `${where} asks for ${asked}: N·r·p = 2^${Math.log2(work)}; at most 2^${Math.log2(KDF_WORK_MAX)} is allowed`,
    );
  }
}

interface KeyFileJson {
  format: string;
  algorithm: string;
  purpose: string;
  keyId: string;
  publicKey: string;
  createdAt: string;
  /** Optional; authenticated with the rest of the header. */
  label?: string;
  kdf: { name: string; log2N: number; r: number; p: number; salt: string };
  check: string;
  cipher: { name: string; iv: string };
  ciphertext: string;
}

export interface KeyInfo {
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  readonly purpose: KeyPurpose;
  readonly publicKey: Uint8Array;
  readonly createdAt: string;
  readonly path: string;
  /** The header's label (an exchange account's name), if it has one. */
  readonly label?: string;
}

export interface UnlockedKey extends KeyInfo {
  /** ML-DSA-87: the 32-byte seed. ML-KEM-768: the 64-byte d || z. */
  readonly secret: Uint8Array;
}

const toB64 = (b: Uint8Array) => b.toBase64();

export function toHex(b: Uint8Array): string {
  return b.toHex();
}

export function fromHex(s: string): Uint8Array {
  try {
    return Uint8Array.fromHex(s);
  } catch {
    throw new KeyError("key_invalid", "not a hex string");
  }
}

/** A key's id: BLAKE3-256 of its public key (by the WASM core), hex. For ML-DSA keys this is the validator/account id. */
export function keyIdOf(publicKey: Uint8Array): string {
  return toHex(blake3(publicKey));
}

function deriveKey(passphrase: string, salt: Uint8Array, kdf: KdfParams): Promise<Uint8Array> {
  const N = 2 ** kdf.log2N;
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize("NFC"), salt, 64, { N, r: kdf.r, p: kdf.p, maxmem: 256 * N * kdf.r + 1024 * 1024 }, (
      err,
      key,
    ) => err ? reject(err) : resolve(new Uint8Array(key)));
  });
}

/** Where sealing keys come from: a passphrase run through scrypt, with a salt per seal or per session. */
interface Deriver {
  readonly kdf: KdfParams;
  /** The salt a new seal uses. */
  newSalt(): Uint8Array;
  derive(salt: Uint8Array, kdf: KdfParams): Promise<Uint8Array>;
}

function oneShot(passphrase: string, kdf: KdfParams): Deriver {
  return {
    kdf,
    newSalt: () => crypto.getRandomValues(new Uint8Array(16)),
    derive: (salt, k) => deriveKey(passphrase, salt, k),
  };
}

/** Derived keys a session remembers; a file sealed elsewhere (its own salt) adds one. */
const SESSION_CACHE_MAX = 64;

/**
 * One passphrase held by a long-running process (the node) that seals and
 * opens many keys: every key it seals shares the session's salt, so scrypt
 * runs once per session and once per foreign salt, not once per key (scrypt
 * costs ~0.5 s and 128 MiB at the default parameters). Each sealed key still
 * has its own random AES-GCM nonce under the derived key.
 */
export class KeySession implements Deriver {
  readonly kdf: KdfParams;
  readonly #passphrase: string;
  readonly #salt = crypto.getRandomValues(new Uint8Array(16));
  readonly #cache = new Map<string, Promise<Uint8Array>>();
  #derivations = 0;

  constructor(passphrase: string, kdf: KdfParams = DEFAULT_KDF) {
    if (!passphrase) throw new KeyError("key_passphrase_missing", "an empty passphrase cannot protect a key");
    this.#passphrase = passphrase;
    this.kdf = kdf;
  }

  newSalt(): Uint8Array {
    return this.#salt;
  }

  /** How many times scrypt ran for this session. */
  get derivations(): number {
    return this.#derivations;
  }

  derive(salt: Uint8Array, kdf: KdfParams): Promise<Uint8Array> {
    const key = `${toB64(salt)}/${kdf.log2N}/${kdf.r}/${kdf.p}`;
    let derived = this.#cache.get(key);
    if (!derived) {
      if (this.#cache.size >= SESSION_CACHE_MAX) this.#cache.delete(this.#cache.keys().next().value!);
      this.#derivations++;
      derived = deriveKey(this.#passphrase, salt, kdf);
      // A failed derivation is not remembered.
      derived.catch(() => this.#cache.delete(key));
      this.#cache.set(key, derived);
    }
    return derived;
  }
}

function deriverOf(passphrase: string | KeySession, kdf: KdfParams): Deriver {
  return typeof passphrase === "string" ? oneShot(passphrase, kdf) : passphrase;
}

function header(f: Omit<KeyFileJson, "check" | "cipher" | "ciphertext">): Uint8Array<ArrayBuffer> {
  // Associated data: every public field, in a fixed order (the label only when present, so older files still open).
  return new TextEncoder().encode(
    JSON.stringify([
      f.format,
      f.algorithm,
      f.purpose,
      f.keyId,
      f.publicKey,
      f.createdAt,
      f.kdf,
      ...(f.label === undefined ? [] : [f.label]),
    ]),
  );
}

async function seal(
  secret: Uint8Array,
  deriver: Deriver,
  meta: Omit<KeyFileJson, "kdf" | "check" | "cipher" | "ciphertext">,
): Promise<KeyFileJson> {
  const kdf = deriver.kdf;
  const salt = deriver.newSalt();
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const derived = await deriver.derive(salt, kdf);
  const withKdf = { ...meta, kdf: { name: "scrypt", ...kdf, salt: toB64(salt) } };
  const aesKey = await crypto.subtle.importKey("raw", derived.slice(0, 32), "AES-GCM", false, ["encrypt"]);
  const ct = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: header(withKdf) }, aesKey, secret.slice()),
  );
  return {
    ...withKdf,
    check: toB64(blake3(derived.slice(32), 16)),
    cipher: { name: "aes-256-gcm", iv: toB64(iv) },
    ciphertext: toB64(ct),
  };
}

function parseKeyFile(text: string, path: string): KeyFileJson {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    throw new KeyError("key_file_corrupt", `key file ${path} is corrupt: not valid JSON`);
  }
  const f = j as Partial<KeyFileJson>;
  const bad = (what: string) => new KeyError("key_file_corrupt", `key file ${path} is corrupt: ${what}`);
  if (typeof f !== "object" || f === null) throw bad("not a JSON object");
  if (f.format !== KEY_FILE_FORMAT) throw bad(`format is ${JSON.stringify(f.format)}, expected "${KEY_FILE_FORMAT}"`);
  if (!KEY_ALGORITHMS.includes(f.algorithm as KeyAlgorithm)) {
    throw bad(`unknown algorithm ${JSON.stringify(f.algorithm)}`);
  }
  if (!KEY_PURPOSES.includes(f.purpose as KeyPurpose)) throw bad(`unknown purpose ${JSON.stringify(f.purpose)}`);
  for (const k of ["keyId", "publicKey", "createdAt", "check", "ciphertext"] as const) {
    if (typeof f[k] !== "string") throw bad(`field ${k} is missing`);
  }
  if (f.label !== undefined && (typeof f.label !== "string" || !KEY_LABEL_RE.test(f.label))) {
    throw bad("label is not 1..64 of [a-z0-9_-]");
  }
  const kdf = f.kdf;
  if (
    !kdf || kdf.name !== "scrypt" || typeof kdf.salt !== "string" || !Number.isInteger(kdf.log2N) ||
    kdf.log2N < KDF_LOG2N_RANGE[0] || kdf.log2N > KDF_LOG2N_RANGE[1] || !Number.isInteger(kdf.r) || kdf.r < 1 ||
    kdf.r > 32 || !Number.isInteger(kdf.p) || kdf.p < 1 || kdf.p > 16
  ) throw bad("kdf parameters are missing or out of range");
  checkKdfCost(kdf, `key file ${path}`);
  if (!f.cipher || f.cipher.name !== "aes-256-gcm" || typeof f.cipher.iv !== "string") {
    throw bad("cipher is not aes-256-gcm");
  }
  try {
    const pk = Uint8Array.fromBase64(f.publicKey!);
    if (keyIdOf(pk) !== f.keyId) throw bad("keyId does not match the public key");
    if (Uint8Array.fromBase64(f.cipher.iv).length !== 12 || Uint8Array.fromBase64(kdf.salt).length < 16) {
      throw bad("iv or salt has a wrong length");
    }
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw bad("a field is not valid base64");
  }
  return f as KeyFileJson;
}

async function unseal(f: KeyFileJson, deriver: Deriver, path: string): Promise<Uint8Array> {
  const kdf = { log2N: f.kdf.log2N, r: f.kdf.r, p: f.kdf.p };
  const derived = await deriver.derive(Uint8Array.fromBase64(f.kdf.salt), kdf);
  if (toB64(blake3(derived.slice(32), 16)) !== f.check) {
    throw new KeyError("key_passphrase_wrong", `wrong passphrase for key file ${path}`);
  }
  const aesKey = await crypto.subtle.importKey("raw", derived.slice(0, 32), "AES-GCM", false, ["decrypt"]);
  try {
    const { check: _c, cipher: _ci, ciphertext: _ct, ...meta } = f;
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: Uint8Array.fromBase64(f.cipher.iv), additionalData: header(meta) },
        aesKey,
        Uint8Array.fromBase64(f.ciphertext),
      ),
    );
  } catch (cause) {
    throw new KeyError(
      "key_file_corrupt",
      `key file ${path} is corrupt: the passphrase is right but the sealed key or its header was modified`,
      { cause },
    );
  }
}

/** Public key of a secret, computed by the crypto backend. */
export async function publicKeyOf(
  backend: CryptoBackend,
  algorithm: KeyAlgorithm,
  secret: Uint8Array,
): Promise<Uint8Array> {
  if (algorithm === "ml-dsa") return (await backend.mlDsaSigner(secret)).publicKey;
  const kp = await backend.mlKemKeygen(768, secret.subarray(0, 32), secret.subarray(32, 64));
  return kp.encapsulationKey;
}

export interface KeyStoreOptions {
  dir: string;
  /** Needed to make or unlock keys; listing and reading public parts work without. */
  backend?: CryptoBackend;
  kdf?: KdfParams;
  now?: () => Date;
}

export class KeyStore {
  readonly dir: string;
  readonly #backendOrNull: CryptoBackend | null;
  readonly #kdf: KdfParams;
  readonly #now: () => Date;

  constructor(o: KeyStoreOptions) {
    this.dir = o.dir.replace(/\/+$/, "");
    this.#backendOrNull = o.backend ?? null;
    this.#kdf = o.kdf ?? DEFAULT_KDF;
    checkKdfCost(this.#kdf, "the key store's kdf setting");
    this.#now = o.now ?? (() => new Date());
  }

  get #backend(): CryptoBackend {
    if (!this.#backendOrNull) throw new Error("KeyStore was opened without a crypto backend");
    return this.#backendOrNull;
  }

  /** Makes a key, seals it and writes it to `out` or to the store. Returns its public info. */
  async generate(
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    passphrase: string | KeySession,
    out?: string,
    label?: string,
  ): Promise<KeyInfo> {
    if (passphrase === "") throw new KeyError("key_passphrase_missing", "an empty passphrase cannot protect a key");
    const secret = crypto.getRandomValues(new Uint8Array(algorithm === "ml-dsa" ? 32 : 64));
    return await this.import(algorithm, purpose, secret, passphrase, out, label);
  }

  /** Seals a given secret (seed) into a key file, with an optional `label` in its authenticated header. */
  async import(
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    secret: Uint8Array,
    passphrase: string | KeySession,
    out?: string,
    label?: string,
  ): Promise<KeyInfo> {
    if (label !== undefined && !KEY_LABEL_RE.test(label)) {
      throw new KeyError("key_invalid", `label ${JSON.stringify(label)} is not 1..64 of [a-z0-9_-]`);
    }
    const publicKey = await publicKeyOf(this.#backend, algorithm, secret);
    const keyId = keyIdOf(publicKey);
    const createdAt = this.#now().toISOString();
    const file = await seal(secret, deriverOf(passphrase, this.#kdf), {
      format: KEY_FILE_FORMAT,
      algorithm,
      purpose,
      keyId,
      publicKey: toB64(publicKey),
      createdAt,
      ...(label === undefined ? {} : { label }),
    });
    const path = out ?? `${this.dir}/${purpose}-${keyId.slice(0, 16)}.key.json`;
    try {
      if (!out) Deno.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      Deno.writeTextFileSync(path, JSON.stringify(file, null, 2) + "\n", { createNew: true, mode: 0o600 });
    } catch (cause) {
      if (cause instanceof Deno.errors.AlreadyExists) {
        throw new KeyError("key_exists", `${path} already exists; refusing to overwrite a key`, { cause });
      }
      throw new KeyError("key_io", `cannot write key file ${path}: ${(cause as Error).message}`, { cause });
    }
    return { keyId, algorithm, purpose, publicKey, createdAt, path, ...(label === undefined ? {} : { label }) };
  }

  /** Every key file in the store (public parts only; no passphrase needed). Corrupt files are reported, not hidden. */
  list(): { keys: KeyInfo[]; errors: KeyError[] } {
    const keys: KeyInfo[] = [];
    const errors: KeyError[] = [];
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(this.dir)];
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound) return { keys, errors };
      throw new KeyError("key_io", `cannot read key store ${this.dir}: ${(cause as Error).message}`, { cause });
    }
    for (
      const e of entries.filter((e) => e.isFile && e.name.endsWith(".key.json")).sort((a, b) =>
        a.name.localeCompare(b.name)
      )
    ) {
      try {
        keys.push(this.read(`${this.dir}/${e.name}`));
      } catch (err) {
        if (err instanceof KeyError) errors.push(err);
        else throw err;
      }
    }
    return { keys, errors };
  }

  /** Public info of one key file. */
  read(path: string): KeyInfo {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound) {
        throw new KeyError("key_not_found", `no key file at ${path}`, { cause });
      }
      throw new KeyError("key_io", `cannot read key file ${path}: ${(cause as Error).message}`, { cause });
    }
    const f = parseKeyFile(text, path);
    return {
      keyId: f.keyId,
      algorithm: f.algorithm as KeyAlgorithm,
      purpose: f.purpose as KeyPurpose,
      publicKey: Uint8Array.fromBase64(f.publicKey),
      createdAt: f.createdAt,
      path,
      ...(f.label === undefined ? {} : { label: f.label }),
    };
  }

  /** Finds a key by id prefix (at least 8 hex digits) or by purpose when exactly one has it. */
  find(ref: string): KeyInfo {
    const { keys } = this.list();
    const lower = ref.toLowerCase();
    const matches = /^[0-9a-f]{8,64}$/.test(lower)
      ? keys.filter((k) => k.keyId.startsWith(lower))
      : keys.filter((k) => k.purpose === ref);
    if (matches.length === 1) return matches[0];
    if (matches.length === 0) throw new KeyError("key_not_found", `no key matches "${ref}" in ${this.dir}`);
    throw new KeyError(
      "key_invalid",
      `"${ref}" matches ${matches.length} keys (${
        matches.map((k) => k.keyId.slice(0, 16)).join(", ")
      }); give a longer key id`,
    );
  }

  /** The key of `purpose` whose header label is `label`, or null; several such keys are an error (key_invalid). */
  findLabelled(purpose: KeyPurpose, label: string): KeyInfo | null {
    const matches = this.list().keys.filter((k) => k.purpose === purpose && k.label === label);
    if (matches.length > 1) {
      throw new KeyError(
        "key_invalid",
        `${matches.length} ${purpose} keys are labelled "${label}" in ${this.dir} (${
          matches.map((k) => k.keyId.slice(0, 16)).join(", ")
        }); name one by key id`,
      );
    }
    return matches[0] ?? null;
  }

  /** Decrypts a key file and checks that the secret really belongs to the public key. */
  async unlock(path: string, passphrase: string | KeySession | null): Promise<UnlockedKey> {
    const info = this.read(path);
    if (!passphrase) {
      throw new KeyError(
        "key_passphrase_missing",
        `key file ${path} is encrypted: set QUDAG_KEY_PASSPHRASE or run on a terminal to be asked`,
      );
    }
    const f = parseKeyFile(Deno.readTextFileSync(path), path);
    const secret = await unseal(f, deriverOf(passphrase, this.#kdf), path);
    const expected = info.algorithm === "ml-dsa" ? 32 : 64;
    if (secret.length !== expected) {
      throw new KeyError(
        "key_file_corrupt",
        `key file ${path} is corrupt: secret is ${secret.length} bytes, expected ${expected}`,
      );
    }
    const pk = await publicKeyOf(this.#backend, info.algorithm, secret);
    if (keyIdOf(pk) !== info.keyId) {
      throw new KeyError("key_file_corrupt", `key file ${path} is corrupt: the secret does not match the public key`);
    }
    return { ...info, secret };
  }
}

/**
 * A key sealed exactly as a key file, kept as text somewhere other than the
 * store (the vault keeps its key in the database): the same format, the same
 * authenticated header, the same scrypt and AES-256-GCM.
 */
export async function sealKeyText(
  o: { algorithm: KeyAlgorithm; purpose: KeyPurpose; secret: Uint8Array; publicKey: Uint8Array; createdAt: string },
  passphrase: string | KeySession,
  kdf: KdfParams = DEFAULT_KDF,
): Promise<string> {
  const file = await seal(o.secret, deriverOf(passphrase, kdf), {
    format: KEY_FILE_FORMAT,
    algorithm: o.algorithm,
    purpose: o.purpose,
    keyId: keyIdOf(o.publicKey),
    publicKey: toB64(o.publicKey),
    createdAt: o.createdAt,
  });
  return JSON.stringify(file);
}

/** Opens what sealKeyText made: the secret and the public key it was sealed with. `where` names it in errors. */
export async function openKeyText(
  text: string,
  passphrase: string | KeySession,
  where: string,
): Promise<{ secret: Uint8Array; publicKey: Uint8Array; keyId: string; algorithm: KeyAlgorithm }> {
  const f = parseKeyFile(text, where);
  const secret = await unseal(f, deriverOf(passphrase, f.kdf), where);
  return {
    secret,
    publicKey: Uint8Array.fromBase64(f.publicKey),
    keyId: f.keyId,
    algorithm: f.algorithm as KeyAlgorithm,
  };
}

/**
 * Parses NODE_PRIVATE_KEY-style secrets: 64 hex digits (a 32-byte ML-DSA-87
 * seed) or base64 of 32 bytes. Never echoes the value in errors.
 */
export function parseSeedSecret(name: string, value: string): Uint8Array {
  const v = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return fromHex(v);
  try {
    const b = Uint8Array.fromBase64(v);
    if (b.length === 32) return b;
  } catch { /* fall through */ }
  throw new KeyError(
    "key_invalid",
    `${name} must be a 32-byte ML-DSA-87 seed as 64 hex digits or base64 (value not shown)`,
  );
}
