import { UsageError } from "./_args.ts";
import { callNode, NODE_FLAGS, nodeClient } from "./_client.ts";
import type { Command, Group, Io } from "./_command.ts";
import type { Parsed } from "./_args.ts";

/** Vertex bytes from a file: raw binary, or base64 text. */
function readVertexFile(path: unknown): Uint8Array {
  if (typeof path !== "string") throw new UsageError("--file FILE is required");
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (cause) {
    throw new UsageError(`cannot read ${path}: ${(cause as Error).message}`);
  }
  const text = new TextDecoder().decode(bytes).trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text) && text.length > 0) {
    try {
      return Uint8Array.fromBase64(text.replace(/\s+/g, ""));
    } catch { /* binary after all */ }
  }
  return bytes;
}

function hashArg(parsed: Parsed): string {
  const h = parsed.positionals[0];
  if (!h) throw new UsageError("name a vertex: its 64-hex-digit hash");
  if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new UsageError(`${JSON.stringify(h)} is not a 64-hex-digit vertex hash`);
  return h.toLowerCase();
}

function print(io: Io, parsed: Parsed, json: unknown, text: () => string): number {
  io.out(parsed.flags["--json"] ? JSON.stringify(json, null, 2) : text());
  return 0;
}

const add: Command = {
  name: "add",
  summary: "submit a signed vertex",
  usage: "qudag dag add --file FILE [--node URL]",
  flags: [
    { name: "--file", kind: "string", value: "FILE", help: "signed vertex bytes (binary or base64)" },
    ...NODE_FLAGS,
  ],
  async run(parsed, io) {
    const bytes = readVertexFile(parsed.flags["--file"]);
    const { json } = await callNode(nodeClient(parsed, io), "POST", "/api/v1/dag/nodes", { bytes });
    return print(
      io,
      parsed,
      json,
      () =>
        `${json.status} ${json.id}${json.missing ? ` (waiting for ${(json.missing as string[]).length} parents)` : ""}`,
    );
  },
};

const get: Command = {
  name: "get",
  summary: "show a vertex",
  usage: "qudag dag get HASH [--node URL] [--json]",
  maxPositionals: 1,
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const { json } = await callNode(nodeClient(parsed, io), "GET", `/api/v1/dag/nodes/${hashArg(parsed)}`);
    const v = json as Record<string, unknown> & { parents: string[]; transactions: unknown[] };
    return print(io, parsed, json, () =>
      [
        `id           ${v.id}`,
        `author       ${v.authorName ?? "?"} (${String(v.author).slice(0, 16)}…)`,
        `round        ${v.round}`,
        `timestamp    ${new Date(Number(v.timestampMs)).toISOString()}`,
        `status       ${v.status}`,
        `parents      ${v.parents.length ? v.parents.join("\n             ") : "(none)"}`,
        `transactions ${v.transactions.length}`,
      ].join("\n"));
  },
};

const children: Command = {
  name: "children",
  summary: "list a vertex's children",
  usage: "qudag dag children HASH [--node URL] [--json]",
  maxPositionals: 1,
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const { json } = await callNode(nodeClient(parsed, io), "GET", `/api/v1/dag/nodes/children/${hashArg(parsed)}`);
    const list = json.children as string[];
    return print(io, parsed, json, () => list.length ? list.join("\n") : "(no children)");
  },
};

const validate: Command = {
  name: "validate",
  summary: "check a signed vertex without storing it",
  usage: "qudag dag validate --file FILE [--node URL] [--json]",
  flags: [
    { name: "--file", kind: "string", value: "FILE", help: "signed vertex bytes (binary or base64)" },
    ...NODE_FLAGS,
  ],
  async run(parsed, io) {
    const bytes = readVertexFile(parsed.flags["--file"]);
    const { json } = await callNode(nodeClient(parsed, io), "POST", "/api/v1/dag/validate", { bytes });
    print(io, parsed, json, () => json.valid ? `valid ${json.id}` : `invalid: ${json.message} [${json.code}]`);
    return json.valid ? 0 : 1;
  },
};

const stats: Command = {
  name: "stats",
  summary: "DAG size, tips and waiting vertices",
  usage: "qudag dag stats [--node URL] [--json]",
  flags: NODE_FLAGS,
  async run(parsed, io) {
    const { json } = await callNode(nodeClient(parsed, io), "GET", "/api/v1/dag/stats");
    return print(io, parsed, json, () =>
      [
        `vertices    ${json.vertices}`,
        `tips        ${(json.tips as string[]).length}`,
        `waiting     ${json.orphans} (${json.orphanBytes} bytes)`,
        `validators  ${json.validators}`,
      ].join("\n"));
  },
};

export const dag: Group = {
  name: "dag",
  summary: "add, inspect and validate DAG vertices on a running node",
  commands: [add, get, children, validate, stats],
};
