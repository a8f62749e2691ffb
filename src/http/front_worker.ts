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

/** Main -> front: where to listen, where the app is, how to tell it who asked, and the first copies. */
export interface FrontStart {
  kind: "start";
  hostname: string;
  port: number;
  /** The main thread's loopback listener, e.g. `http://127.0.0.1:40123`. */
  upstream: string;
  /** Sent with every handed-over request; the main thread's listener refuses requests without it. */
  token: string;
  /** A copy that came longer ago than this is not served: the request goes to the main thread (ms). */
  freshMs: number;
  /** Per path: the headers the app sends with that read (no request id, ETag or length). */
  reads: Record<string, [string, string][]>;
  /** Paths whose answer carries a weak ETag (the SHA-1 of the body, as the app's cache middleware makes it). */
  etagged: string[];
  /** Taken before the port is opened: the first request is answered from them already. */
  copies: FrontCopies;
}

/** Main -> front: some reads' bodies (the other copies keep their own age), numbered in the order made. */
export interface FrontCopies {
  kind: "copies";
  seq: number;
  bodies: Record<string, string>;
}

/** Main -> front: the node has started; requests that are not copies go on to the app from now on. */
export interface FrontOpen {
  kind: "open";
}

export interface FrontStop {
  kind: "stop";
}

export type ToFront = FrontStart | FrontCopies | FrontOpen | FrontStop;

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
  | { kind: "stopped" };

/** Headers the front adds to a handed-over request (the main thread's listener takes them off again). */
export const FRONT_HEADERS = Object.freeze({
  token: "x-qudag-front-token",
  peer: "x-qudag-front-peer",
  url: "x-qudag-front-url",
  /** A method fetch() may not send (TRACE, TRACK, CONNECT): the request goes as a GET that names it. */
  method: "x-qudag-front-method",
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
  const METHOD = "x-qudag-front-method";
  /** Methods fetch() refuses to send; the app still answers them (405 with Allow). */
  const UNSENDABLE = new Set(["CONNECT", "TRACE", "TRACK"]);
  const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
  /** Request headers that are the hop's own, not the client's. */
  const HOP = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"];
  const SERVED_BATCH_MAX = 256;
  /** Records go to the main thread in the next turn: the access log stays timely, a flood is batched. */
  const SERVED_FLUSH_MS = 0;

  let start: FrontStart | null = null;
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;
  /** Requests that are not copies wait for this (the node has started). */
  let open = false;
  /**
   * Per path: the body with its headers, the number of the message it came in, and when it came by this thread's
   * own clock (a wall clock stepped back must not make an old copy look new).
   */
  const copies = new Map<string, { body: string; headers: [string, string][]; seq: number; cameMs: number }>();
  let served: ServedRecord[] = [];
  let flushTimer: ReturnType<typeof setTimeout> | null = null;

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
  const requestIdOf = (req: Request) => {
    const incoming = req.headers.get("x-request-id");
    return incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
  };

  const sha1Hex = async (text: string) =>
    new Uint8Array(await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text))).toHex();

  const takeCopies = async (m: FrontCopies, cameMs: number) => {
    const s = start!;
    for (const [path, body] of Object.entries(m.bodies)) {
      const headers = [...(s.reads[path] ?? [])];
      if (s.etagged.includes(path)) headers.push(["etag", `W/"${await sha1Hex(body)}"`]);
      // Messages are taken concurrently (the ETag is awaited): a newer copy is never replaced by an older one.
      if ((copies.get(path)?.seq ?? -1) < m.seq) copies.set(path, { body, headers, seq: m.seq, cameMs });
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
    return copy !== undefined && performance.now() - copy.cameMs <= start!.freshMs ? copy : null;
  };

  /** An answer of the front's own in the API's error shape (`{ error: { code, message, requestId } }`). */
  const errorResponse = (status: number, code: string, message: string, requestId: string) =>
    new Response(JSON.stringify({ error: { code, message, requestId } }), {
      status,
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
        "x-request-id": requestId,
        ...(status === 503 ? { "retry-after": "1" } : {}),
      },
    });

  /** A refusal of the front's own, recorded like any answer. */
  const refuse = (req: Request, url: URL, status: number, code: string, message: string, started: number) => {
    const requestId = requestIdOf(req);
    record({ method: req.method, path: url.pathname, status, durationMs: performance.now() - started, requestId });
    return errorResponse(status, code, message, requestId);
  };

  const handOver = async (req: Request, url: URL, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const started = performance.now();
    if (!open) return refuse(req, url, 503, "starting", "the node is starting; try again in a moment", started);
    const s = start!;
    const headers = new Headers(req.headers);
    for (const h of HOP) headers.delete(h);
    // Set, not added: a client's own values for these never reach the app.
    headers.set(TOKEN, s.token);
    headers.set(PEER, `${info.remoteAddr.hostname} ${info.remoteAddr.port}`);
    headers.set(URL_HEADER, req.url);
    const unsendable = UNSENDABLE.has(req.method.toUpperCase());
    if (unsendable) headers.set(METHOD, req.method);
    else headers.delete(METHOD);
    // The main thread's answer comes back as it is, not compressed for this hop.
    headers.set("accept-encoding", "identity");
    try {
      const up = await fetch(`${s.upstream}${url.pathname}${url.search}`, {
        method: unsendable ? "GET" : req.method,
        headers,
        // A GET or HEAD takes no body here (fetch refuses one); the app never reads one from them either.
        body: unsendable || req.method === "GET" || req.method === "HEAD" ? null : req.body,
        // No `signal: req.signal`: this runtime aborts it when the answer has been sent. A client that goes away
        // while the answer streams cancels the body below, which closes the request to the main thread; one that
        // goes away before the answer starts does not stop the app's work on it.
        redirect: "manual",
      });
      return new Response(up.body, { status: up.status, statusText: up.statusText, headers: up.headers });
    } catch {
      return refuse(req, url, 503, "node_unavailable", "the node did not answer; try again", started);
    }
  };

  const handle = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response | Promise<Response> => {
    const url = new URL(req.url);
    const copy = fromCopy(req, url);
    if (copy === null) return handOver(req, url, info);
    const started = performance.now();
    const requestId = requestIdOf(req);
    const res = new Response(copy.body, { status: 200, headers: [...copy.headers, ["x-request-id", requestId]] });
    record({ method: "GET", path: url.pathname, status: 200, durationMs: performance.now() - started, requestId });
    return res;
  };

  const listen = async (m: FrontStart) => {
    start = m;
    try {
      await takeCopies(m.copies, performance.now());
      server = Deno.serve({
        hostname: m.hostname,
        port: m.port,
        onListen: (a) => scope.postMessage({ kind: "listening", hostname: a.hostname, port: a.port }),
        // The front's own code failed on one request: that request gets a 500 in the API's error shape.
        onError: () => errorResponse(500, "internal", "the API front failed on this request", crypto.randomUUID()),
      }, handle);
    } catch (err) {
      scope.postMessage({
        kind: "failed",
        addrInUse: err instanceof Deno.errors.AddrInUse,
        message: (err as Error).message,
      });
    }
  };

  scope.onmessage = (e: MessageEvent<ToFront>) => {
    const m = e.data;
    if (m.kind === "start") {
      void listen(m);
    } else if (m.kind === "copies") {
      // A copy that cannot be taken leaves the last one, which goes stale: the app answers then.
      takeCopies(m, performance.now()).catch(() => {});
    } else if (m.kind === "open") {
      open = true;
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
