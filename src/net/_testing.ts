/**
 * Test helpers for the peer layer: validator keys from fixed seeds, handshake
 * contexts, transports on 127.0.0.1 with a captured log, and waiting with a bound.
 * Used by src/net/*_test.ts and tests/net_*_test.ts only.
 */

import type { CryptoBackend, MlDsaSigner } from "../crypto/backend.ts";
import { selectCryptoBackend } from "../crypto/select.ts";
import { keyIdOf } from "../keys/mod.ts";
import { createLogger, type Logger } from "../log/mod.ts";
import { WS_PATH, WS_SUBPROTOCOL } from "./frame.ts";
import { type HandshakeContext, ValidatorSet } from "./handshake.ts";
import { PeerTransport, type PeerTransportOptions, type TransportLimits } from "./transport.ts";

let backendPromise: Promise<CryptoBackend> | undefined;

export function testBackend(): Promise<CryptoBackend> {
  backendPromise ??= selectCryptoBackend().then((s) => s.backend);
  return backendPromise;
}

export interface TestValidator {
  readonly id: string;
  readonly signer: MlDsaSigner;
  readonly publicKey: Uint8Array;
}

const signerCache = new Map<number, Promise<TestValidator>>();

/** Validator `n` (a fixed seed per n), so tests can mix and match genesis sets. */
export function testValidator(n: number): Promise<TestValidator> {
  let v = signerCache.get(n);
  if (v === undefined) {
    v = (async () => {
      const seed = new Uint8Array(32).fill(n + 1);
      const signer = await (await testBackend()).mlDsaSigner(seed);
      return { id: keyIdOf(signer.publicKey), signer, publicKey: signer.publicKey };
    })();
    signerCache.set(n, v);
  }
  return v;
}

export async function testValidators(count: number): Promise<TestValidator[]> {
  return await Promise.all(Array.from({ length: count }, (_, i) => testValidator(i)));
}

export const CHAIN_A = new Uint8Array(32).fill(0xa1);
export const CHAIN_B = new Uint8Array(32).fill(0xb2);

export async function testContext(
  self: TestValidator,
  genesis: readonly TestValidator[],
  options: { chainId?: Uint8Array; token?: string } = {},
): Promise<HandshakeContext> {
  const backend = await testBackend();
  return {
    chainId: options.chainId ?? CHAIN_A,
    validators: new ValidatorSet(backend, genesis.map((v) => v.publicKey)),
    signer: self.signer,
    backend,
    token: new TextEncoder().encode(options.token ?? ""),
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
  };
}

/** A logger whose JSON lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

/** Fast limits for tests: short handshakes, pings and backoff. */
export const TEST_LIMITS: Partial<TransportLimits> = Object.freeze({
  handshakeTimeoutMs: 3_000,
  pingIntervalMs: 500,
  idleTimeoutMs: 5_000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 400,
  closeWaitMs: 1_000,
});

export interface TestNode {
  readonly transport: PeerTransport;
  readonly validator: TestValidator;
  readonly port: number;
  readonly address: string;
  readonly lines: Record<string, unknown>[];
  readonly received: { from: string; text: string }[];
}

/** A listening transport on 127.0.0.1:0 that records what it receives. */
export async function startNode(
  self: TestValidator,
  genesis: readonly TestValidator[],
  options: {
    chainId?: Uint8Array;
    token?: string | null;
    limits?: Partial<TransportLimits>;
    listen?: boolean;
    port?: number;
    jitter?: () => number;
    now?: () => number;
    budget?: PeerTransportOptions["budget"];
  } = {},
): Promise<TestNode> {
  const { logger, lines } = captureLogger();
  const transport = new PeerTransport({
    genesis: { chainId: options.chainId ?? CHAIN_A, validators: genesis.map((v) => v.publicKey) },
    backend: await testBackend(),
    signer: self.signer,
    token: options.token ?? null,
    logger,
    limits: { ...TEST_LIMITS, ...options.limits },
    ...(options.jitter ? { jitter: options.jitter } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.budget ? { budget: options.budget } : {}),
  });
  const received: { from: string; text: string }[] = [];
  const decoder = new TextDecoder();
  transport.onMessage((from, bytes) => received.push({ from, text: decoder.decode(bytes) }));
  const port = options.listen === false ? 0 : transport.listen({ hostname: "127.0.0.1", port: options.port ?? 0 }).port;
  return { transport, validator: self, port, address: `127.0.0.1:${port}`, lines, received };
}

/** Polls `condition` every 10 ms until it holds; throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const polls = Math.ceil(timeoutMs / 10);
  for (let i = 0; i < polls; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!condition()) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Both ends see the session (the listener is up first, the dialer once it has the confirm frame). */
export function bothConnected(x: TestNode, y: TestNode): () => boolean {
  return () => x.transport.isConnected(y.validator.id) && y.transport.isConnected(x.validator.id);
}

/** Log lines with this msg and reason. */
export function logged(lines: Record<string, unknown>[], msg: string, reason: string): Record<string, unknown>[] {
  return lines.filter((l) => l.msg === msg && l.reason === reason);
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** OP codes of RFC 6455 used by the raw test client. */
export const WS_OP_BINARY = 0x2;
export const WS_OP_PING = 0x9;

/**
 * A bare TCP client that performs the WebSocket upgrade on the peer path and
 * then writes whatever frames a test wants, never reading unless asked: a
 * misbehaving peer in tests.
 */
export async function rawUpgrade(port: number, hostname = "127.0.0.1"): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname, port });
  const key = crypto.getRandomValues(new Uint8Array(16)).toBase64();
  const head = `GET ${WS_PATH} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${WS_SUBPROTOCOL}\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head));
  // Read the 101 response head (and nothing after it: the server sends nothing unasked).
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`upgrade refused: connection closed after ${JSON.stringify(text)}`);
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  if (!text.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${text.split("\r\n")[0]}`);
  return conn;
}

/** Writes `frame` repeated `count` times, in writes of about 1 MiB; stops quietly if the server hangs up. */
export async function writeRepeated(conn: Deno.TcpConn, frame: Uint8Array, count: number): Promise<number> {
  const perChunk = Math.max(1, Math.floor((1 << 20) / frame.length));
  const chunk = new Uint8Array(perChunk * frame.length);
  for (let i = 0; i < perChunk; i++) chunk.set(frame, i * frame.length);
  let sent = 0;
  try {
    while (sent < count) {
      const n = Math.min(perChunk, count - sent);
      const part = chunk.subarray(0, n * frame.length);
      for (let at = 0; at < part.length;) at += await conn.write(part.subarray(at));
      sent += n;
    }
  } catch {
    // The server closed the connection: what was sent so far is the answer.
  }
  return sent;
}
