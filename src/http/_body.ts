import type { Context } from "hono";
import type { Env } from "./app.ts";
import { ApiError } from "./errors.ts";
import { z } from "@hono/zod-openapi";
import { base64 } from "./_schemas.ts";

/**
 * Signed bytes from a request: the raw body (application/octet-stream), or
 * JSON `{ "<field>": "<base64>" }`.
 */
export async function signedBytes(c: Context<Env>, field: string): Promise<Uint8Array> {
  if ((c.req.header("content-type") ?? "").startsWith("application/json")) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new ApiError(400, "invalid_json", "the body is not valid JSON");
    }
    const text = (body as Record<string, unknown>)?.[field];
    if (typeof text !== "string") {
      throw new ApiError(400, "invalid_request", `expected { "${field}": "<base64 of the signed bytes>" }`);
    }
    try {
      return Uint8Array.fromBase64(text);
    } catch {
      throw new ApiError(400, "invalid_request", `${field} is not valid base64`);
    }
  }
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  if (bytes.length === 0) throw new ApiError(400, "invalid_request", `empty body: send the signed ${field} bytes`);
  return bytes;
}

/**
 * The request body of a route taking signed bytes: raw (application/octet-stream) or JSON `{ "<field>": base64 }`.
 * Optional in the document because the JSON form is one of two: an empty body is refused by signedBytes (400).
 */
export function signedBody(field: string, what: string) {
  return {
    required: false,
    description: `the signed ${what}: raw bytes, or JSON { "${field}": base64 }`,
    content: {
      "application/json": { schema: z.object({ [field]: base64(`the signed ${what}`) }) },
      "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) },
    },
  };
}
