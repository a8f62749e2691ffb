/**
 * Schemas shared by every area of the API: ids, base64, the error body, cursor
 * pages. Route files describe their own bodies; these are the common words.
 */
import { z } from "@hono/zod-openapi";

/** A 64-hex-digit id (BLAKE3-256 of signed bytes, or of a public key). */
export const HEX64_RE = /^[0-9a-fA-F]{64}$/;
export const Hex64 = z.string().regex(HEX64_RE).openapi({ description: "64 hex digits", example: "ab".repeat(32) });

/** Standard base64 (RFC 4648 section 4, padded). */
export const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64 = "[A-Za-z0-9+/]";

/**
 * A pattern that holds exactly the base64 texts of minBytes..maxBytes bytes,
 * so that a generator (a fuzzer, a client's validator) can produce valid ones
 * from the pattern alone: n bytes are floor(n/3) groups of four characters,
 * then a tail of "xx==" (one byte) or "xxx=" (two bytes).
 */
function base64Pattern(minBytes: number, maxBytes?: number): RegExp {
  const tails = ["", `${B64}{2}==`, `${B64}{3}=`];
  const alternatives = tails.flatMap((tail, rest) => {
    const low = Math.max(0, Math.ceil((minBytes - rest) / 3));
    const high = maxBytes === undefined ? Infinity : Math.floor((maxBytes - rest) / 3);
    if (high < low) return [];
    const count = low === high ? `{${low}}` : `{${low},${high === Infinity ? "" : high}}`;
    return [`(?:${B64}{4})${count}${tail}`];
  });
  return new RegExp(`^(?:${alternatives.join("|")})$`);
}

export function base64(description: string, maxBytes?: number, minBytes = 0) {
  const chars = (n: number) => Math.ceil(n / 3) * 4;
  // Checked with the short pattern (linear time) and the byte bounds below; the document carries the exact pattern,
  // whose counted alternatives cost V8 about 0.2 ms per 6 KB text (a batch of transfers spent more time there than in
  // its signatures' verification).
  const s = z.string().regex(BASE64_RE);
  const withMin = minBytes > 0 ? s.min(chars(minBytes)) : s;
  const bounded = maxBytes === undefined ? withMin : withMin.max(chars(maxBytes));
  const checked = bounded.refine((text) => {
    const n = base64Bytes(text);
    return n >= minBytes && (maxBytes === undefined || n <= maxBytes);
  }, {
    message: maxBytes === minBytes
      ? `must decode to exactly ${minBytes} bytes`
      : `must decode to ${minBytes}..${maxBytes ?? "any"} bytes`,
  });
  const pattern = minBytes === 0 && maxBytes === undefined ? BASE64_RE : base64Pattern(minBytes, maxBytes);
  return checked.openapi({ description, format: "byte", pattern: pattern.source });
}

/** Base64 of exactly `bytes` bytes (a key, a signature). */
export function base64Exact(description: string, bytes: number) {
  return base64(description, bytes, bytes);
}

/** Bytes that a valid base64 text decodes to. */
export function base64Bytes(text: string): number {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return (text.length / 4) * 3 - padding;
}

/** A u64 sent as a decimal string: JSON numbers lose precision above 2^53. */
export const U64String = z.string().regex(/^[0-9]{1,20}$/).openapi({ description: "unsigned integer as a string" });

export const ErrorBody = z.object({
  error: z.object({
    code: z.string().openapi({ description: "stable machine code, e.g. not_found, invalid_request" }),
    message: z.string().openapi({ description: "what failed and why, for people" }),
    requestId: z.string().optional().openapi({ description: "the x-request-id of this request (also in the log)" }),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
}).openapi("Error");

/** The opaque cursor of a page; absent on the first page, `nextCursor` of the previous page after. */
export const CURSOR_RE = /^[A-Za-z0-9_-]{1,128}$/;
export const Cursor = z.string().regex(CURSOR_RE).openapi({
  description: "opaque: the nextCursor of the previous page",
});
export const NextCursor = z.string().nullable().openapi({
  description: "pass as ?cursor= for the next page; null on the last page",
});

/** `?limit=` of a page: 1..max, `fallback` when absent. */
export function pageLimit(max: number, fallback: number) {
  // coerce hides the bounds from the generator: they are stated again for the document.
  return z.coerce.number().int().min(1).max(max).default(fallback).openapi({
    type: "integer",
    minimum: 1,
    maximum: max,
    default: fallback,
    description: `items per page, 1..${max} (default ${fallback})`,
  });
}

/** JSON content of one schema, for a response or request body. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}
