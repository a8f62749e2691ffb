/**
 * The `qudag` command line: groups of commands behind one dispatcher. To add a
 * group, write src/cli/<group>.ts exporting a Group and list it in ENTRIES.
 * Exit codes: 0 success, 1 a failure with a clear message, 2 a usage error.
 */
import { ConfigError } from "../config/mod.ts";
import { formatFlags, parseArgs, UsageError } from "./_args.ts";
import type { Command, Group, Io } from "./_command.ts";
import { checkpoint } from "./checkpoint.ts";
import { dag } from "./dag.ts";
import { exchange } from "./exchange/mod.ts";
import { genesis } from "./genesis.ts";
import { health } from "./health.ts";
import { key } from "./key.ts";
import { peer } from "./peer.ts";
import { start } from "./start.ts";
import { status } from "./status.ts";
import { vault } from "./vault.ts";
import { version } from "./version.ts";

export type { Command, Group, Io };

type Entry = Command | Group;

/** Most bytes a command reads from stdin (a vault value is at most 64 KiB). */
const STDIN_BYTES_MAX = 1024 * 1024;

const ENTRIES: readonly Entry[] = [
  start,
  status,
  health,
  genesis,
  key,
  dag,
  peer,
  exchange,
  vault,
  checkpoint,
  version,
];

function isGroup(e: Entry): e is Group {
  return "commands" in e;
}

function topUsage(): string {
  const width = Math.max(...ENTRIES.map((e) => e.name.length), 4);
  const lines = ENTRIES.map((e) => `  ${e.name.padEnd(width)}  ${e.summary}`);
  return [
    "qudag — a post-quantum DAG ledger node",
    "",
    "usage: qudag <command> [flags]",
    "",
    "commands:",
    ...lines,
    `  ${"help".padEnd(width)}  show help for a command`,
    "",
    "Every command takes --help.",
  ].join("\n");
}

function groupUsage(g: Group): string {
  const width = Math.max(...g.commands.map((c) => c.name.length));
  return [
    `usage: qudag ${g.name} <command> [flags]`,
    "",
    `${g.summary}`,
    "",
    "commands:",
    ...g.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

function commandUsage(c: Command): string {
  return [
    `usage: ${c.usage}`,
    "",
    c.summary,
    ...(c.flags.length ? ["", "flags:", formatFlags(c.flags)] : []),
    ...(c.details ? ["", c.details] : []),
  ].join("\n");
}

/** Finds what `args` names: a command, with the words that led to it. */
function resolve(args: readonly string[]): { entry: Entry | null; rest: string[]; path: string[] } {
  const [first, ...rest] = args;
  const top = ENTRIES.find((e) => e.name === first);
  if (!top) return { entry: null, rest, path: [] };
  if (!isGroup(top)) return { entry: top, rest, path: [top.name] };
  const sub = top.commands.find((c) => c.name === rest[0]);
  return sub ? { entry: sub, rest: rest.slice(1), path: [top.name, sub.name] } : { entry: top, rest, path: [top.name] };
}

function errorLine(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  const msg = e instanceof Error ? e.message : String(e);
  return `error: ${msg}${typeof code === "string" ? ` [${code}]` : ""}`;
}

export async function runCli(args: readonly string[], io: Io): Promise<number> {
  if (args.length === 0) {
    io.err(topUsage());
    return 2;
  }
  if (args[0] === "--help" || args[0] === "-h") {
    io.out(topUsage());
    return 0;
  }
  if (args[0] === "help") {
    if (args.length === 1 || args[1] === "--help" || args[1] === "-h") {
      io.out(topUsage());
      return 0;
    }
    const { entry, rest } = resolve(args.slice(1));
    if (!entry || rest.length > 0) {
      io.err(`error: no command "${args.slice(1).join(" ")}"\n\n${topUsage()}`);
      return 2;
    }
    io.out(isGroup(entry) ? groupUsage(entry) : commandUsage(entry));
    return 0;
  }
  if (args[0] === "--version") return await version.run({ flags: {}, positionals: [], help: false }, io);

  const { entry, rest } = resolve(args);
  if (!entry) {
    io.err(`error: unknown command "${args[0]}"\n\n${topUsage()}`);
    return 2;
  }
  if (isGroup(entry)) {
    if (rest.length === 0 || rest[0] === "--help" || rest[0] === "-h") {
      (rest.length === 0 ? io.err : io.out)(groupUsage(entry));
      return rest.length === 0 ? 2 : 0;
    }
    io.err(`error: unknown command "${entry.name} ${rest[0]}"\n\n${groupUsage(entry)}`);
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs(rest, entry.flags, entry.maxPositionals ?? 0);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n\n${commandUsage(entry)}`);
      return 2;
    }
    throw e;
  }
  if (parsed.help) {
    io.out(commandUsage(entry));
    return 0;
  }
  try {
    return await entry.run(parsed, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message}\n\n${commandUsage(entry)}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      io.err(`error: configuration: ${e.message}`);
      return 1;
    }
    io.err(errorLine(e));
    return 1;
  }
}

/** The real process's terminal and environment. */
export function processIo(readEnv: () => Record<string, string | undefined>): Io {
  const enc = new TextEncoder();
  return {
    out: (t) => void Deno.stdout.writeSync(enc.encode(t + "\n")),
    err: (t) => void Deno.stderr.writeSync(enc.encode(t + "\n")),
    isTerminal: () => Deno.stdin.isTerminal(),
    async readStdin(): Promise<string> {
      const chunks: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of Deno.stdin.readable) {
        size += chunk.length;
        if (size > STDIN_BYTES_MAX) throw new UsageError(`stdin holds more than ${STDIN_BYTES_MAX} bytes`);
        chunks.push(chunk);
      }
      return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    },
    env: readEnv,
    async readSecret(prompt: string): Promise<string> {
      Deno.stderr.writeSync(enc.encode(prompt));
      Deno.stdin.setRaw(true);
      const bytes: number[] = [];
      const buf = new Uint8Array(1);
      try {
        while (bytes.length < 4096) {
          const n = await Deno.stdin.read(buf);
          if (n === null || buf[0] === 13 || buf[0] === 10) break;
          if (buf[0] === 3) throw new UsageError("interrupted");
          if (buf[0] === 127 || buf[0] === 8) bytes.pop();
          else bytes.push(buf[0]);
        }
      } finally {
        Deno.stdin.setRaw(false);
        Deno.stderr.writeSync(enc.encode("\n"));
      }
      return new TextDecoder().decode(new Uint8Array(bytes));
    },
  };
}
