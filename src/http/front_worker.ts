/**
 * The API front's thread (src/http/front.ts runs it). It owns the public API
 * port: a few reads that a monitor or a probe sends all the time (the status,
 * /health) it answers from copies the main thread refreshes, and every other
 * request it hands to the main thread's app over loopback, with the client's
 * address, URL, headers and body, and streams the answer back.
 *
 * `frontMain` runs in a Worker made from its own source text (a blob URL), so
 * it imports nothing and reads no file: the binary's narrow read permission
 * (deno.json's compile task) covers no module file, and a blob needs none. A
 * type can be imported here (it is erased); a value cannot.
 */

/** Main -> front: where to listen, where the app is, how to tell it who asked. */
export interface FrontStart {
  kind: "start";
  hostname: string;
  port: number;
  /** The main thread's loopback listener, e.g. `http://127.0.0.1:40123`. */
  upstream: string;
  /** Sent with every handed-over request; the main thread's listener refuses requests without it. */
  token: string;
  /** A copy older than this is not served: the request goes to the main thread (ms). */
  freshMs: number;
  /** Per path: the headers the app sends with that read (no request id, ETag or length). */
  reads: Record<string, [string, string][]>;
  /** Paths whose answer carries a weak ETag (the SHA-1 of the body, as the app's cache middleware makes it). */
  etagged: string[];
}

/** Main -> front: some reads' bodies as of `atMs` (wall clock); the other copies keep their own age. */
export interface FrontCopies {
  kind: "copies";
  atMs: number;
  bodies: Record<string, string>;
}

export interface FrontStop {
  kind: "stop";
}

export type ToFront = FrontStart | FrontCopies | FrontStop;

/** One request the front answered itself, for the access log and the request metric. */
export interface ServedRecord {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
}

export type FromFront =
  | { kind: "listening"; hostname: string; port: number }
  | { kind: "failed"; addrInUse: boolean; message: string }
  | { kind: "served"; records: ServedRecord[] }
  /** The first copies are taken: from now on the front answers those reads itself. */
  | { kind: "copied" }
  | { kind: "stopped" };

/** Headers the front adds to a handed-over request (the main thread's listener takes them off again). */
export const FRONT_HEADERS = Object.freeze({
  token: "x-qudag-front-token",
  peer: "x-qudag-front-peer",
  url: "x-qudag-front-url",
});

/** The Worker's source text: `frontMain` called at once. */
export function frontWorkerSource(): string {
  return `(${frontMain.toString()})();\n`;
}

/**
 * The front's thread. Self-contained: it runs from its own source text, so it
 * may use only globals (the header names are repeated here for that reason;
 * front_test.ts checks them against FRONT_HEADERS).
 */
function frontMain(): void {
  const scope = self as unknown as {
    onmessage: ((e: MessageEvent<ToFront>) => void) | null;
    postMessage(m: FromFront): void;
  };
  const TOKEN = "x-qudag-front-token";
  const PEER = "x-qudag-front-peer";
  const URL_HEADER = "x-qudag-front-url";
  const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
  /** Request headers that are the hop's own, not the client's. */
  const HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"];
  const SERVED_BATCH_MAX = 256;
  /** Records go to the main thread in the next turn: the access log stays timely, a flood is batched. */
  const SERVED_FLUSH_MS = 0;

  let start: FrontStart | null = null;
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  /** Per path: the body with its headers, and when the main thread made it (wall clock). */
  const copies = new Map<string, { body: string; headers: [string, string][]; atMs: number }>();
  let served: ServedRecord[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  let copied = false;

  const flush = () => {
    if (flushTimer !== null) clearTimeout(flushTimer);
    flushTimer = null;
    if (served.length === 0) return;
    scope.postMessage({ kind: "served", records: served });
    served = [];
  };
  const record = (r: ServedRecord) => {
    served.push(r);
    if (served.length >= SERVED_BATCH_MAX) flush();
    else flushTimer ??= setTimeout(flush, SERVED_FLUSH_MS);
  };

  const sha1Hex = async (text: string) => {
    return new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text))).toHex();
  };

  const takeCopies = async (m: FrontCopies) => {
    const s = start!;
    for (const [path, body] of Object.entries(m.bodies)) {
      const headers = [...(s.reads[path] ?? [])];
      if (s.etagged.includes(path)) headers.push(["etag", `W/"${await sha1Hex(body)}"`]);
      // Messages are taken concurrently (the ETag is awaited): a newer copy is never replaced by an older one.
      if ((copies.get(path)?.atMs ?? -Infinity) <= m.atMs) copies.set(path, { body, headers, atMs: m.atMs });
    }
    if (!copied) {
      copied = true;
      scope.postMessage({ kind: "copied" });
    }
  };

  /** The request can be answered from a copy: a plain GET of a copied path, by a client without a key. */
  const fromCopy = (req: Request, url: URL) => {
    if (req.method !== "GET" || url.search !== "") return null;
    const h = req.headers;
    // Key holders see more (peers' addresses), a browser's Origin gets CORS headers, a revalidation its 304: the app
    // answers those.
    if (h.has("x-api-key") || h.has("origin") || h.has("if-none-match")) return null;
    const copy = copies.get(url.pathname);
    return copy !== undefined && Date.now() - copy.atMs <= start!.freshMs ? copy : null;
  };

  const unavailable = (requestId: string, message: string) =>
    new Response(
      JSON.stringify({ error: { code: "node_unavailable", message, requestId } }),
      {
        status: 503,
        headers: { "content-type": "application/json", "cache-control": "no-store", "x-request-id": requestId },
      },
    );

  const handOver = async (req: Request, url: URL, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const s = start!;
    const headers = new Headers(req.headers);
    for (const h of HOP) headers.delete(h);
    headers.set(TOKEN, s.token);
    headers.set(PEER, `${info.remoteAddr.hostname} ${info.remoteAddr.port}`);
    headers.set(URL_HEADER, req.url);
    // The main thread's answer comes back as it is, and this thread compresses it for the client if asked.
    headers.set("accept-encoding", "identity");
    try {
      const up = await fetch(`${s.upstream}${url.pathname}${url.search}`, {
        method: req.method,
        headers,
        // A GET or HEAD takes no body here (fetch refuses one); the app never reads one from them either.
        body: req.method === "GET" || req.method === "HEAD" ? null : req.body,
        // No `signal: req.signal`: this runtime aborts it when an answer is sent, which would cut a streamed body.
        // A client that goes away cancels the body below, and that closes the request to the main thread.
        redirect: "manual",
      });
      return new Response(up.body, { status: up.status, statusText: up.statusText, headers: up.headers });
    } catch (e) {
      const incoming = req.headers.get("x-request-id");
      const id = incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
      return unavailable(id, `the node did not answer: ${(e as Error).message}`);
    }
  };

  const handle = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response | Promise<Response> => {
    const url = new URL(req.url);
    const copy = fromCopy(req, url);
    if (copy === null) return handOver(req, url, info);
    const started = performance.now();
    const incoming = req.headers.get("x-request-id");
    const requestId = incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
    const res = new Response(copy.body, { status: 200, headers: [...copy.headers, ["x-request-id", requestId]] });
    record({ method: "GET", path: url.pathname, status: 200, durationMs: performance.now() - started, requestId });
    return res;
  };

  scope.onmessage = (e: MessageEvent<ToFront>) => {
    const m = e.data;
    if (m.kind === "start") {
      start = m;
      try {
        server = Deno.serve({
          hostname: m.hostname,
          port: m.port,
          onListen: (a) => scope.postMessage({ kind: "listening", hostname: a.hostname, port: a.port }),
          // The front's own code failed on one request: that request gets a 500 in the API's error shape.
          onError: (err) => {
            const requestId = crypto.randomUUID();
            return new Response(
              JSON.stringify({
                error: { code: "internal", message: `the API front failed: ${(err as Error)?.message}`, requestId },
              }),
              {
                status: 500,
                headers: { "content-type": "application/json", "cache-control": "no-store", "x-request-id": requestId },
              },
            );
          },
        }, handle);
      } catch (err) {
        scope.postMessage({
          kind: "failed",
          addrInUse: err instanceof Deno.errors.AddrInUse,
          message: (err as Error).message,
        });
      }
    } else if (m.kind === "copies") {
      // A copy that cannot be taken leaves the last one, which goes stale: the app answers then.
      takeCopies(m).catch(() => {});
    } else if (m.kind === "stop") {
      copies.clear();
      const done = server === null ? Promise.resolve() : server.shutdown();
      void done.finally(() => {
        flush();
        scope.postMessage({ kind: "stopped" });
      });
    }
  };
}
