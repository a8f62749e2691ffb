import { selectCryptoBackend } from "../crypto/select.ts";
import {
  KEY_ALGORITHMS,
  KEY_PURPOSES,
  type KeyAlgorithm,
  type KeyInfo,
  type KeyPurpose,
  KeyStore,
  toHex,
} from "../keys/mod.ts";
import { keyStoreDir } from "../node/identity.ts";
import { UsageError } from "./_args.ts";
import type { Command, Group } from "./_command.ts";
import { CONFIG_FLAG, configFlagSpecs, loadConfig } from "./_config.ts";
import { passphrase } from "./_passphrase.ts";

const STORE_FLAGS = [CONFIG_FLAG, ...configFlagSpecs(["node.data_dir"])];

const ALGORITHM_NAMES: Record<KeyAlgorithm, string> = { "ml-dsa": "ML-DSA-87", "ml-kem": "ML-KEM-768" };

function describe(k: KeyInfo): Record<string, string> {
  return {
    keyId: k.keyId,
    algorithm: ALGORITHM_NAMES[k.algorithm],
    purpose: k.purpose,
    ...(k.label === undefined ? {} : { label: k.label }),
    createdAt: k.createdAt,
    path: k.path,
  };
}

function oneOf<T extends string>(flag: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string") throw new UsageError(`${flag} is required (${allowed.join("|")})`);
  if (!allowed.includes(value as T)) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not one of ${allowed.join(", ")}`);
  }
  return value as T;
}

const generate: Command = {
  name: "generate",
  summary: "make a new ML-DSA-87 or ML-KEM-768 key, encrypted at rest",
  usage: `qudag key generate --algorithm ${KEY_ALGORITHMS.join("|")} --purpose ${KEY_PURPOSES.join("|")} [--out FILE]`,
  flags: [
    { name: "--algorithm", kind: "string", value: KEY_ALGORITHMS.join("|"), help: "ML-DSA-87 (signing) or ML-KEM-768" },
    { name: "--purpose", kind: "string", value: "PURPOSE", help: `what the key is for: ${KEY_PURPOSES.join(", ")}` },
    { name: "--out", kind: "string", value: "FILE", help: "write the key file here instead of the key store" },
    { name: "--json", kind: "bool", help: "print the result as JSON" },
    ...STORE_FLAGS,
  ],
  details: "The passphrase comes from QUDAG_KEY_PASSPHRASE, or is asked twice on a terminal.",
  async run(parsed, io) {
    const algorithm = oneOf("--algorithm", parsed.flags["--algorithm"], KEY_ALGORITHMS);
    const purpose = oneOf("--purpose", parsed.flags["--purpose"], KEY_PURPOSES);
    const config = loadConfig(parsed, io);
    const pass = await passphrase(config, io, true);
    const { backend } = await selectCryptoBackend({
      requested: config.crypto.backend,
      nativeLibraryPath: config.crypto.nativeLibrary,
    });
    const store = new KeyStore({ dir: keyStoreDir(config.node.dataDir), backend });
    const out = parsed.flags["--out"];
    const info = await store.generate(
      algorithm,
      purpose as KeyPurpose,
      pass,
      typeof out === "string" ? out : undefined,
    );
    if (parsed.flags["--json"]) io.out(JSON.stringify(describe(info), null, 2));
    else io.out(`generated ${ALGORITHM_NAMES[algorithm]} ${purpose} key ${info.keyId}\nwritten to ${info.path}`);
    return 0;
  },
};

const list: Command = {
  name: "list",
  summary: "list the keys in the key store",
  usage: "qudag key list [--data-dir DIR] [--json]",
  flags: [{ name: "--json", kind: "bool", help: "print as JSON" }, ...STORE_FLAGS],
  run(parsed, io) {
    const config = loadConfig(parsed, io);
    const dir = keyStoreDir(config.node.dataDir);
    const { keys, errors } = new KeyStore({ dir }).list();
    if (parsed.flags["--json"]) {
      io.out(
        JSON.stringify(
          { keys: keys.map(describe), errors: errors.map((e) => ({ code: e.code, message: e.message })) },
          null,
          2,
        ),
      );
    } else {
      if (keys.length === 0) io.out(`no keys in ${dir}`);
      for (const k of keys) {
        io.out(
          `${k.keyId.slice(0, 16)}  ${ALGORITHM_NAMES[k.algorithm].padEnd(10)}  ${k.purpose.padEnd(20)}  ${
            (k.label ?? "").padEnd(16)
          }  ${k.createdAt}`,
        );
      }
      for (const e of errors) io.err(`warning: ${e.message} [${e.code}]`);
    }
    return Promise.resolve(errors.length > 0 ? 1 : 0);
  },
};

const show: Command = {
  name: "show",
  summary: "show one key's public details",
  usage: "qudag key show (KEY-ID-PREFIX | PURPOSE | --file FILE) [--public-key] [--json]",
  maxPositionals: 1,
  flags: [
    { name: "--file", kind: "string", value: "FILE", help: "a key file outside the store" },
    { name: "--public-key", kind: "bool", help: "also print the public key (hex)" },
    { name: "--json", kind: "bool", help: "print as JSON" },
    ...STORE_FLAGS,
  ],
  details: "Secrets are never shown.",
  run(parsed, io) {
    const config = loadConfig(parsed, io);
    const store = new KeyStore({ dir: keyStoreDir(config.node.dataDir) });
    const file = parsed.flags["--file"];
    const ref = parsed.positionals[0];
    if (!ref && typeof file !== "string") {
      throw new UsageError("name a key: a key id prefix, a purpose, or --file FILE");
    }
    const info = typeof file === "string" ? store.read(file) : store.find(ref);
    const d: Record<string, string> = describe(info);
    if (parsed.flags["--public-key"]) d.publicKey = toHex(info.publicKey);
    if (parsed.flags["--json"]) io.out(JSON.stringify(d, null, 2));
    else io.out(Object.entries(d).map(([k, v]) => `${k.padEnd(10)}  ${v}`).join("\n"));
    return Promise.resolve(0);
  },
};

export const key: Group = {
  name: "key",
  summary: "generate, list and show keys",
  commands: [generate, list, show],
};
