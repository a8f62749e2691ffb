/**
 * The public API's front: a thread of its own (src/http/front_worker.ts) owns
 * the API port, so that the reads a monitor sends all the time do not wait for
 * the node's event loop. Under sustained load that loop is rarely idle: in
 * `bench:soak` a `/health` call waited 7–11 ms at the median and up to about
 * 100 ms for it, where an idle process on the same machine answered in 0.6 ms
 * (bench/PROFILE_HISTORY.md, change 22).
 *
 * - `GET /api/v1/status` and `GET /health` from a client without the API key
 *   (and without Origin or If-None-Match) are answered by the front from
 *   copies this thread refreshes every `refreshMs` (250 ms) while they are
 *   asked for (`wantedMs`, 10 s). A copy that came longer ago than `freshMs`
 *   (1 s, by the front's own clock) is never served: then the main thread answers, so a
 *   stalled node is seen as stalled, and `/health` from the front means that
 *   the node's event loop ran within the last second. The bodies are the
 *   app's own (the same JSON, headers and weak ETag); those reads are not
 *   counted against a client's rate budget, as `/health` never was.
 * - Every other request goes to the app as a message to this thread, as if
 *   it had come directly: the client's address (for its rate budget), its
 *   URL, Host, headers and body (its bytes when small and of a known length,
 *   else a transferred stream). The answer comes back as its bytes when it is
 *   complete at once (every JSON answer), else as a transferred stream (the
 *   feed's event stream). There is no second listener and no HTTP hop (one
 *   cost the public port's writes about a sixth of `bench:testnet`'s
 *   throughput; bench/PROFILE_HISTORY.md, change 23). Until the node has started
 *   (`open()`) the front answers them `503 starting`.
 */
import { concatBytes } from "../bytes.ts";
import {
  type FromFront,
  type FrontAnswer,
  type FrontCopies,
  type FrontRequest,
  type FrontStart,
  frontWorkerSource,
  type ServedRecord,
  type ToFront,
} from "./front_worker.ts";

export type { ServedRecord } from "./front_worker.ts";

/** How often this thread refreshes the front's copies (ms). */
export const FRONT_REFRESH_MS = 250;
/**
 * A read's body is made only while someone asked for it within this long
 * (ms); after that its copy goes stale, the next request goes to the app, and
 * that starts the refreshes again.
 */
export const FRONT_WANTED_MS = 10_000;
/** Stopping waits at most this long for the requests in flight, then cuts them (ms). */
export const FRONT_STOP_MAX_MS = 10_000;
/** A copy older than this is not served (ms). */
export const FRONT_FRESH_MS = 1_000;

type Handler = (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>;

/** A read the front answers from a copy: its body is the app's answer, refreshed by `body` when it changes. */
export interface FrontRead {
  path: string;
  /**
   * The current body (the JSON the app's route would send to a client without the key); none: it never
   * changes. Made every `refreshMs` while the read is wanted (`FRONT_WANTED_MS`).
   */
  body?: () => string;
}

export interface FrontOptions {
  hostname: string;
  port: number;
  /** The app: every request the front does not answer itself. */
  handler: Handler;
  reads: readonly FrontRead[];
  /** Each request the front answered itself (for the access log and the request metric). */
  onServed: (r: ServedRecord) => void;
  /** A copy could not be made (the last one stays, and is not served once older than `freshMs`). */
  onError: (err: unknown) => void;
  /** The front's thread died after it started: the port is not served any more. */
  onFailed: (err: unknown) => void;
  refreshMs?: number;
  freshMs?: number;
  wantedMs?: number;
  stopMaxMs?: number;
  /** The front thread's source text (default: front_worker.ts's; a test gives one that fails). */
  workerSource?: string;
}

export interface Front {
  readonly addr: Deno.NetAddr;
  /** Someone asked the app for this read (its copy was stale): its copies are made again. */
  wanted(path: string): void;
  /**
   * The node has started: requests that are not copies go on to the app. Until then the front answers them
   * `503 starting` (the app may not be complete yet), while the copies are served from the start.
   */
  open(): void;
  /** Stops taking connections, lets the requests in flight finish (at most `stopMaxMs`), then stops the thread. */
  shutdown(): Promise<void>;
}

/** The front could not listen (`addrInUse`: the port is taken). */
export class FrontListenError extends Error {
  readonly addrInUse: boolean;
  constructor(addrInUse: boolean, message: string) {
    super(message);
    this.name = "FrontListenError";
    this.addrInUse = addrInUse;
  }
}

/** Response headers that belong to one answer, not to the read. */
const PER_ANSWER = new Set(["x-request-id", "etag", "content-length", "date", "ratelimit", "ratelimit-policy"]);

/** A copy that could not be made is logged at most this often (ms). */
const COPY_ERROR_LOG_EVERY_MS = 60_000;

export async function startFront(o: FrontOptions): Promise<Front> {
  const wantedMs = o.wantedMs ?? FRONT_WANTED_MS;
  const wantedAt = new Map<string, number>(o.reads.map((r) => [r.path, performance.now()]));
  const wanted = (path: string) => {
    if (wantedAt.has(path)) wantedAt.set(path, performance.now());
  };
  const constant: Record<string, string> = {};
  let seq = 0;
  let copyErrorLoggedAt = -Infinity;
  /** The reads' bodies that are due: the constant ones, and each made one that was asked for lately. */
  const copies = (): FrontCopies => {
    const bodies: Record<string, string> = { ...constant };
    const now = performance.now();
    for (const r of o.reads) {
      if (r.body === undefined || now - wantedAt.get(r.path)! > wantedMs) continue;
      try {
        bodies[r.path] = r.body();
      } catch (e) {
        // This read's copy goes stale (the app answers it then); the others go on.
        if (now - copyErrorLoggedAt >= COPY_ERROR_LOG_EVERY_MS) {
          copyErrorLoggedAt = now;
          o.onError(e);
        }
      }
    }
    return { kind: "copies", seq: seq++, bodies };
  };

  const start: FrontStart = {
    kind: "start",
    hostname: o.hostname,
    port: o.port,
    freshMs: o.freshMs ?? FRONT_FRESH_MS,
    reads: {},
    etagged: [],
    copies: { kind: "copies", seq: -1, bodies: {} },
  };
  // What the app sends with each read, asked once as a client without the key would.
  for (const r of o.reads) {
    const res = await o.handler(new Request(`http://front.invalid${r.path}`), {
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 0 },
      completed: Promise.resolve(),
    });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`the API front cannot copy ${r.path}: the app answered ${res.status}`);
    start.reads[r.path] = [...res.headers].filter(([k]) => !PER_ANSWER.has(k));
    if (res.headers.has("etag")) start.etagged.push(r.path);
    if (r.body === undefined) constant[r.path] = body;
  }
  start.copies = copies();
  const url = URL.createObjectURL(
    new Blob([o.workerSource ?? frontWorkerSource()], { type: "application/javascript" }),
  );
  const w = new Worker(url, { type: "module", name: "api-front" });
  URL.revokeObjectURL(url);

  let listening: PromiseWithResolvers<Deno.NetAddr> | null = Promise.withResolvers();
  let stopRequested = false;
  const stopped = Promise.withResolvers<void>();
  w.onmessage = (e: MessageEvent<FromFront>) => {
    const m = e.data;
    switch (m.kind) {
      case "listening":
        listening?.resolve({ transport: "tcp", hostname: m.hostname, port: m.port });
        break;
      case "failed":
        listening?.reject(new FrontListenError(m.addrInUse, m.message));
        break;
      case "served":
        for (const r of m.records) {
          wanted(r.path);
          o.onServed(r);
        }
        break;
      case "request":
        void answer(m);
        break;
      case "stopped":
        stopped.resolve();
        break;
    }
  };
  /** A request the front handed on: the app answers it, and the answer goes back (its body whole, or streamed). */
  const answer = async (m: FrontRequest) => {
    let a: FrontAnswer;
    try {
      const req = UNSENDABLE.has(m.method.toUpperCase())
        ? new NamedMethodRequest(m.url, m.method, m.headers)
        : new Request(m.url, { method: m.method, headers: m.headers, body: m.body });
      const res = await o.handler(req, {
        remoteAddr: { transport: "tcp", hostname: m.peer.hostname, port: m.peer.port },
        completed: Promise.resolve(),
      });
      a = {
        kind: "answer",
        id: m.id,
        status: res.status,
        statusText: res.statusText,
        headers: [...res.headers],
        body: res.body === null ? null : await whole(res.body),
      };
    } catch (e) {
      if (m.body instanceof ReadableStream) await m.body.cancel().catch(() => {});
      a = { kind: "answer", id: m.id, failed: (e as Error)?.message ?? String(e) };
    }
    try {
      const body = "body" in a ? a.body : null;
      w.postMessage(a, body === null ? [] : [body instanceof Uint8Array ? body.buffer : body]);
    } catch (e) {
      w.postMessage({ kind: "answer", id: m.id, failed: (e as Error)?.message ?? String(e) });
    }
  };
  w.onerror = (e) => {
    e.preventDefault();
    const err = new Error(`the API front's thread failed: ${e.message}`);
    if (listening) listening.reject(err);
    else if (!stopRequested) o.onFailed(err);
    stopped.resolve();
  };
  const post = (m: ToFront) => w.postMessage(m);
  post(start);
  let addr: Deno.NetAddr;
  try {
    addr = await listening.promise;
  } catch (e) {
    w.terminate();
    throw e;
  } finally {
    listening = null;
  }

  const timer = setInterval(() => post(copies()), o.refreshMs ?? FRONT_REFRESH_MS);
  Deno.unrefTimer(timer);

  let stopping: Promise<void> | null = null;
  return {
    addr,
    wanted,
    open: () => post({ kind: "open" }),
    shutdown() {
      stopping ??= (async () => {
        stopRequested = true;
        clearInterval(timer);
        post({ kind: "stop" });
        // Bounded: requests still in flight then are cut when the thread stops, which closes their connections.
        const maxMs = o.stopMaxMs ?? FRONT_STOP_MAX_MS;
        await settledWithin(stopped.promise, maxMs);
        w.terminate();
      })();
      return stopping;
    },
  };
}

/** Methods a Request cannot be made with (the fetch standard forbids them); the app still answers them. */
const UNSENDABLE = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * A bodiless request whose method is one a Request cannot be made with (TRACE, TRACK, CONNECT: the fetch
 * standard forbids them), for the app to answer as it did before the front (405 with Allow).
 */
class NamedMethodRequest extends Request {
  readonly #method: string;
  constructor(url: string, method: string, headers: HeadersInit) {
    super(url, { method: "GET", headers });
    this.#method = method;
  }
  override get method(): string {
    return this.#method;
  }
}

/** An answer's body longer than this goes on as a stream even when it is complete (bytes). */
const WHOLE_MAX_BYTES = 1024 * 1024;
const STILL_WRITING = Symbol("still writing");

/**
 * The body's bytes if it is complete at once (an answer made from a string or bytes, as every JSON answer is), so
 * that the front sends it with its length and one message carries it; else a stream that gives what was read so far
 * and then the rest (the feed's event stream, still being written). A read that has not settled after a few
 * microtasks means the body is still being written.
 */
async function whole(body: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let carried: Promise<ReadableStreamReadResult<Uint8Array>> | null = null;
  while (size <= WHOLE_MAX_BYTES) {
    const read = reader.read();
    const r = await Promise.race([read, afterMicrotasks(3)]);
    if (r === STILL_WRITING) {
      carried = read;
      break;
    }
    // A copy of its own: transferring the chunks' buffers could take them from whoever made them.
    if (r.done) return concatBytes(...chunks);
    chunks.push(r.value);
    size += r.value.byteLength;
  }
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const first = chunks.shift();
      if (first !== undefined) return c.enqueue(first);
      const r = await (carried ?? reader.read());
      carried = null;
      if (r.done) c.close();
      else c.enqueue(r.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function afterMicrotasks(n: number): Promise<typeof STILL_WRITING> {
  let p = Promise.resolve(STILL_WRITING);
  for (let i = 0; i < n; i++) p = p.then((x) => x);
  return p;
}

/** Resolves when `p` settles or after `ms`, whichever comes first. */
async function settledWithin(p: Promise<unknown>, ms: number): Promise<void> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p.catch(() => {}), new Promise<void>((r) => t = setTimeout(r, ms))]);
  } finally {
    clearTimeout(t);
  }
}
