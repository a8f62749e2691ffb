/**
 * RFC 6455 frames: the opcodes, encoding (clients mask with a fresh key per
 * frame), and parsing from a buffer, with the size limit applied from the
 * header before any payload is buffered. Pure; the socket is in _ws.ts.
 */

export const OP_CONTINUATION = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

/** A refused frame or upgrade: `code` is the WebSocket close code (1002, 1006, 1008, 1009). */
export class WsFrameError extends Error {
  /** For a frame refused from its header: its whole size, so the reader can skip it without buffering. */
  readonly frameBytes: number;
  constructor(readonly code: number, message: string, frameBytes = 0) {
    super(message);
    this.name = "WsFrameError";
    this.frameBytes = frameBytes;
  }
}

/**
 * XORs `payload` with the 4-byte `mask` into `out` at `offset` (RFC 6455
 * section 5.3). The bytes are copied first and XORed in place a 32-bit word at
 * a time where `out` is word-aligned (the mask rotated to where the words
 * start), byte by byte at the ragged ends: a byte loop cost about 3 % of a
 * node's busy time under load (bench/PROFILE.md).
 */
export function maskInto(out: Uint8Array, offset: number, payload: Uint8Array, mask: Uint8Array): void {
  const n = payload.length;
  // In place (payload is that part of out already): nothing to copy.
  if (payload.buffer !== out.buffer || payload.byteOffset !== out.byteOffset + offset) out.set(payload, offset);
  const start = out.byteOffset + offset;
  const head = Math.min(n, (4 - (start & 3)) & 3);
  let i = 0;
  for (; i < head; i++) out[offset + i] ^= mask[i & 3];
  const words = (n - i) >>> 2;
  if (words > 0) {
    const rotated = new Uint8Array(4);
    for (let k = 0; k < 4; k++) rotated[k] = mask[(i + k) & 3];
    // Both views use the platform's byte order, so the XOR is the same byte for byte.
    const word = new Uint32Array(rotated.buffer)[0];
    const view = new Uint32Array(out.buffer, start + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words * 4;
  }
  for (; i < n; i++) out[offset + i] ^= mask[i & 3];
}

/** One frame; clients mask (a fresh random key per frame), servers do not. */
export function encodeFrame(opcode: number, payload: Uint8Array, masked: boolean): Uint8Array<ArrayBuffer> {
  const len = payload.length;
  const header = headerBytes(len);
  const maskBytes = masked ? 4 : 0;
  const frame = new Uint8Array(header + maskBytes + len);
  const mask = writeHeader(frame, opcode, len, masked);
  if (mask !== null) maskInto(frame, header + 4, payload, mask);
  else frame.set(payload, header);
  return frame;
}

/**
 * One frame as two buffers, for a payload the caller gives away: the header (and mask key), and
 * the payload itself, masked in place by a client. A large payload is then never copied.
 */
export function encodeFrameParts(
  opcode: number,
  payload: Uint8Array,
  masked: boolean,
): [Uint8Array<ArrayBuffer>, Uint8Array] {
  const head = new Uint8Array(headerBytes(payload.length) + (masked ? 4 : 0));
  const mask = writeHeader(head, opcode, payload.length, masked);
  if (mask !== null) maskInto(payload, 0, payload, mask);
  return [head, payload];
}

function headerBytes(len: number): number {
  return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/** Writes the header (and a fresh mask key, returned, when `masked`) at the start of `frame`. */
function writeHeader(frame: Uint8Array<ArrayBuffer>, opcode: number, len: number, masked: boolean): Uint8Array | null {
  const header = headerBytes(len);
  frame[0] = 0x80 | opcode;
  const maskBit = masked ? 0x80 : 0;
  if (len < 126) {
    frame[1] = maskBit | len;
  } else if (len < 65536) {
    frame[1] = maskBit | 126;
    frame[2] = len >>> 8;
    frame[3] = len & 0xff;
  } else {
    frame[1] = maskBit | 127;
    const view = new DataView(frame.buffer);
    view.setUint32(2, Math.floor(len / 2 ** 32));
    view.setUint32(6, len >>> 0);
  }
  if (!masked) return null;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, header);
  return mask;
}

export function closePayload(code: number, reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason).subarray(0, 123);
  const out = new Uint8Array(2 + text.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(text, 2);
  return out;
}

/** The payload length field of the frame at the start of `b`, and where it ends; null while it is not all in. */
function lengthOf(b: Uint8Array): { len: number; at: number } | null {
  if (b.length < 2) return null;
  const len = b[1] & 0x7f;
  if (len === 126) return b.length < 4 ? null : { len: (b[2] << 8) | b[3], at: 4 };
  if (len < 126) return { len, at: 2 };
  if (b.length < 10) return null;
  const view = new DataView(b.buffer, b.byteOffset + 2, 8);
  return { len: view.getUint32(0) * 2 ** 32 + view.getUint32(4), at: 10 };
}

/**
 * The whole size (header, mask key, payload) of the frame at the start of
 * `b`, or null while its header is not all in. Nothing is checked: call it
 * for a frame parseFrame found incomplete (it has checked the header).
 */
export function frameBytes(b: Uint8Array): number | null {
  const length = lengthOf(b);
  return length === null ? null : length.at + ((b[1] & 0x80) !== 0 ? 4 : 0) + length.len;
}

export interface ParsedFrame {
  opcode: number;
  fin: boolean;
  payload: Uint8Array;
  /** Offset just past this frame in the buffer. */
  end: number;
}

/**
 * One complete frame from the start of `b`, or null when more bytes are needed.
 * `fromClient`: frames must be masked (and are unmasked here); else they must not be.
 * `inPlace`: a masked payload is unmasked in `b` (the caller is done with those bytes), not copied.
 */
export function parseFrame(
  b: Uint8Array,
  messageBytesMax: number,
  fromClient: boolean,
  inPlace = false,
): ParsedFrame | null {
  if (b.length < 2) return null;
  const fin = (b[0] & 0x80) !== 0;
  if ((b[0] & 0x70) !== 0) throw new WsFrameError(1002, "reserved bits set");
  const opcode = b[0] & 0x0f;
  const masked = (b[1] & 0x80) !== 0;
  if (masked !== fromClient) {
    throw new WsFrameError(1002, fromClient ? "client frames must be masked" : "server frames must not be masked");
  }
  const length = lengthOf(b);
  if (length === null) return null;
  const { len } = length;
  let { at } = length;
  if (opcode >= 0x8) {
    if (!fin || len > 125) throw new WsFrameError(1002, "bad control frame");
  } else if (opcode !== OP_CONTINUATION && opcode !== OP_TEXT && opcode !== OP_BINARY) {
    throw new WsFrameError(1002, `unknown opcode ${opcode}`);
  }
  // Refused from the header alone: an oversized message is never buffered.
  const maskAt = at;
  if (len > messageBytesMax) {
    throw new WsFrameError(1009, `frame of ${len} bytes, at most ${messageBytesMax}`, at + (masked ? 4 : 0) + len);
  }
  if (masked) at += 4;
  if (b.length < at + len) return null;
  let payload = b.subarray(at, at + len);
  if (masked) {
    const mask = b.slice(maskAt, maskAt + 4);
    const unmasked = inPlace ? payload : new Uint8Array(len);
    maskInto(unmasked, 0, payload, mask);
    payload = unmasked;
  }
  return { opcode, fin, payload, end: at + len };
}
