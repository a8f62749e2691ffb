/**
 * `qudag vault add|get|list|search|rm`: the vault of a running node
 * (/api/v1/vault), with the API key from QUDAG_API_KEY. A secret's value is
 * never taken from the command line (other users can read it there): it comes
 * from --value-file, from stdin when stdin is not a terminal, or from a prompt
 * that does not echo.
 */
import { UsageError } from "./_args.ts";
import type { Parsed } from "./_args.ts";
import { callNode, type ClientOptions, NODE_FLAGS, nodeClient } from "./_client.ts";
import type { Command, Group, Io } from "./_command.ts";
import { CliError } from "./_errors.ts";

const BASE = "/api/v1/vault/secrets";
const ID_RE = /^[0-9a-f]{32}$/;

interface Summary {
  id: string;
  label: string;
  username: string | null;
  url: string | null;
  tags: string[];
  version: number;
}

function secretId(parsed: Parsed): string {
  const id = parsed.positionals[0];
  if (!id) throw new UsageError("name the secret (its 32-hex-digit id; `qudag vault list` shows them)");
  if (!ID_RE.test(id)) throw new UsageError(`${JSON.stringify(id)} is not a secret id (32 hex digits)`);
  return id;
}

function client(parsed: Parsed, io: Io): ClientOptions {
  const o = nodeClient(parsed, io);
  if (!o.apiKey) throw new CliError("api_key_required", "the vault needs QUDAG_API_KEY (the node's API key)");
  return o;
}

async function readValue(parsed: Parsed, io: Io): Promise<string> {
  const file = parsed.flags["--value-file"];
  let value: string;
  if (typeof file === "string") {
    try {
      value = Deno.readTextFileSync(file);
    } catch (cause) {
      throw new CliError("value_unreadable", `cannot read ${file}: ${(cause as Error).message}`, { cause });
    }
  } else if (!io.isTerminal() && io.readStdin) {
    value = await io.readStdin();
  } else if (io.isTerminal()) {
    value = await io.readSecret("secret value: ");
  } else {
    throw new UsageError("give the value with --value-file FILE or on stdin");
  }
  value = value.replace(/\r?\n$/, "");
  if (value.length === 0) throw new UsageError("the secret value is empty");
  return value;
}

function line(s: Summary): string {
  const tags = s.tags.length ? `  [${s.tags.join(", ")}]` : "";
  return `${s.id}  ${s.label}${s.username ? `  ${s.username}` : ""}${s.url ? `  ${s.url}` : ""}${tags}`;
}

const PAGE_FLAGS = [
  { name: "--limit", kind: "string" as const, value: "N", help: "secrets per page (1..500, default 50)" },
  { name: "--cursor", kind: "string" as const, value: "CURSOR", help: "the next page, as the previous one said" },
  ...NODE_FLAGS,
];

async function page(parsed: Parsed, io: Io, q: string): Promise<number> {
  const params = new URLSearchParams();
  if (q) params.set("q", q);
  for (const [flag, name] of [["--limit", "limit"], ["--cursor", "cursor"]] as const) {
    const v = parsed.flags[flag];
    if (typeof v === "string") params.set(name, v);
  }
  const query = params.size ? `?${params}` : "";
  const { json } = await callNode(client(parsed, io), "GET", `${BASE}/search${query}`);
  if (parsed.flags["--json"]) {
    io.out(JSON.stringify(json, null, 2));
    return 0;
  }
  const secrets = json.secrets as Summary[];
  if (secrets.length === 0) io.out(q ? `no secret matches ${JSON.stringify(q)}` : "the vault is empty");
  for (const s of secrets) io.out(line(s));
  if (json.nextCursor) io.out(`more: --cursor ${json.nextCursor}`);
  return 0;
}

const add: Command = {
  name: "add",
  summary: "store a secret (value from --value-file, stdin, or a prompt)",
  usage: "qudag vault add LABEL [--username U] [--url URL] [--tag T]... [--notes TEXT] [--value-file FILE]",
  maxPositionals: 1,
  flags: [
    { name: "--username", kind: "string", value: "U", help: "user name (searchable)" },
    { name: "--url", kind: "string", value: "URL", help: "where it is used (searchable)" },
    { name: "--tag", kind: "list", value: "T", help: "a tag (searchable; may repeat)" },
    { name: "--notes", kind: "string", value: "TEXT", help: "notes, encrypted with the value (not searchable)" },
    { name: "--value-file", kind: "string", value: "FILE", help: "read the value from this file" },
    ...NODE_FLAGS,
  ],
  async run(parsed, io) {
    const label = parsed.positionals[0];
    if (!label) throw new UsageError("give the secret a label");
    const o = client(parsed, io);
    const str = (f: string) => (typeof parsed.flags[f] === "string" ? parsed.flags[f] as string : undefined);
    const body = {
      label,
      username: str("--username"),
      url: str("--url"),
      tags: (parsed.flags["--tag"] as string[] | undefined) ?? [],
      notes: str("--notes"),
      value: await readValue(parsed, io),
    };
    const { json } = await callNode(o, "POST", BASE, { json: body });
    if (parsed.flags["--json"]) io.out(JSON.stringify(json, null, 2));
    else io.out(`stored ${json.id} (version ${json.version})`);
    return 0;
  },
};

const get: Command = {
  name: "get",
  summary: "print a secret's value (--json: the whole record)",
  usage: "qudag vault get ID [--version N] [--json]",
  maxPositionals: 1,
  flags: [{ name: "--version", kind: "string", value: "N", help: "an older version, while it is kept" }, ...NODE_FLAGS],
  async run(parsed, io) {
    const id = secretId(parsed);
    const version = parsed.flags["--version"];
    if (version !== undefined && !/^[1-9][0-9]{0,9}$/.test(String(version))) {
      throw new UsageError("--version must be a positive integer");
    }
    const { json } = await callNode(client(parsed, io), "GET", `${BASE}/${id}${version ? `?version=${version}` : ""}`);
    io.out(parsed.flags["--json"] ? JSON.stringify(json, null, 2) : String(json.value));
    return 0;
  },
};

const list: Command = {
  name: "list",
  summary: "secrets, newest first (ids, labels, usernames, URLs, tags; never values)",
  usage: "qudag vault list [--limit N] [--cursor CURSOR] [--json]",
  flags: PAGE_FLAGS,
  run: (parsed, io) => page(parsed, io, ""),
};

const search: Command = {
  name: "search",
  summary: "secrets whose label, username, URL or tags hold every word of QUERY",
  usage: "qudag vault search QUERY [--limit N] [--cursor CURSOR] [--json]",
  maxPositionals: 1,
  flags: PAGE_FLAGS,
  run(parsed, io) {
    const q = parsed.positionals[0];
    if (!q) throw new UsageError("give the words to search for");
    return page(parsed, io, q);
  },
};

const rm: Command = {
  name: "rm",
  summary: "delete a secret and all its versions, for good",
  usage: "qudag vault rm ID",
  maxPositionals: 1,
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const id = secretId(parsed);
    const { json } = await callNode(client(parsed, io), "DELETE", `${BASE}/${id}`);
    io.out(`deleted ${id} (${json.versions} version${json.versions === 1 ? "" : "s"})`);
    return 0;
  },
};

export const vault: Group = {
  name: "vault",
  summary: "secrets in a running node's vault (needs QUDAG_API_KEY)",
  commands: [add, get, list, search, rm],
};
