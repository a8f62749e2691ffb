/**
 * Configuration: a TOML file, then the environment, then flags, resolved once
 * into a frozen object. This module is the only reader of Deno.env.
 */
import { parse as parseToml, TomlError } from "smol-toml";
import { type ConfigValue, ENV_NAMES, type Field, FIELDS, MOVED_ENV } from "./schema.ts";

export { ENV_NAMES, FIELDS, MOVED_ENV };
export type { Field };

export class ConfigError extends Error {
  readonly code = "config_invalid";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigError";
  }
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";
export type NetworkMode = "local" | "devnet" | "testnet" | "mainnet";
export type CryptoBackendChoice = "auto" | "native" | "webcrypto" | "noble";
export type ExchangeNodeType = "full" | "exchange-only" | "validator" | "light";

export interface Config {
  readonly node: {
    readonly id: string | null;
    readonly networkMode: NetworkMode;
    readonly dataDir: string;
    readonly genesisFile: string | null;
  };
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly shutdownTimeoutMs: number;
    /** CORS for reads (src/http/cache.ts); empty: none. */
    readonly corsOrigins: readonly string[];
    readonly corsMaxAgeS: number;
    readonly cacheMaxAgeS: number;
    readonly cacheImmutableMaxAgeS: number;
    /** Per-client request budgets (src/http/rate_limit.ts); false: no limiting. */
    readonly rateLimit: boolean;
    readonly rateLimitReadsPerMinute: number;
    readonly rateLimitReadsBurst: number;
    readonly rateLimitWritesPerMinute: number;
    readonly rateLimitWritesBurst: number;
    readonly rateLimitKeyMultiplier: number;
  };
  readonly metrics: { readonly host: string; readonly port: number };
  readonly exchange: {
    readonly enabled: boolean;
    readonly port: number;
    readonly nodeType: ExchangeNodeType;
    readonly genesis: boolean;
  };
  readonly p2p: {
    readonly host: string;
    readonly port: number;
    readonly peers: readonly string[];
    readonly bootstrap: string | null;
    readonly maxPeers: number;
  };
  readonly dag: { readonly syncIntervalS: number };
  readonly settlement: { readonly lagMs: number };
  readonly consensus: {
    readonly batchTxsMax: number;
    readonly batchDelayMs: number;
    readonly batchWindow: number;
    readonly batchDelayMaxMs: number;
    readonly pendingTxsMax: number;
    readonly busyLagMs: number;
    readonly fetchGraceMs: number;
  };
  readonly storage: {
    readonly snapshotEvery: number;
    readonly snapshotsKept: number;
    readonly pruneBeforeCheckpoints: number;
  };
  readonly sync: {
    readonly enabled: boolean;
    readonly behindMin: number;
    readonly waitMs: number;
    readonly resyncAfterMs: number;
  };
  readonly log: { readonly level: LogLevel };
  readonly crypto: { readonly backend: CryptoBackendChoice; readonly nativeLibrary: string };
  readonly fees: {
    readonly enabled: boolean;
    readonly fMin: number;
    readonly fMax: number;
    readonly fMinVerified: number;
    readonly fMaxVerified: number;
    readonly timeConstantDays: number;
    readonly usageThreshold: number;
  };
  readonly immutable: { readonly enabled: boolean; readonly gracePeriodHours: number };
  readonly fly: {
    readonly appName: string | null;
    readonly region: string | null;
    readonly privateIp: string | null;
    readonly machineId: string | null;
  };
  readonly cli: { readonly nodeUrl: string; readonly exchangeUrl: string | null };
  readonly secrets: {
    readonly nodePrivateKey: string | null;
    readonly peerAuthToken: string | null;
    readonly exchangeMasterKey: string | null;
    readonly immutableGovernanceKey: string | null;
    readonly feeAdminKey: string | null;
    readonly agentVerificationKey: string | null;
    readonly keyPassphrase: string | null;
    readonly apiKey: string | null;
    readonly vaultPassphrase: string | null;
  };
  /** Where each key's value came from: "default", "file", "env NAME", "flag --x". */
  readonly sources: Readonly<Record<string, string>>;
  /** Environment names set that qudag does not read (MOVED_ENV), with where that setting lives; `start` refuses them. */
  readonly moved: readonly { readonly name: string; readonly message: string }[];
  readonly configFile: string | null;
}

export interface ConfigInput {
  /** Contents of the TOML file and its name (for messages). */
  toml?: { text: string; name: string };
  env?: Readonly<Record<string, string | undefined>>;
  /** Flag values by long flag name (`--http-port`); repeated flags as arrays. */
  flags?: Readonly<Record<string, string | boolean | readonly string[]>>;
}

const FIELD_BY_KEY = new Map(FIELDS.map((f) => [f.key, f]));
const FIELD_BY_FLAG = new Map(FIELDS.filter((f) => f.flag).map((f) => [f.flag!, f]));

/** Long flags `qudag start` accepts for configuration, with their help. */
export function configFlags(): readonly Field[] {
  return FIELDS.filter((f) => f.flag);
}

export function fieldForFlag(flag: string): Field | undefined {
  return FIELD_BY_FLAG.get(flag);
}

/** Reads exactly the environment names the configuration knows; nothing else. */
export function readEnv(): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const name of ENV_NAMES) {
    try {
      out[name] = Deno.env.get(name);
    } catch (cause) {
      throw new ConfigError(`cannot read environment variable ${name}: ${(cause as Error).message}`, { cause });
    }
  }
  return out;
}

function describeType(f: Field): string {
  const t = f.type;
  switch (t.kind) {
    case "string":
      return t.describe ?? "a string";
    case "int":
      return `an integer from ${t.min} to ${t.max}`;
    case "decimal":
      return `a number from ${t.min} to ${t.max}`;
    case "bool":
      return "true or false";
    case "enum":
      return `one of ${t.values.join(", ")}`;
    case "list":
      return "a list of strings";
    case "port":
      return "a port number from 0 to 65535";
    case "host":
      return "an IPv4 or IPv6 address or a host name";
  }
}

function fail(f: Field, raw: unknown, source: string): never {
  const shown = f.secret ? "<redacted>" : JSON.stringify(raw);
  throw new ConfigError(`${f.key} = ${shown} (from ${source}) is invalid: expected ${describeType(f)}`);
}

const PEER_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(?:[1-9]\d{0,4})$/;
const HOST_RE = /^(?:[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?)$/;

/** Turns a raw value (string from env/flags, or a TOML value) into a typed value, or throws. */
function coerce(f: Field, raw: unknown, source: string, textSource = true): ConfigValue {
  const t = f.type;
  // Text is parsed only from the environment and flags; TOML values must have the right type.
  const fromText = typeof raw === "string" && textSource;
  switch (t.kind) {
    case "string": {
      if (typeof raw !== "string" || raw.length === 0) fail(f, raw, source);
      if (t.pattern && !t.pattern.test(raw)) fail(f, raw, source);
      return raw;
    }
    case "host": {
      if (typeof raw !== "string" || !HOST_RE.test(raw)) fail(f, raw, source);
      return raw.replace(/^\[(.*)\]$/, "$1");
    }
    case "int":
    case "port": {
      let n: number;
      if (fromText) {
        if (!/^-?\d+$/.test(raw.trim())) fail(f, raw, source);
        n = Number(raw.trim());
      } else if (typeof raw === "number" || typeof raw === "bigint") {
        n = Number(raw);
      } else {
        fail(f, raw, source);
      }
      const [min, max] = t.kind === "port" ? [0, 65535] : [t.min, t.max];
      if (!Number.isSafeInteger(n) || n < min || n > max) fail(f, raw, source);
      return n;
    }
    case "decimal": {
      let n: number;
      if (fromText) {
        if (!/^\d+(\.\d+)?$/.test(raw.trim())) fail(f, raw, source);
        n = Number(raw.trim());
      } else if (typeof raw === "number") {
        n = raw;
      } else if (typeof raw === "bigint") {
        n = Number(raw);
      } else {
        fail(f, raw, source);
      }
      if (!Number.isFinite(n) || n < t.min || n > t.max) fail(f, raw, source);
      return n;
    }
    case "bool": {
      if (typeof raw === "boolean") return raw;
      if (fromText) {
        const v = raw.trim().toLowerCase();
        if (["true", "1", "yes", "on"].includes(v)) return true;
        if (["false", "0", "no", "off"].includes(v)) return false;
      }
      fail(f, raw, source);
      break;
    }
    case "enum": {
      if (typeof raw !== "string") fail(f, raw, source);
      const v = raw.trim().toLowerCase();
      if (!t.values.includes(v)) fail(f, raw, source);
      return v;
    }
    case "list": {
      if (fromText) return raw.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
      if (Array.isArray(raw) && raw.every((x) => typeof x === "string" && x.length > 0)) {
        return [...raw] as string[];
      }
      fail(f, raw, source);
    }
  }
}

/** RUST_LOG is `info,qudag_exchange=debug`-style: its bare level is the node's level. */
function normalizeEnv(name: string, value: string): string {
  if (name !== "RUST_LOG") return value;
  const bare = value.split(",").map((s) => s.trim()).find((s) => s && !s.includes("="));
  // "off" has no JSON-log equivalent: the quietest level is error.
  return bare === undefined ? "info" : bare.toLowerCase() === "off" ? "error" : bare;
}

function flattenToml(
  obj: Record<string, unknown>,
  prefix: string,
  out: Map<string, unknown>,
  fileName: string,
): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (FIELD_BY_KEY.has(key)) {
      out.set(key, v);
    } else if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Date)) {
      const known = FIELDS.some((f) => f.key.startsWith(key + "."));
      if (!known) throw unknownKey(key, fileName);
      flattenToml(v as Record<string, unknown>, key, out, fileName);
    } else {
      throw unknownKey(key, fileName);
    }
  }
}

function unknownKey(key: string, fileName: string): ConfigError {
  const section = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
  const siblings = FIELDS.filter((f) => !f.secret && f.key.startsWith(section ? section + "." : ""))
    .map((f) => section ? f.key.slice(section.length + 1) : f.key)
    .filter((k) => !k.includes(".") || !section);
  const hint = section
    ? ` (known keys in [${section}]: ${siblings.join(", ")})`
    : ` (known sections: ${[...new Set(FIELDS.filter((f) => !f.secret).map((f) => f.key.split(".")[0]))].join(", ")})`;
  if (section === "secrets") {
    return new ConfigError(`unknown key ${JSON.stringify(key)} in ${fileName}: secrets come only from the environment`);
  }
  return new ConfigError(`unknown key ${JSON.stringify(key)} in ${fileName}${hint}`);
}

/** Resolves and validates the configuration. Throws ConfigError with one line naming the key. */
export function resolveConfig(input: ConfigInput): Config {
  const values = new Map<string, ConfigValue>();
  const sources: Record<string, string> = {};
  for (const f of FIELDS) {
    values.set(f.key, f.default);
    sources[f.key] = "default";
  }

  if (input.toml) {
    let doc: Record<string, unknown>;
    try {
      doc = parseToml(input.toml.text) as Record<string, unknown>;
    } catch (cause) {
      if (cause instanceof TomlError) {
        const first = cause.message.split("\n")[0];
        throw new ConfigError(
          `${input.toml.name} is not valid TOML: ${first} (line ${cause.line}, column ${cause.column})`,
          { cause },
        );
      }
      throw new ConfigError(`${input.toml.name} is not valid TOML: ${(cause as Error).message}`, { cause });
    }
    const flat = new Map<string, unknown>();
    flattenToml(doc, "", flat, input.toml.name);
    for (const [key, raw] of flat) {
      const f = FIELD_BY_KEY.get(key)!;
      if (f.secret) {
        throw new ConfigError(
          `${key} cannot be set in ${input.toml.name}: secrets come only from the environment (${f.env?.[0]})`,
        );
      }
      values.set(key, coerce(f, raw, input.toml.name, false));
      sources[key] = "file";
    }
  }

  const env = input.env ?? {};
  for (const f of FIELDS) {
    for (const name of f.env ?? []) {
      const raw = env[name];
      if (raw === undefined || raw === "") continue;
      values.set(f.key, coerce(f, normalizeEnv(name, raw), `environment ${name}`));
      sources[f.key] = `env ${name}`;
      break;
    }
  }

  for (const [flag, raw] of Object.entries(input.flags ?? {})) {
    const f = FIELD_BY_FLAG.get(flag);
    if (!f) throw new ConfigError(`unknown flag ${flag}`);
    let v: ConfigValue;
    if (f.type.kind === "list") {
      const items = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [];
      v = items.flatMap((s) => coerce(f, s, `flag ${flag}`) as string[]);
    } else if (f.type.kind === "bool" && typeof raw === "boolean") {
      v = raw;
    } else if (typeof raw === "string") {
      v = coerce(f, raw, `flag ${flag}`);
    } else {
      throw new ConfigError(`flag ${flag} needs a value: expected ${describeType(f)}`);
    }
    values.set(f.key, v);
    sources[f.key] = `flag ${flag}`;
  }

  const moved = Object.entries(MOVED_ENV)
    .filter(([name]) => env[name] !== undefined && env[name] !== "")
    .map(([name, message]) => ({ name, message }));
  const config = build(values, sources, input.toml?.name ?? null, moved);
  checkInvariants(config);
  return deepFreeze(config);
}

function build(
  v: Map<string, ConfigValue>,
  sources: Record<string, string>,
  configFile: string | null,
  moved: Config["moved"],
): Config {
  const s = (k: string) => v.get(k) as string | null;
  const n = (k: string) => v.get(k) as number;
  const b = (k: string) => v.get(k) as boolean;
  return {
    node: {
      id: s("node.id"),
      networkMode: s("node.network_mode") as NetworkMode,
      dataDir: s("node.data_dir")!,
      genesisFile: s("node.genesis_file"),
    },
    http: {
      host: s("http.host")!,
      port: n("http.port"),
      bodyLimitBytes: n("http.body_limit_bytes"),
      shutdownTimeoutMs: n("http.shutdown_timeout_ms"),
      corsOrigins: v.get("http.cors_origins") as readonly string[],
      corsMaxAgeS: n("http.cors_max_age_s"),
      cacheMaxAgeS: n("http.cache_max_age_s"),
      cacheImmutableMaxAgeS: n("http.cache_immutable_max_age_s"),
      rateLimit: b("http.rate_limit"),
      rateLimitReadsPerMinute: n("http.rate_limit_reads_per_minute"),
      rateLimitReadsBurst: n("http.rate_limit_reads_burst"),
      rateLimitWritesPerMinute: n("http.rate_limit_writes_per_minute"),
      rateLimitWritesBurst: n("http.rate_limit_writes_burst"),
      rateLimitKeyMultiplier: n("http.rate_limit_key_multiplier"),
    },
    metrics: { host: s("metrics.host")!, port: n("metrics.port") },
    exchange: {
      enabled: b("exchange.enabled"),
      port: n("exchange.port"),
      nodeType: s("exchange.node_type") as ExchangeNodeType,
      genesis: b("exchange.genesis"),
    },
    p2p: {
      host: s("p2p.host")!,
      port: n("p2p.port"),
      peers: v.get("p2p.peers") as readonly string[],
      bootstrap: s("p2p.bootstrap"),
      maxPeers: n("p2p.max_peers"),
    },
    dag: { syncIntervalS: n("dag.sync_interval_s") },
    settlement: { lagMs: n("settlement.lag_ms") },
    consensus: {
      batchTxsMax: n("consensus.batch_txs_max"),
      batchDelayMs: n("consensus.batch_delay_ms"),
      batchWindow: n("consensus.batch_window"),
      batchDelayMaxMs: n("consensus.batch_delay_max_ms"),
      pendingTxsMax: n("consensus.pending_txs_max"),
      busyLagMs: n("consensus.busy_lag_ms"),
      fetchGraceMs: n("consensus.fetch_grace_ms"),
    },
    storage: {
      snapshotEvery: n("storage.snapshot_every"),
      snapshotsKept: n("storage.snapshots_kept"),
      pruneBeforeCheckpoints: n("storage.prune_before_checkpoints"),
    },
    sync: {
      enabled: b("sync.enabled"),
      behindMin: n("sync.behind_min"),
      waitMs: n("sync.wait_ms"),
      resyncAfterMs: n("sync.resync_after_ms"),
    },
    log: { level: s("log.level") as LogLevel },
    crypto: { backend: s("crypto.backend") as CryptoBackendChoice, nativeLibrary: s("crypto.native_library")! },
    fees: {
      enabled: b("fees.enabled"),
      fMin: n("fees.f_min"),
      fMax: n("fees.f_max"),
      fMinVerified: n("fees.f_min_verified"),
      fMaxVerified: n("fees.f_max_verified"),
      timeConstantDays: n("fees.time_constant_days"),
      usageThreshold: n("fees.usage_threshold"),
    },
    immutable: { enabled: b("immutable.enabled"), gracePeriodHours: n("immutable.grace_period_hours") },
    fly: {
      appName: s("fly.app_name"),
      region: s("fly.region"),
      privateIp: s("fly.private_ip"),
      machineId: s("fly.machine_id"),
    },
    cli: { nodeUrl: s("cli.node_url")!, exchangeUrl: s("cli.exchange_url") },
    secrets: {
      nodePrivateKey: s("secrets.node_private_key"),
      peerAuthToken: s("secrets.peer_auth_token"),
      exchangeMasterKey: s("secrets.exchange_master_key"),
      immutableGovernanceKey: s("secrets.immutable_governance_key"),
      feeAdminKey: s("secrets.fee_admin_key"),
      agentVerificationKey: s("secrets.agent_verification_key"),
      keyPassphrase: s("secrets.key_passphrase"),
      apiKey: s("secrets.api_key"),
      vaultPassphrase: s("secrets.vault_passphrase"),
    },
    sources,
    moved,
    configFile,
  };
}

/** A browser origin: scheme, host, optional port, nothing more (RFC 6454). */
const ORIGIN_RE = /^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/;

/** Cross-field rules, each stated in its message. */
function checkInvariants(c: Config): void {
  const f = c.fees;
  if (f.fMin > f.fMax) {
    throw new ConfigError(`fees.f_min = ${f.fMin} is invalid: expected fees.f_min <= fees.f_max (${f.fMax})`);
  }
  if (f.fMinVerified > f.fMaxVerified) {
    throw new ConfigError(
      `fees.f_min_verified = ${f.fMinVerified} is invalid: expected fees.f_min_verified <= fees.f_max_verified (${f.fMaxVerified})`,
    );
  }
  for (const peer of c.p2p.peers) {
    if (!PEER_RE.test(peer) || Number(peer.slice(peer.lastIndexOf(":") + 1)) > 65535) {
      throw new ConfigError(
        `p2p.peers entry ${JSON.stringify(peer)} (from ${c.sources["p2p.peers"]}) is invalid: expected host:port or ` +
          "[ipv6]:port, e.g. qudag-node2.internal:4001",
      );
    }
  }
  for (const origin of c.http.corsOrigins) {
    if (origin !== "*" && !ORIGIN_RE.test(origin)) {
      throw new ConfigError(
        `http.cors_origins = ${
          JSON.stringify(origin)
        } is invalid: expected "*" or an origin such as https://app.example ` +
          "(scheme, host and port, no path)",
      );
    }
  }
  const ports = [
    ["http.port", c.http.port],
    ["metrics.port", c.metrics.port],
    ["p2p.port", c.p2p.port],
    ...(c.exchange.enabled ? [["exchange.port", c.exchange.port] as const] : []),
  ] as const;
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      if (ports[i][1] !== 0 && ports[i][1] === ports[j][1]) {
        throw new ConfigError(
          `${ports[j][0]} = ${ports[j][1]} is invalid: expected a port different from ${ports[i][0]} (${ports[i][1]})`,
        );
      }
    }
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object" && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** The resolved configuration as TOML-like lines, secrets redacted. */
export function printableConfig(c: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of FIELDS) {
    const [group, ...rest] = f.key.split(".");
    const camel = rest.join(".").replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
    const groupKey = group as keyof Config;
    const value = (c[groupKey] as Record<string, unknown>)[camel];
    const shown = f.secret ? (value === null ? null : "<redacted>") : value;
    out[group] ??= {} as Record<string, unknown>;
    (out[group] as Record<string, unknown>)[rest.join(".")] = shown;
  }
  out.sources = c.sources;
  return out;
}
