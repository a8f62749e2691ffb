/**
 * What every `qudag exchange` command shares: where the exchange API is, the
 * flags, the resolved configuration and the HTTP calls to the node.
 */
import type { Config } from "../../config/mod.ts";
import type { FlagSpec, Parsed } from "../_args.ts";
import { UsageError } from "../_args.ts";
import { callNode, type ClientOptions, NODE_FLAGS } from "../_client.ts";
import type { Io } from "../_command.ts";
import { CONFIG_FLAG, configFlagSpecs, loadConfig } from "../_config.ts";
import { CliError } from "../_errors.ts";

export const BASE = "/api/v1/exchange";
/** The exchange API's own port on this machine, when neither --node, QUDAG_EXCHANGE_URL nor QUDAG_NODE_URL says otherwise. */
export const DEFAULT_EXCHANGE_URL = "http://127.0.0.1:8081";
/** How long a write waits for the ledger's receipt. */
export const WAIT_TIMEOUT_MS = 60_000;
/** An account name: 1..64 of a-z, 0-9, _ and -. */
export const NAME_RE = /^[a-z0-9_-]{1,64}$/;

export const READ_FLAGS: FlagSpec[] = [
  CONFIG_FLAG,
  ...NODE_FLAGS.map((f) =>
    f.name === "--node"
      ? {
        ...f,
        value: "URL",
        help: `the node's exchange API (default QUDAG_EXCHANGE_URL, else QUDAG_NODE_URL, else ${DEFAULT_EXCHANGE_URL})`,
      }
      : f
  ),
];
export const STORE_FLAGS: FlagSpec[] = configFlagSpecs(["node.data_dir"]);
export const WRITE_FLAGS: FlagSpec[] = [
  { name: "--no-wait", kind: "bool", help: "return once the node took the transaction, without its receipt" },
  { name: "--max-fee", kind: "string", value: "RUV", help: "most fee to pay (default: twice the node's quote)" },
  ...READ_FLAGS,
];
export const KEY_PATH_FLAG: FlagSpec = {
  name: "--key-path",
  kind: "string",
  value: "FILE",
  help: "sign with this key file (passphrase-sealed) or 64-hex-digit seed file instead of the secret",
};

export interface Ctx {
  parsed: Parsed;
  io: Io;
  config: Config;
  client: ClientOptions;
}

/**
 * --node when given, else QUDAG_EXCHANGE_URL, else QUDAG_NODE_URL, else the
 * local exchange API (not the public API's 8080). `deno task testnet` writes
 * both URLs to .testnet/env, so `qudag status` and `qudag exchange` each reach
 * their own port.
 */
export function exchangeNodeUrl(config: Config): string {
  const source = config.sources["cli.node_url"];
  if (source.startsWith("flag")) return config.cli.nodeUrl;
  if (config.cli.exchangeUrl !== null) return config.cli.exchangeUrl;
  return source === "default" ? DEFAULT_EXCHANGE_URL : config.cli.nodeUrl;
}

export function context(parsed: Parsed, io: Io): Ctx {
  const config = loadConfig(parsed, io);
  return { parsed, io, config, client: { nodeUrl: exchangeNodeUrl(config), apiKey: config.secrets.apiKey } };
}

export type Json = Record<string, unknown>;

export async function get(ctx: Ctx, path: string): Promise<Json> {
  return (await callNode(ctx.client, "GET", `${BASE}${path}`)).json;
}

/** GET, or null on 404. */
export async function getOrNull(ctx: Ctx, path: string): Promise<Json | null> {
  try {
    return await get(ctx, path);
  } catch (e) {
    if (e instanceof CliError && e.code === "not_found") return null;
    throw e;
  }
}

export function str(flag: string, parsed: Parsed, required: true): string;
export function str(flag: string, parsed: Parsed, required: false): string | undefined;
export function str(flag: string, parsed: Parsed, required: boolean): string | undefined {
  const v = parsed.flags[flag];
  if (typeof v === "string") return v;
  if (required) throw new UsageError(`${flag} is required`);
  return undefined;
}

export function json(ctx: Ctx): boolean {
  return ctx.parsed.flags["--json"] === true;
}

export function short(id: unknown): string {
  return `${String(id).slice(0, 16)}…`;
}

export function who(a: { name?: unknown; id?: unknown }): string {
  return `${a.name ?? "?"} (${short(a.id)})`;
}

export function iso(ms: unknown): string {
  const n = Number(ms);
  return Number.isFinite(n) && Math.abs(n) < 8.64e15 ? new Date(n).toISOString() : String(ms);
}

export function print(ctx: Ctx, value: unknown, text: () => string): number {
  ctx.io.out(json(ctx) ? JSON.stringify(value, null, 2) : text());
  return 0;
}
