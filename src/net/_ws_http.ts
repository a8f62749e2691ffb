/**
 * The HTTP side of a WebSocket: reading a bounded HTTP head from TCP, the
 * upgrade request (parsed, or answered with a refusal) and the check of the
 * server's upgrade response.
 */
import { concatBytes } from "../bytes.ts";
import { WsFrameError } from "./_ws_frame.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** Largest HTTP head (request or response) accepted during the upgrade. */
export const UPGRADE_HEAD_BYTES_MAX = 8 * 1024;
const READ_CHUNK_BYTES = 64 * 1024;

export async function acceptKeyOf(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  return new Uint8Array(digest).toBase64();
}

function indexOfHeadEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

function parseHeaders(lines: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** Reads an HTTP head from `conn`; returns it and the bytes after it. Throws WsFrameError past the size bound. */
export async function readHead(conn: Deno.TcpConn): Promise<{ head: string; rest: Uint8Array }> {
  const chunk = new Uint8Array(READ_CHUNK_BYTES);
  let buffered: Uint8Array = new Uint8Array(0);
  for (;;) {
    const n = await conn.read(chunk);
    if (n === null) throw new WsFrameError(1006, "connection closed during the upgrade");
    buffered = concatBytes(buffered, chunk.subarray(0, n));
    const end = indexOfHeadEnd(buffered);
    if (end >= 0) return { head: new TextDecoder().decode(buffered.subarray(0, end)), rest: buffered.slice(end + 4) };
    if (buffered.length > UPGRADE_HEAD_BYTES_MAX) throw new WsFrameError(1006, "HTTP head too large");
  }
}

/**
 * Checks the server's answer to our upgrade request (its HTTP head, without the
 * blank line) against the Sec-WebSocket-Accept we expect and the subprotocols
 * we offered; returns the subprotocol it chose ("" for none). Throws
 * WsFrameError (1006) for anything else.
 */
export function checkUpgradeResponse(head: string, expectedAccept: string, offered: readonly string[]): string {
  const [status, ...lines] = head.split("\r\n");
  if (!/^HTTP\/1\.1 101\b/.test(status)) throw new WsFrameError(1006, `upgrade refused: ${status.slice(0, 80)}`);
  const headers = parseHeaders(lines);
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") throw new WsFrameError(1006, "no Upgrade: websocket");
  if (headers.get("sec-websocket-accept") !== expectedAccept) {
    throw new WsFrameError(1006, "wrong Sec-WebSocket-Accept");
  }
  const protocol = headers.get("sec-websocket-protocol") ?? "";
  if (protocol !== "" && !offered.includes(protocol)) {
    throw new WsFrameError(1006, `server chose subprotocol ${protocol.slice(0, 80)}, which was not offered`);
  }
  return protocol;
}

/** A parsed WebSocket upgrade request. */
export interface UpgradeRequest {
  readonly path: string;
  readonly protocols: readonly string[];
  readonly key: string;
}

/**
 * Reads and checks an upgrade request from an accepted connection. Returns the
 * request, or a refusal (HTTP status and why) for anything that is not a
 * WebSocket upgrade. Throws if the connection fails or sends a head over
 * UPGRADE_HEAD_BYTES_MAX; the caller bounds the time (by closing `conn`).
 */
export async function readUpgradeRequest(
  conn: Deno.TcpConn,
): Promise<{ request: UpgradeRequest; rest: Uint8Array } | { status: number; why: string }> {
  const { head, rest } = await readHead(conn);
  const parsed = parseUpgradeRequest(head);
  return "status" in parsed ? parsed : { request: parsed, rest };
}

/** An upgrade request from its HTTP head (without the blank line), or a refusal: HTTP status and why. */
export function parseUpgradeRequest(head: string): UpgradeRequest | { status: number; why: string } {
  const [line, ...lines] = head.split("\r\n");
  const m = /^GET (\S+) HTTP\/1\.1$/.exec(line);
  if (!m) return { status: 400, why: `not a GET request: ${line.slice(0, 60)}` };
  const headers = parseHeaders(lines);
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") return { status: 426, why: "not a websocket upgrade" };
  if (!(headers.get("connection") ?? "").toLowerCase().split(",").some((t) => t.trim() === "upgrade")) {
    return { status: 400, why: "Connection header lacks upgrade" };
  }
  if (headers.get("sec-websocket-version") !== "13") return { status: 426, why: "websocket version is not 13" };
  const key = headers.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return { status: 400, why: "bad Sec-WebSocket-Key" };
  const protocols = (headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter((p) => p);
  let path: string;
  try {
    path = new URL(m[1], "ws://x").pathname;
  } catch {
    return { status: 400, why: "bad request target" };
  }
  return { path, protocols, key };
}

/** Answers a request that will not be upgraded, then closes the connection. */
export async function refuseUpgrade(conn: Deno.TcpConn, status: number, text: string): Promise<void> {
  const body = new TextEncoder().encode(text + "\n");
  const head = new TextEncoder().encode(
    `HTTP/1.1 ${status} ${status === 429 ? "Too Many Requests" : "Refused"}\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  try {
    await conn.write(concatBytes(head, body));
  } catch {
    // the peer is gone; nothing to tell it
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}
