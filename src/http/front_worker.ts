/**
 * The API front's thread (src/http/front.ts runs it). It owns the public API
 * port: a few reads that a monitor or a probe sends all the time (the status,
 * /health) it answers from copies the main thread refreshes, and every other
 * request it hands to the main thread's app as a message, with the client's
 * address, URL, headers and body (its bytes when small and of a known length,
 * else a transferred stream), and the answer comes back the same way.
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

/** A body between the threads: its bytes (transferred), a transferred stream, or none. */
export type FrontBody = Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | null;

/**
 * Main -> front: the app's answer to request `id`. Its body is the bytes when the answer was complete at once (every
 * JSON answer), else a transferred stream (the feed's event stream goes on for as long as the client stays).
 * `failed`: the app threw instead of answering.
 */
export type FrontAnswer =
  | {
    kind: "answer";
    id: number;
    status: number;
    statusText: string;
    headers: [string, string][];
    body: FrontBody;
  }
  | { kind: "answer"; id: number; failed: string };

export type ToFront = FrontStart | FrontCopies | FrontOpen | FrontStop | FrontAnswer;

/**
 * Front -> main: a request for the app, as the client sent it: method, URL (with the client's Host), headers, the
 * client's address (for its rate budget), and the body: its bytes when small and of a known length, else a
 * transferred stream (none for GET and HEAD).
 */
export interface FrontRequest {
  kind: "request";
  id: number;
  method: string;
  url: string;
  headers: [string, string][];
  peer: { hostname: string; port: number };
  body: FrontBody;
}

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
  | FrontRequest
  | { kind: "stopped" };

/** The Worker's source text: `frontMain` called at once. */
export function frontWorkerSource(): string {
  return `(${frontMain.toString()})();\n`;
}

/**
 * The front's thread. Self-contained: it runs from its own source text, so it
 * may use only globals.
 */
function frontMain(): void {
  const scope = self as unknown as {
    onmessage: ((e: MessageEvent<ToFront>) => void) | null;
    postMessage(m: FromFront, transfer?: Transferable[]): void;
  };
  const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
  const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
  /** A request's body of a known length up to this goes to the main thread in one message. */
  const WHOLE_BODY_MAX_BYTES = 256 * 1024;
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
  /** Requests handed to the main thread, waiting for its answer, by number. */
  const waiting = new Map<number, (a: FrontAnswer) => void>();
  let nextId = 0;
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
    const id = nextId++;
    // A GET or HEAD takes no body here; the app never reads one from them. A small body of a known length goes in
    // the message itself (its bytes, transferred); a larger one, or one of unknown length, as a transferred stream,
    // which the app reads (and limits) chunk by chunk, each chunk a message between the threads.
    let body: FrontBody = null;
    if (req.method !== "GET" && req.method !== "HEAD" && req.body !== null) {
      const length = Number(req.headers.get("content-length") ?? NaN);
      if (length >= 0 && length <= WHOLE_BODY_MAX_BYTES) {
        try {
          body = new Uint8Array(await req.arrayBuffer());
        } catch {
          // The client went away, or sent less than it announced.
          return refuse(req, url, 400, "invalid_request", "the request's body could not be read", started);
        }
      } else {
        body = req.body;
      }
    }
    const answered = new Promise<FrontAnswer>((resolve) => waiting.set(id, resolve));
    try {
      scope.postMessage({
        kind: "request",
        id,
        method: req.method,
        url: req.url,
        headers: [...req.headers],
        peer: { hostname: info.remoteAddr.hostname, port: info.remoteAddr.port },
        body,
      }, body === null ? [] : [body instanceof Uint8Array ? body.buffer : body]);
    } catch {
      waiting.delete(id);
      return refuse(req, url, 503, "node_unavailable", "the node did not answer; try again", started);
    }
    // No abort on the request's signal: this runtime aborts it when the answer has been sent. A client that goes
    // away while the answer streams cancels the body, and the cancel reaches the app's stream; one that goes away
    // before the answer starts does not stop the app's work on it.
    const a = await answered;
    if ("failed" in a) return refuse(req, url, 500, "internal", "the node failed on this request", started);
    // A status that may carry no body (204, 304, ...) gets none, even an empty one.
    const answerBody = NULL_BODY_STATUS.has(a.status) ? null : a.body;
    return new Response(answerBody, { status: a.status, statusText: a.statusText, headers: a.headers });
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
    } else if (m.kind === "answer") {
      const resolve = waiting.get(m.id);
      waiting.delete(m.id);
      resolve?.(m);
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
