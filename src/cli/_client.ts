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

/**
 * The node's base URL, checked: http(s) only, and no credentials, query or
 * fragment, which could make the origin the API key goes to differ from the
 * one the user reads ("http://node:8080@elsewhere/").
 */
function nodeBase(nodeUrl: string): URL {
  let base: URL;
  try {
    base = new URL(nodeUrl);
  } catch {
    throw new CliError("node_url_invalid", `node URL ${JSON.stringify(nodeUrl)} is not a URL`);
  }
  const problem = base.protocol !== "http:" && base.protocol !== "https:"
    ? `its scheme is ${base.protocol.slice(0, -1)}, expected http or https`
    : base.username || base.password
    ? "it carries credentials (user@); the API key is sent in a header"
    : base.search || base.hash || nodeUrl.includes("?") || nodeUrl.includes("#")
    ? "it has a query or fragment"
    : null;
  if (problem !== null) throw new CliError("node_url_invalid", `node URL ${nodeUrl} is refused: ${problem}`);
  return base;
}

/**
 * One request to the node. The API key goes only to the configured node's
 * origin: redirects are never followed (a redirect answer is refused with
 * `node_redirect`, naming where it pointed), so neither the key nor a signed
 * body reaches a server the user did not name.
 */
export async function callNode(
  o: ClientOptions,
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  body?: { bytes: Uint8Array } | { json: unknown },
  accept = "application/json",
): Promise<{ status: number; json: Record<string, unknown> }> {
  const base = nodeBase(o.nodeUrl);
  const url = new URL(`${base.pathname.replace(/\/+$/, "")}${path}`, base.origin);
  if (url.origin !== base.origin) {
    throw new CliError("node_url_invalid", `${path} would leave the node at ${base.origin}`);
  }
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
    res = await fetch(url, {
      method,
      headers,
      body: payload,
      redirect: "manual",
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
  } catch (cause) {
    throw new CliError("node_unreachable", `cannot reach a node at ${o.nodeUrl}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel();
    const location = res.headers.get("location");
    const where = location === null ? "" : ` to ${new URL(location, url).href}`;
    throw new CliError(
      "node_redirect",
      `${method} ${url.href} answered ${res.status} with a redirect${where}; redirects are not followed, so the ` +
        "API key goes only to the configured node: set --node (or QUDAG_NODE_URL) to the node's own address",
    );
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
    if (err?.code === "unauthorized") {
      throw new CliError(
        err.code,
        `${o.nodeUrl} refused the write: ${err.message ?? res.status}. ${
          o.apiKey ? "QUDAG_API_KEY here differs from the node's" : "Set QUDAG_API_KEY to the node's API key"
        } (export QUDAG_API_KEY=…; \`deno task testnet\` writes it to .testnet/env, \`qudag genesis init\` to <out>/api-key)`,
      );
    }
    if (err?.code) throw new CliError(err.code, err.message ?? `${method} ${path} failed with ${res.status}`);
    throw new CliError("node_error", `${method} ${url} answered ${res.status}`);
  }
  return { status: res.status, json };
}
