/**
 * A small HTTP/1.1 client over kept-alive TCP connections, for the open
 * loop's submissions: one request per transfer at 1,000/s from the process
 * that shares the 2 cores with the nodes. `fetch` cost the load generator
 * about 0.05–0.07 ms of CPU per request against 0.015 ms for this (a loop of
 * 20,000 POSTs of 4.8 KB to a local `Deno.serve`, 16 at once), and every
 * millisecond it takes is one the nodes under test do not get.
 *
 * It speaks only what the node's API answers: a status line, headers, and a
 * body of `content-length` bytes or in chunks. A request runs alone on its
 * connection (no pipelining); a connection that fails or is closed is dropped.
 * A request whose kept-alive connection failed (the server closes an idle
 * one; a node started again closed them all) is made once more on a new
 * connection, so it may reach the server twice: use the pool for requests
 * that are safe to repeat, as a submission of the same signed bytes is. Each
 * request is bounded in time as a whole: the wait for a connection, the
 * connect, the exchange and the one retry.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF2 = encoder.encode("\r\n\r\n");
/** The largest response head read. */
const HEAD_BYTES_MAX = 16_384;
/** The largest response body read. */
const BODY_BYTES_MAX = 64 << 20;

export interface Http1Response {
  status: number;
  /** Header names lower-cased. */
  headers: Map<string, string>;
  body: Uint8Array;
}

/** The connection closed or failed before a whole response arrived (a TypeError, as `fetch` throws). */
export class Http1ConnectionError extends TypeError {}

/** No whole answer within the request's time. */
export class Http1TimeoutError extends Error {
  override name = "TimeoutError";
}

/** The server answered something this client does not read (the connection is dropped). */
export class Http1ProtocolError extends Error {}

/** A connection and what it read past the last response. */
class Connection {
  #buf = new Uint8Array(65_536);
  #have = 0;
  /** Requests answered on it: a failure before the first answer is not a stale kept-alive connection. */
  answered = 0;

  constructor(readonly conn: Deno.TcpConn) {}

  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  /** Reads until `n` bytes are buffered. */
  async #fill(n: number): Promise<void> {
    if (n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(n, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#have));
      this.#buf = grown;
    }
    while (this.#have < n) {
      const got = await this.conn.read(this.#buf.subarray(this.#have));
      if (got === null) throw new Http1ConnectionError("connection closed by the server");
      this.#have += got;
    }
  }

  /** Takes the first `n` buffered bytes (a copy). */
  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf.copyWithin(0, n, this.#have);
    this.#have -= n;
    return out;
  }

  /** Reads up to and including the next CRLF CRLF; returns the text before it. */
  async #head(): Promise<string> {
    for (let searched = 0;;) {
      const at = indexOf(this.#buf.subarray(0, this.#have), CRLF2, Math.max(0, searched - 3));
      if (at >= 0) return decoder.decode(this.#take(at + 4).subarray(0, at));
      searched = this.#have;
      if (this.#have >= HEAD_BYTES_MAX) throw new Http1ProtocolError("response head too large");
      await this.#fill(this.#have + 1);
    }
  }

  /** Reads one line ending in CRLF (a chunk size line), without it. */
  async #line(): Promise<string> {
    for (;;) {
      const at = indexOf(this.#buf.subarray(0, this.#have), CRLF2.subarray(0, 2), 0);
      if (at >= 0) return decoder.decode(this.#take(at + 2).subarray(0, at));
      if (this.#have >= HEAD_BYTES_MAX) throw new Http1ProtocolError("chunk size or trailer line too long");
      await this.#fill(this.#have + 1);
    }
  }

  async response(): Promise<Http1Response & { close: boolean }> {
    const [statusLine, ...lines] = (await this.#head()).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (m === null) throw new Http1ProtocolError(`not an HTTP/1.1 status line: ${statusLine.slice(0, 80)}`);
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    let body: Uint8Array;
    if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
      const parts: Uint8Array[] = [];
      for (let total = 0;;) {
        const sizeLine = (await this.#line()).split(";")[0].trim();
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeLine)) {
          throw new Http1ProtocolError(`bad chunk size ${sizeLine.slice(0, 20)}`);
        }
        const size = parseInt(sizeLine, 16);
        if (size === 0) break;
        total += size;
        if (total > BODY_BYTES_MAX) throw new Http1ProtocolError(`a chunked body over ${BODY_BYTES_MAX} bytes`);
        await this.#fill(size + 2);
        const chunk = this.#take(size + 2);
        if (chunk[size] !== 13 || chunk[size + 1] !== 10) throw new Http1ProtocolError("a chunk not ended by CRLF");
        parts.push(chunk.subarray(0, size));
      }
      // Trailers, if any, up to the empty line that ends the body.
      while ((await this.#line()) !== "");
      body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        body.set(p, at);
        at += p.length;
      }
    } else {
      const raw = headers.get("content-length") ?? "0";
      const length = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
      if (!(length <= BODY_BYTES_MAX)) throw new Http1ProtocolError(`bad content-length ${raw.slice(0, 20)}`);
      await this.#fill(length);
      body = this.#take(length);
    }
    this.answered++;
    return { status: Number(m[1]), headers, body, close: headers.get("connection")?.toLowerCase() === "close" };
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed already */ }
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Kept-alive connections to one `http://host:port` origin, at most `max` at once. */
export class Http1Pool {
  readonly #hostname: string;
  readonly #port: number;
  readonly #host: string;
  readonly #max: number;
  readonly #idle: Connection[] = [];
  readonly #waiting: ((c: Connection | Error) => void)[] = [];
  #open = 0;
  #closed = false;

  constructor(origin: string, max = 16) {
    const url = new URL(origin);
    if (url.protocol !== "http:") throw new Error(`Http1Pool speaks plain HTTP, not ${url.protocol}`);
    this.#hostname = url.hostname;
    this.#port = Number(url.port || 80);
    this.#host = url.host;
    this.#max = Math.max(1, max);
  }

  /**
   * One request; the body is sent as is with its length. Throws Http1ConnectionError when the connection failed
   * before a whole answer (also on the retry), Http1TimeoutError when none came within `timeoutMs`, and
   * Http1ProtocolError when the answer cannot be read.
   */
  async request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body: Uint8Array,
    timeoutMs: number,
  ): Promise<Http1Response> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\ncontent-length: ${body.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    const headBytes = encoder.encode(`${head}\r\n`);
    const message = new Uint8Array(headBytes.length + body.length);
    message.set(headBytes);
    message.set(body, headBytes.length);
    let current: Connection | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        current?.close();
        reject(new Http1TimeoutError(`${method} ${path}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
    });
    expired.catch(() => {});
    try {
      for (let attempt = 0;; attempt++) {
        const acquiring = this.#acquire();
        try {
          current = await Promise.race([acquiring, expired]);
        } catch (e) {
          // Out of time while waiting for a connection: it goes to the next request when it comes.
          acquiring.then((late) => this.#release(late), () => {});
          throw e;
        }
        const c = current;
        try {
          await Promise.race([c.write(message), expired]);
          const r = await Promise.race([c.response(), expired]);
          if (r.close) this.#drop(c);
          else this.#release(c);
          return r;
        } catch (e) {
          this.#drop(c);
          if (e instanceof Http1TimeoutError || e instanceof Http1ProtocolError) throw e;
          // A kept-alive connection that had failed: the idle ones are likely as old; once more on a new one.
          if (attempt === 0 && c.answered > 0) {
            for (const idle of this.#idle.splice(0)) this.#drop(idle);
            continue;
          }
          if (e instanceof Http1ConnectionError) throw e;
          throw new Http1ConnectionError(`${method} ${path}: ${(e as Error).message}`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.close();
    for (const w of this.#waiting.splice(0)) w(new Http1ConnectionError("the pool is closed"));
  }

  async #acquire(): Promise<Connection> {
    if (this.#closed) throw new Http1ConnectionError("the pool is closed");
    const idle = this.#idle.pop();
    if (idle !== undefined) return idle;
    if (this.#open < this.#max) {
      this.#open++;
      try {
        const conn = await Deno.connect({ hostname: this.#hostname, port: this.#port });
        conn.setNoDelay(true);
        return new Connection(conn);
      } catch (e) {
        this.#open--;
        this.#wakeOne();
        throw new Http1ConnectionError(`cannot connect to ${this.#host}: ${(e as Error).message}`);
      }
    }
    const c = await new Promise<Connection | Error>((resolve) => this.#waiting.push(resolve));
    if (c instanceof Error) throw c;
    return c;
  }

  #release(c: Connection): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next(c);
    else if (this.#closed) this.#drop(c);
    else this.#idle.push(c);
  }

  #drop(c: Connection): void {
    c.close();
    this.#open--;
    this.#wakeOne();
  }

  /** A waiter gets a new connection when one was dropped. */
  #wakeOne(): void {
    const next = this.#waiting.shift();
    if (next === undefined) return;
    this.#acquire().then(next, (e: Error) => next(e));
  }
}
