/**
 * A minimal RFC 6455 WebSocket, both ends, over Deno's TCP with TCP_NODELAY.
 *
 * Why not Deno's own: (1) its client leaves Nagle's algorithm on and writes a
 * frame's header and payload separately, so every client-to-server message of
 * 1 KiB to 64 KiB waited ~40 ms for the server's delayed ACK (measured on
 * loopback: 1,000 B echo 0.1 ms, 1,200 B 41.8 ms, 65,000 B 0.3 ms); handshake
 * frames and most consensus messages are in that range. (2) `Deno.serve`'s
 * upgraded sockets buffer any message up to 64 MiB before the application sees
 * it, so every unauthenticated connection could hold 64 MiB. Here the size limit
 * (`messageBytesMax`, settable per socket as the peer earns trust) is enforced
 * from the frame header, before a byte of payload is buffered.
 *
 * It implements the part of the WebSocket interface the transport uses (events as
 * `on*` properties, `send`, `close`, `readyState`, `protocol`, `bufferedAmount`).
 * Plain `ws://` only: peers talk over the private network. The frame codec is in
 * _ws_frame.ts, the HTTP upgrade in _ws_http.ts; this file is the socket.
 */

import { concatBytes, ownedOrCopied } from "../bytes.ts";
import {
  closePayload,
  encodeFrame,
  encodeFrameParts,
  frameBytes,
  OP_BINARY,
  OP_CLOSE,
  OP_CONTINUATION,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  type ParsedFrame,
  parseFrame,
  WsFrameError,
} from "./_ws_frame.ts";
import { acceptKeyOf, checkUpgradeResponse, readHead, type UpgradeRequest } from "./_ws_http.ts";
import { TokenBucket } from "./limits.ts";

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const READ_CHUNK_BYTES = 64 * 1024;
/** From this size a payload given away (sendOwned) goes out as it is, behind a header of its own. */
const OWNED_FRAME_BYTES_MIN = 16 * 1024;
/** Frames written to the socket in one write, at most this many bytes together. */
const WRITE_COALESCE_BYTES_MAX = 256 * 1024;
/** After sending a close frame, how long to wait for the other side's before dropping TCP. */
const CLOSE_WAIT_MS = 1_000;
/** How long a close waits for queued frames (its own close frame) to be written. */
const FLUSH_WAIT_MS = 100;
/** A message may arrive in at most this many fragments. */
const FRAGMENTS_MAX = 1_024;
/**
 * Pings the other side may send per second, and in a burst. qudag peers never
 * send WebSocket pings (the transport pings inside the encrypted channel), so
 * this only has to be generous for other clients' keep-alives. More is a flood:
 * the socket closes with 1008 and the reason "flood".
 */
export const PINGS_PER_SECOND = 10;
export const PINGS_BURST = 50;

/** The subset of the WebSocket interface that PeerTransport uses. */
export interface PeerSocket {
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  /** Largest message accepted from the other side; a larger one closes the socket with 1009. */
  messageBytesMax: number;
  /**
   * Set when this end closed the socket over the other side's framing (1002), a
   * too-large message (1009) or a ping flood (1008).
   */
  readonly protocolError: { readonly code: number; readonly detail: string } | undefined;
  /** This end's and the other end's TCP addresses once connected; undefined before. */
  readonly localAddr: Deno.NetAddr | undefined;
  readonly remoteAddr: Deno.NetAddr | undefined;
  binaryType: BinaryType;
  onopen: ((event: Event) => void) | null;
  onmessage: ((event: MessageEvent) => void) | null;
  /**
   * When set, binary messages come here instead of to `onmessage`, as bytes the
   * socket never touches again: a large one is a view of the memory it was read
   * into (no copy into an ArrayBuffer of its own), a small one a copy
   * (ownedOrCopied). The receiver may change them in place.
   */
  onbytes: ((payload: Uint8Array) => void) | null;
  onerror: ((event: Event) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  send(data: Uint8Array): void;
  /** As `send`, for bytes the caller gives away: the socket may mask them in place and sends them without a copy. */
  sendOwned(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** The frame layer shared by both ends. Subclasses connect or accept, then call `runFrames()`. */
abstract class FramedSocket implements PeerSocket {
  readyState = CONNECTING;
  protocol = "";
  binaryType: BinaryType = "arraybuffer";
  messageBytesMax: number;
  protocolError: { readonly code: number; readonly detail: string } | undefined;
  localAddr: Deno.NetAddr | undefined;
  remoteAddr: Deno.NetAddr | undefined;
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onbytes: ((payload: Uint8Array) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  protected conn: Deno.TcpConn | undefined;
  readonly #isClient: boolean;
  #queue: Uint8Array[] = [];
  /** Queued payloads that must follow the header queued before them (sendOwned): no pong goes between. */
  readonly #tails = new WeakSet<Uint8Array>();
  #queuedBytes = 0;
  /**
   * The one pong waiting to be written (RFC 6455 section 5.5.3: only the most
   * recent ping needs an answer), so a ping flood against a socket that is not
   * read holds one pong, not one per ping.
   */
  #pendingPong: Uint8Array | undefined;
  readonly #pingBucket = new TokenBucket(PINGS_PER_SECOND, PINGS_BURST, performance.now());
  #writing = false;
  #closeSent = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #closeCode = 1006;
  #closeReason = "";
  #cleanClose = false;

  protected constructor(isClient: boolean, messageBytesMax: number) {
    this.#isClient = isClient;
    this.messageBytesMax = messageBytesMax;
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  send(data: Uint8Array): void {
    if (this.readyState === CONNECTING) throw new DOMException("WebSocket is still connecting", "InvalidStateError");
    if (this.readyState !== OPEN) return; // like WebSocket: data sent after close is discarded
    this.#enqueue(encodeFrame(OP_BINARY, data, this.#isClient));
  }

  sendOwned(data: Uint8Array): void {
    if (data.length < OWNED_FRAME_BYTES_MIN) return this.send(data);
    if (this.readyState === CONNECTING) throw new DOMException("WebSocket is still connecting", "InvalidStateError");
    if (this.readyState !== OPEN) return;
    const [head, payload] = encodeFrameParts(OP_BINARY, data, this.#isClient);
    this.#tails.add(payload);
    this.#enqueue(head);
    this.#enqueue(payload);
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === CLOSING || this.readyState === CLOSED) return;
    if (this.readyState === CONNECTING) {
      // Report the close now: a dial to an unreachable host can stay in connect() for minutes.
      this.readyState = CLOSING;
      queueMicrotask(() => this.finish(undefined));
      return;
    }
    this.readyState = CLOSING;
    this.#sendClose(code, reason);
  }

  #sendClose(code: number, reason: string): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    this.#enqueue(encodeFrame(OP_CLOSE, closePayload(code, reason), this.#isClient));
    this.#closeTimer = setTimeout(() => this.drop(), CLOSE_WAIT_MS);
  }

  /** Closes TCP; the read loop then ends and reports the close. */
  protected drop(): void {
    clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    try {
      this.conn?.close();
    } catch {
      // already closed
    }
    this.conn = undefined;
  }

  protected enqueueRaw(bytes: Uint8Array): void {
    this.#enqueue(bytes);
  }

  #enqueue(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#queuedBytes += frame.length;
    this.#startWriting();
  }

  /** Answers a ping: replaces a pong still waiting to be written, else queues one. */
  #pong(payload: Uint8Array): void {
    const frame = encodeFrame(OP_PONG, payload, this.#isClient);
    this.#queuedBytes += frame.length - (this.#pendingPong?.length ?? 0);
    this.#pendingPong = frame;
    this.#startWriting();
  }

  /**
   * Starts the write loop once the code running now has queued its frames:
   * the frames queued in one turn (a message to each of a peer's queries, a
   * vertex and the query about it) then go out in one write. A `bench:soak`
   * node made about 1,600 socket writes a second at 100 transfers/s, and each
   * cost it tens of microseconds.
   */
  #startWriting(): void {
    if (this.#writing) return;
    this.#writing = true;
    queueMicrotask(() => void this.#writeLoop());
  }

  async #writeLoop(): Promise<void> {
    try {
      while ((this.#queue.length > 0 || this.#pendingPong !== undefined) && this.conn !== undefined) {
        if (this.#pendingPong !== undefined && (this.#queue.length === 0 || !this.#tails.has(this.#queue[0]))) {
          // A control frame may go between two whole frames (never after a header whose payload is still queued).
          this.#queue.unshift(this.#pendingPong);
          this.#pendingPong = undefined;
        }
        // Coalesce queued small frames into one write (TCP_NODELAY sends at once); a large buffer is written as it
        // is, never copied into a coalesced one (a 300 KB vertex, or the payload of sendOwned behind its header).
        let size = 0;
        let count = 0;
        while (
          count < this.#queue.length &&
          (count === 0 ||
            (size + this.#queue[count].length <= WRITE_COALESCE_BYTES_MAX &&
              this.#queue[count].length < OWNED_FRAME_BYTES_MIN &&
              this.#queue[count - 1].length < OWNED_FRAME_BYTES_MIN))
        ) {
          size += this.#queue[count].length;
          count++;
        }
        const parts = this.#queue.splice(0, count);
        let chunk = parts[0];
        if (count > 1) {
          chunk = new Uint8Array(size);
          let at = 0;
          for (const p of parts) {
            chunk.set(p, at);
            at += p.length;
          }
        }
        for (let written = 0; written < chunk.length;) {
          const conn = this.conn as Deno.TcpConn | undefined;
          if (conn === undefined) return;
          written += await conn.write(chunk.subarray(written));
        }
        this.#queuedBytes = Math.max(0, this.#queuedBytes - size); // finish() may have zeroed it meanwhile
      }
    } catch {
      this.drop();
    } finally {
      this.#writing = false;
    }
  }

  /** Gives queued frames (our close frame) a bounded moment to go out, then closes TCP. */
  async #flushThenDrop(): Promise<void> {
    for (let waited = 0; waited < FLUSH_WAIT_MS && this.#writing && this.conn !== undefined; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    this.drop();
  }

  /** `payload` is this read loop's own memory, never written again once delivered (see runFrames). */
  #deliver(opcode: number, payload: Uint8Array): void {
    if (this.readyState !== OPEN) return;
    if (opcode !== OP_TEXT && this.onbytes !== null) return this.onbytes(ownedOrCopied(payload));
    const data = opcode === OP_TEXT ? new TextDecoder().decode(payload) : payload.slice().buffer;
    this.onmessage?.(new MessageEvent("message", { data }));
  }

  /** Whatever ends the connection: reports an error if it was not a close, then the close event. */
  protected finish(error: unknown): void {
    if (this.readyState === CLOSED) return;
    if (error !== undefined && this.readyState !== CLOSING) this.onerror?.(new Event("error"));
    this.drop();
    this.#queue = [];
    this.#pendingPong = undefined;
    this.#queuedBytes = 0;
    this.readyState = CLOSED;
    this.onclose?.(
      new CloseEvent("close", { code: this.#closeCode, reason: this.#closeReason, wasClean: this.#cleanClose }),
    );
  }

  /** The open socket's read loop: frames until close, EOF or a protocol error. Resolves when TCP is closed. */
  protected async runFrames(conn: Deno.TcpConn, initial: Uint8Array): Promise<void> {
    let buffered = initial;
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    const fragments: Uint8Array[] = [];
    let fragmentBytes = 0;
    let messageOpcode = 0;
    /**
     * After refusing a frame we keep reading (never buffering) until the other side
     * answers our close or the close timer drops TCP: closing with unread data in
     * the kernel would send RST and lose our close frame. `skip` counts the rest of
     * a refused frame; `discardAll` is set when framing is lost (bad header).
     */
    let skip = 0;
    let discardAll = false;
    try {
      for (;;) {
        if (discardAll) {
          buffered = new Uint8Array(0);
        } else if (skip > 0) {
          const k = Math.min(skip, buffered.length);
          buffered = buffered.subarray(k);
          skip -= k;
        }
        while (!discardAll && skip === 0) {
          let frame: ParsedFrame | null;
          try {
            // Unmasked in place: every buffer here is this loop's own (never the reused read chunk).
            frame = parseFrame(buffered, this.messageBytesMax, !this.#isClient, true);
          } catch (error) {
            if (!(error instanceof WsFrameError)) throw error;
            this.#refuse(error);
            if (error.frameBytes > 0) skip = error.frameBytes;
            else discardAll = true;
            break;
          }
          if (frame === null) break;
          buffered = buffered.subarray(frame.end);
          const { opcode, fin, payload } = frame;
          if (opcode === OP_PING) {
            if (!this.#pingBucket.take(1, performance.now())) {
              this.#refuse(new WsFrameError(1008, `pings over ${PINGS_PER_SECOND}/s (burst ${PINGS_BURST})`));
            } else if (this.readyState === OPEN) {
              this.#pong(payload);
            }
          } else if (opcode === OP_PONG) {
            // unsolicited pongs are allowed and ignored
          } else if (opcode === OP_CLOSE) {
            if (this.protocolError === undefined) {
              // The code the other side sent (its answer, when the close was ours), as browsers report it.
              this.#closeCode = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
              this.#closeReason = new TextDecoder().decode(payload.subarray(2));
            }
            if (!this.#closeSent) {
              this.readyState = CLOSING;
              this.#sendClose(this.#closeCode === 1005 ? 1000 : this.#closeCode, "");
            }
            this.#cleanClose = true;
            await this.#flushThenDrop();
            return this.finish(undefined);
          } else if (this.readyState !== OPEN) {
            // Closing: data is no longer delivered.
          } else {
            const problem = opcode === OP_CONTINUATION ? fragments.length === 0 : fragments.length > 0;
            if (problem || fragmentBytes + payload.length > this.messageBytesMax || fragments.length >= FRAGMENTS_MAX) {
              this.#refuse(
                problem
                  ? new WsFrameError(1002, "unexpected continuation frame")
                  : new WsFrameError(1009, `message over ${this.messageBytesMax} bytes or ${FRAGMENTS_MAX} fragments`),
              );
              fragments.length = 0;
              continue;
            }
            if (opcode !== OP_CONTINUATION) messageOpcode = opcode;
            if (fin && fragments.length === 0) {
              this.#deliver(messageOpcode, payload);
            } else {
              fragments.push(payload.slice());
              fragmentBytes += payload.length;
              if (fin) {
                const whole = new Uint8Array(fragmentBytes);
                let at = 0;
                for (const f of fragments) {
                  whole.set(f, at);
                  at += f.length;
                }
                fragments.length = 0;
                fragmentBytes = 0;
                this.#deliver(messageOpcode, whole);
              }
            }
          }
        }
        // The rest of a large frame whose header is in (parseFrame checked it) is read straight into one buffer of
        // the frame's size: appending each read to what came before copied such a frame again and again.
        const whole = discardAll || skip > 0 ? null : frameBytes(buffered);
        if (whole !== null && whole - buffered.length > READ_CHUNK_BYTES) {
          const frame = new Uint8Array(whole);
          frame.set(buffered);
          for (let filled = buffered.length; filled < whole;) {
            const n = await conn.read(frame.subarray(filled));
            if (n === null) return this.finish(undefined);
            filled += n;
          }
          buffered = frame;
          continue;
        }
        const n = await conn.read(chunk);
        if (n === null) return this.finish(undefined);
        if (discardAll) continue;
        buffered = buffered.length === 0 ? chunk.slice(0, n) : concatBytes(buffered, chunk.subarray(0, n));
      }
    } catch (error) {
      // A read failing after our own close (the close timer dropped TCP) is the normal end.
      return this.finish(this.readyState === CLOSING ? undefined : error);
    } finally {
      if (this.readyState !== CLOSED) this.finish(undefined);
    }
  }

  /** Our side refuses the other's framing or message size: record why and start the close handshake. */
  #refuse(error: WsFrameError): void {
    if (this.readyState !== OPEN) return;
    this.protocolError = { code: error.code, detail: error.message };
    this.#closeCode = error.code;
    // The close reason is a stable code, like the transport's own refusals.
    this.#closeReason = error.code === 1009 ? "oversized" : error.code === 1008 ? "flood" : "malformed";
    this.readyState = CLOSING;
    this.#sendClose(error.code, this.#closeReason);
  }

  protected opened(): void {
    this.readyState = OPEN;
    this.onopen?.(new Event("open"));
  }
}

export interface ClientOptions {
  /** Largest message accepted from the server. */
  readonly messageBytesMax: number;
}

/** The dialing side: `new NoDelayWebSocket("ws://host:port/path", ["proto"], { messageBytesMax })`. */
export class NoDelayWebSocket extends FramedSocket {
  readonly #url: URL;
  readonly #protocols: readonly string[];

  constructor(url: string, protocols: readonly string[], options: ClientOptions) {
    super(true, options.messageBytesMax);
    this.#url = new URL(url);
    if (this.#url.protocol !== "ws:") throw new SyntaxError(`only ws:// URLs are supported, got ${url}`);
    this.#protocols = protocols;
    void this.#run();
  }

  async #run(): Promise<void> {
    let conn: Deno.TcpConn;
    let rest: Uint8Array;
    try {
      const hostname = this.#url.hostname.replace(/^\[(.*)\]$/, "$1");
      const port = this.#url.port ? Number(this.#url.port) : 80;
      conn = await Deno.connect({ hostname, port });
      if (this.readyState !== CONNECTING) {
        conn.close();
        return this.finish(undefined);
      }
      this.conn = conn;
      this.localAddr = conn.localAddr;
      this.remoteAddr = conn.remoteAddr;
      conn.setNoDelay(true);
      const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
      const head = [
        `GET ${this.#url.pathname}${this.#url.search} HTTP/1.1`,
        `Host: ${this.#url.host}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${key}`,
        "Sec-WebSocket-Version: 13",
        ...(this.#protocols.length > 0 ? [`Sec-WebSocket-Protocol: ${this.#protocols.join(", ")}`] : []),
        "",
        "",
      ].join("\r\n");
      this.enqueueRaw(new TextEncoder().encode(head));
      const response = await readHead(conn);
      rest = response.rest;
      await this.#checkResponse(response.head, key);
      if (this.readyState !== CONNECTING) return this.finish(undefined);
    } catch (error) {
      return this.finish(error);
    }
    this.opened();
    await this.runFrames(conn, rest);
  }

  async #checkResponse(head: string, key: string): Promise<void> {
    this.protocol = checkUpgradeResponse(head, await acceptKeyOf(key), this.#protocols);
  }
}

/** The accepting side, made by `acceptWebSocket()` after `readUpgradeRequest()` succeeded. */
export class ServerWebSocket extends FramedSocket {
  constructor(
    conn: Deno.TcpConn,
    request: UpgradeRequest,
    protocol: string,
    rest: Uint8Array,
    messageBytesMax: number,
  ) {
    super(false, messageBytesMax);
    this.conn = conn;
    this.localAddr = conn.localAddr;
    this.remoteAddr = conn.remoteAddr;
    this.protocol = protocol;
    void this.#run(conn, request, rest);
  }

  async #run(conn: Deno.TcpConn, request: UpgradeRequest, rest: Uint8Array): Promise<void> {
    try {
      const accept = await acceptKeyOf(request.key);
      this.enqueueRaw(
        new TextEncoder().encode(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n` +
            (this.protocol ? `Sec-WebSocket-Protocol: ${this.protocol}\r\n` : "") + "\r\n",
        ),
      );
      if (this.readyState !== CONNECTING) return this.finish(undefined);
    } catch (error) {
      return this.finish(error);
    }
    // Handlers are attached by now: the constructor's caller ran before this first await resumed.
    this.opened();
    await this.runFrames(conn, rest);
  }
}
