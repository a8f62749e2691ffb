/** The CLI's HTTP client for a running node: one place for timeouts and error mapping. */
import type { Parsed } from "./_args.ts";
import type { Io } from "./_command.ts";
import { configFlagSpecs, loadConfig } from "./_config.ts";
import { CliError } from "./_errors.ts";

/** Flags of every command that talks to a node. */
export const NODE_FLAGS = [
  ...configFlagSpecs(["cli.node_url"]),
  { name: "--json", kind: "bool" as const, help: "print raw JSON" },
];

/** Where the node is (--node, QUDAG_NODE_URL) and the API key for writes. */
export function nodeClient(parsed: Parsed, io: Io): ClientOptions {
  const config = loadConfig(parsed, io);
  return { nodeUrl: config.cli.nodeUrl, apiKey: config.secrets.apiKey };
}

export interface ClientOptions {
  nodeUrl: string;
  apiKey?: string | null;
  timeoutMs?: number;
}

export async function callNode(
  o: ClientOptions,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: { bytes: Uint8Array } | { json: unknown },
  accept = "application/json",
): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = `${o.nodeUrl.replace(/\/+$/, "")}${path}`;
  const headers: Record<string, string> = { accept };
  let payload: BodyInit | undefined;
  if (body && "bytes" in body) {
    headers["content-type"] = "application/octet-stream";
    payload = body.bytes.slice().buffer;
  } else if (body) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body.json);
  }
  if (o.apiKey) headers["x-api-key"] = o.apiKey;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
  } catch (cause) {
    throw new CliError("node_unreachable", `cannot reach a node at ${o.nodeUrl}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const text = await res.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError("node_error", `${method} ${url} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } }).error;
    if (err?.code) throw new CliError(err.code, err.message ?? `${method} ${path} failed with ${res.status}`);
    throw new CliError("node_error", `${method} ${url} answered ${res.status}`);
  }
  return { status: res.status, json };
}
