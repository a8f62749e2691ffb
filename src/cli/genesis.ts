/**
 * `qudag genesis`: make the genesis of a real network, and show one.
 *
 * `init --validators node1,node2,node3,node4 --out DIR [--exchange]` writes:
 *
 *   DIR/genesis.json             the chain (public): give the same file to every node
 *   DIR/keys/<validator>.seed    each validator's ML-DSA-87 seed (0600)
 *   DIR/keys/<authority>.seed    with --exchange: fees, exchange-master, fee-admin, agent-verifier, governance
 *   DIR/secrets/<validator>.env  per node, NAME=VALUE lines for `fly secrets import` (0600)
 *   DIR/api-key                  the x-api-key every node requires for writes (0600)
 *
 * Fee parameters come from the flags, else the configuration's FEE_* values
 * (environment or [fees] in --config), else the core's defaults; the node
 * later checks that any FEE_* in its environment matches the genesis.
 */
import { type FeeParams, formatAmount, formatRatePercent } from "../core/mod.ts";
import { feeParamsFromConfig, GENESIS_FEE_FLAGS } from "../config/chain_settings.ts";
import type { Config } from "../config/mod.ts";
import { toHex } from "../keys/mod.ts";
import { type ExchangeGenesisJson, parseExchangeGenesis, ROLE_NAMES } from "../ledger/genesis.ts";
import { GENESIS_FILE, readGenesis } from "../node/genesis.ts";
import {
  AUTHORITIES,
  makeChain,
  type NewChain,
  type Random,
  seedFileText,
  systemRandom,
} from "../node/genesis_build.ts";
import { type FlagSpec, type Parsed, UsageError } from "./_args.ts";
import type { Command, Group } from "./_command.ts";
import { CONFIG_FLAG, configFlagSpecs, loadConfig } from "./_config.ts";
import { CliError } from "./_errors.ts";
import { amountArg, daysArg, rateArg } from "./exchange/values.ts";

/** Secrets only the first validator (the bootstrap, where the seed runs the exchange's admin commands) gets. */
export const GOVERNANCE_KEY_FILE_SECRET = "GOVERNANCE_KEY_PEM";

const FEE_FLAG_SPECS: FlagSpec[] = GENESIS_FEE_FLAGS.map((f) => ({
  name: f.flag,
  kind: "string",
  value: f.key.startsWith("f_") ? "RATE" : f.key === "time_constant_days" ? "DAYS" : "RUV",
  help: `${f.key.replaceAll("_", " ")} (default ${f.env}, else the core's default)`,
}));

function str(parsed: Parsed, flag: string): string | undefined {
  const v = parsed.flags[flag];
  return typeof v === "string" ? v : undefined;
}

/** Fee parameters: flags over the configuration (FEE_*, [fees]), exact. */
export function genesisFees(parsed: Parsed, config: Config): FeeParams {
  const fees = feeParamsFromConfig(config.fees);
  const rates = [["--f-min", "fMinPpb"], ["--f-max", "fMaxPpb"], ["--f-min-verified", "fMinVerifiedPpb"], [
    "--f-max-verified",
    "fMaxVerifiedPpb",
  ]] as const;
  for (const [flag, key] of rates) {
    const v = str(parsed, flag);
    if (v === undefined) continue;
    if (!config.fees.enabled) {
      throw new UsageError(
        `${flag} sets a rate but FEE_MODEL_ENABLED=false makes every rate zero; use one or the other`,
      );
    }
    fees[key] = rateArg(flag, v);
  }
  const t = str(parsed, "--time-constant-days");
  if (t !== undefined) fees.timeConstantMs = daysArg("--time-constant-days", t, 36_500n);
  const u = str(parsed, "--usage-threshold");
  if (u !== undefined) fees.usageThreshold = amountArg("--usage-threshold", u);
  return fees;
}

export interface NodeSecrets {
  readonly validator: string;
  /** NAME -> value, in the order written. */
  readonly values: readonly [string, string][];
}

/** Per node: what `fly secrets import` (or the environment) must hold. */
export function nodeSecrets(
  chain: NewChain,
  o: { peerToken: string; apiKey: string; random: Random; authoritiesOn: string },
): NodeSecrets[] {
  return chain.validators.map((v) => {
    const values: [string, string][] = [
      ["NODE_PRIVATE_KEY", toHex(v.seed)],
      ["PEER_AUTH_TOKEN", o.peerToken],
      ["QUDAG_API_KEY", o.apiKey],
      ["QUDAG_KEY_PASSPHRASE", toHex(o.random(24))],
    ];
    if (v.name === o.authoritiesOn) {
      for (const k of chain.authorities) {
        const env = AUTHORITIES.find((a) => a.name === k.name)?.env;
        if (env) values.push([env, toHex(k.seed)]);
      }
      const governance = chain.authorities.find((k) => k.name === "governance");
      // fly.toml [[files]] writes this secret (base64) to /keys/governance.pem, the path the seed's
      // `deploy-immutable --key-path /keys/governance.pem` reads.
      if (governance) {
        values.push([GOVERNANCE_KEY_FILE_SECRET, new TextEncoder().encode(seedFileText(governance)).toBase64()]);
      }
    }
    return { validator: v.name, values };
  });
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const init: Command = {
  name: "init",
  summary: "make the keys, genesis and per-node secrets of a new network",
  usage: "qudag genesis init --validators NAME,NAME,... --out DIR [--exchange] [--network NAME] [--supply-cap RUV] " +
    "[--f-min RATE ...]",
  flags: [
    {
      name: "--validators",
      kind: "string",
      value: "NAMES",
      help: "validator names, comma-separated (node1,node2,...)",
    },
    { name: "--out", kind: "string", value: "DIR", help: "directory to write (must not hold a genesis yet)" },
    { name: "--exchange", kind: "bool", help: "give the chain the rUv exchange and its five authority keys" },
    { name: "--network", kind: "string", value: "NAME", help: "network name in the genesis (default testnet)" },
    { name: "--supply-cap", kind: "string", value: "RUV", help: "most rUv ever in circulation (default: no cap)" },
    {
      name: "--authorities-on",
      kind: "string",
      value: "NAME",
      help: "validator whose secrets carry the authority keys (default the first)",
    },
    ...FEE_FLAG_SPECS,
    CONFIG_FLAG,
  ],
  details: "Writes genesis.json, keys/*.seed, secrets/<validator>.env (NAME=VALUE for `fly secrets import`) and " +
    "api-key into --out, secret files with mode 0600. Fee parameters: these flags, else FEE_* (or [fees] in " +
    "--config), else the defaults; FEE_MODEL_ENABLED=false makes every rate zero. Refuses a directory that already " +
    "has a genesis: keys are never overwritten.",
  run(parsed, io) {
    const names = (str(parsed, "--validators") ?? "").split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (names.length === 0) throw new UsageError("--validators is required (e.g. node1,node2,node3,node4)");
    const out = str(parsed, "--out");
    if (out === undefined) throw new UsageError("--out is required");
    const network = str(parsed, "--network") ?? "testnet";
    if (!/^[a-z0-9-]{1,32}$/.test(network)) {
      throw new UsageError(`--network ${JSON.stringify(network)} is not 1-32 of a-z, 0-9 and -`);
    }
    const withExchange = parsed.flags["--exchange"] === true;
    const config = loadConfig(parsed, io);
    const fees = genesisFees(parsed, config);
    const capText = str(parsed, "--supply-cap");
    if ((capText !== undefined || FEE_FLAG_SPECS.some((f) => str(parsed, f.name) !== undefined)) && !withExchange) {
      throw new UsageError("--supply-cap and fee flags need --exchange");
    }
    const supplyCap = capText === undefined ? 0n : amountArg("--supply-cap", capText);
    const authoritiesOn = str(parsed, "--authorities-on") ?? names[0];
    if (!names.includes(authoritiesOn)) {
      throw new UsageError(`--authorities-on ${authoritiesOn} is not one of the validators (${names.join(", ")})`);
    }
    if (exists(`${out}/${GENESIS_FILE}`)) {
      throw new CliError(
        "genesis_exists",
        `${out}/${GENESIS_FILE} already exists: its keys are in ${out}/keys; use another --out, or remove ${out} to ` +
          "start a new chain",
      );
    }
    let chain: NewChain;
    try {
      chain = makeChain(
        {
          network,
          createdAt: new Date().toISOString(),
          validators: names,
          exchange: withExchange,
          fees: withExchange ? fees : undefined,
          supplyCap,
        },
        systemRandom,
        Date.now(),
      );
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(`--validators: ${e.message}`);
      throw e;
    }
    write(
      out,
      chain,
      nodeSecrets(chain, {
        peerToken: toHex(systemRandom(32)),
        apiKey: toHex(systemRandom(24)),
        random: systemRandom,
        authoritiesOn,
      }),
    );
    const genesis = readGenesis(`${out}/${GENESIS_FILE}`);
    io.out(describe(genesis.chainIdHex, genesis.network, genesis.validators, genesis.exchange));
    io.out(
      [
        "",
        `wrote ${out}/${GENESIS_FILE} (public), ${out}/keys/ and ${out}/secrets/ (secret: keep them off git and images)`,
        `next: give every node the genesis (QUDAG_GENESIS_FILE) and its secrets, e.g.`,
        `  fly secrets import --app qudag-${names[0]} --stage < ${out}/secrets/${names[0]}.env`,
      ].join("\n"),
    );
    return Promise.resolve(0);
  },
};

function write(out: string, chain: NewChain, secrets: readonly NodeSecrets[]): void {
  Deno.mkdirSync(`${out}/keys`, { recursive: true, mode: 0o700 });
  Deno.mkdirSync(`${out}/secrets`, { recursive: true, mode: 0o700 });
  const secret = (path: string, text: string) => Deno.writeTextFileSync(path, text, { createNew: true, mode: 0o600 });
  for (const k of [...chain.validators, ...chain.authorities]) secret(`${out}/keys/${k.name}.seed`, seedFileText(k));
  for (const s of secrets) {
    secret(
      `${out}/secrets/${s.validator}.env`,
      `# secrets of ${s.validator}: fly secrets import --app APP --stage < this file\n` +
        s.values.map(([k, v]) => `${k}=${v}\n`).join(""),
    );
  }
  secret(`${out}/api-key`, (secrets[0].values.find(([k]) => k === "QUDAG_API_KEY")?.[1] ?? "") + "\n");
  // Last, so an interrupted run leaves no genesis whose keys are missing.
  Deno.writeFileSync(`${out}/${GENESIS_FILE}`, chain.genesis, { createNew: true });
}

function describe(
  chainId: string,
  network: string,
  validators: readonly { name: string; id: string }[],
  exchange: unknown,
): string {
  const lines = [`chain       ${chainId}`, `network     ${network}`, `validators  ${validators.length}`];
  for (const v of validators) lines.push(`  ${v.name.padEnd(12)} ${v.id}`);
  if (exchange === null) {
    lines.push("exchange    none");
    return lines.join("\n");
  }
  const ex = exchange as ExchangeGenesisJson;
  const g = parseExchangeGenesis(ex, new Uint8Array(32));
  const f = g.fees;
  lines.push(
    `exchange    supply cap ${g.supplyCap === 0n ? "none" : `${formatAmount(g.supplyCap)} rUv`}`,
    `  fees      unverified ${formatRatePercent(f.fMinPpb)} .. ${formatRatePercent(f.fMaxPpb)}, verified ${
      formatRatePercent(f.fMinVerifiedPpb)
    } .. ${formatRatePercent(f.fMaxVerifiedPpb)}, T ${Number(f.timeConstantMs) / 86_400_000} days, U ${
      formatAmount(f.usageThreshold)
    } rUv`,
  );
  for (const role of ROLE_NAMES) lines.push(`  ${role.padEnd(15)} ${ex.roles[role]}`);
  return lines.join("\n");
}

const show: Command = {
  name: "show",
  summary: "print a genesis: chain id, validators, exchange",
  usage: "qudag genesis show [FILE] [--json]",
  maxPositionals: 1,
  flags: [
    { name: "--json", kind: "bool", help: "print chain id, network, validators and exchange as JSON" },
    CONFIG_FLAG,
    ...configFlagSpecs(["node.data_dir", "node.genesis_file"]),
  ],
  details: "FILE defaults to --genesis / QUDAG_GENESIS_FILE, else <data dir>/genesis.json.",
  run(parsed, io) {
    const config = loadConfig(parsed, io);
    const file = parsed.positionals[0] ?? config.node.genesisFile ??
      `${config.node.dataDir.replace(/\/+$/, "")}/${GENESIS_FILE}`;
    const g = readGenesis(file);
    if (parsed.flags["--json"] === true) {
      io.out(JSON.stringify(
        {
          chainId: g.chainIdHex,
          network: g.network,
          createdAt: g.createdAt,
          validators: g.validators.map((v) => ({ name: v.name, id: v.id })),
          exchange: g.exchange,
          settlement: g.settlement,
        },
        null,
        2,
      ));
      return Promise.resolve(0);
    }
    io.out(describe(g.chainIdHex, g.network, g.validators, g.exchange));
    return Promise.resolve(0);
  },
};

export const genesis: Group = {
  name: "genesis",
  summary: "make a network's genesis, keys and per-node secrets; show a genesis",
  commands: [init, show],
};
