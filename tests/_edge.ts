/**
 * Helpers for the edge replica's multi-process tests: the replica's entry
 * point run as Deno Deploy runs it (`deno serve --allow-all edge/main.ts`, no
 * other flag: the repository's deno.json enables KV and cron), and an upstream
 * in this process that forwards to a real node and can tamper with what it
 * answers.
 */
import { baseEnv, ROOT } from "../scripts/node_process.ts";

export interface EdgeProcess {
  readonly url: string;
  /** Stdout and stderr so far (JSON log lines). */
  log(): string;
  // deno-lint-ignore no-explicit-any -- a JSON answer whose fields each test reads
  json(path: string, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any }>;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export async function startEdge(env: Record<string, string>): Promise<EdgeProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["serve", "--allow-all", "--host", "127.0.0.1", "--port", String(port), "edge/main.ts"],
    cwd: ROOT,
    env: { ...baseEnv(), ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (true) {
    if (exited) throw new Error(`edge exited before listening:\n${text}`);
    if (Date.now() > deadline) throw new Error(`edge not listening after 30 s:\n${text}`);
    try {
      const res = await fetch(`${url}/api/v1/status`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => text,
    async json(path, headers = {}) {
      const res = await fetch(`${url}${path}`, { headers, signal: AbortSignal.timeout(15_000) });
      const raw = await res.text();
      return { status: res.status, headers: res.headers, body: raw === "" ? null : JSON.parse(raw) };
    },
    /** SIGKILL: a replica must survive dying at any point (its KV state stays whole). */
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await pumps;
    },
  };
}

export interface Upstream {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * An HTTP server on loopback that forwards GETs to `target` and lets
 * `tamper(path, body)` change a JSON answer (return it changed, or as is).
 * The node's refusals pass through with their status and Retry-After, and a
 * node that does not answer is a 502, as a proxy answers: only `tamper` lies.
 */
export function tamperingUpstream(
  target: string,
  // deno-lint-ignore no-explicit-any -- any JSON answer of a node
  tamper: (path: string, body: any) => any,
): Upstream {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const u = new URL(req.url);
    let res: Response;
    let body: unknown;
    try {
      res = await fetch(`${target}${u.pathname}${u.search}`, {
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(30_000),
      });
      body = await res.json();
    } catch (error) {
      return Response.json({ error: { code: "bad_gateway", message: String(error) } }, { status: 502 });
    }
    const retryAfter = res.headers.get("retry-after");
    return Response.json(res.ok ? tamper(u.pathname, body) : body, {
      status: res.status,
      headers: retryAfter === null ? {} : { "retry-after": retryAfter },
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    stop: () => server.shutdown(),
  };
}
