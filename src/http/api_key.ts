import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

const encoder = new TextEncoder();

/** Compares in time independent of where they differ; `b` as bytes, encoded once by the caller. */
function sameSecret(a: string, b: string | Uint8Array): boolean {
  const x = encoder.encode(a);
  const y = typeof b === "string" ? encoder.encode(b) : b;
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

const READS = ["GET", "HEAD", "OPTIONS"];

/**
 * Whether `given` (a request's x-api-key) is the node's key. Never true while
 * the node has none: then nobody holds it.
 */
export function holdsApiKey(given: string | undefined, apiKey: string | null): boolean {
  return apiKey !== null && given !== undefined && sameSecret(given, apiKey);
}

/**
 * Who may call a route, as the route definition states it (`defineRoute`'s
 * `auth`), so the OpenAPI document and the check are one thing:
 * - "writes": writes need `x-api-key` when the node has QUDAG_API_KEY; reads never do.
 * - "operator": writes need the key, and are refused outright when no key is configured
 *   (nobody may ban validators or make the node dial).
 * - "always": every call needs the key, and the area is closed when no key is configured
 *   (the vault and the node's own keys are never open by default).
 */
export type ApiKeyMode = "writes" | "operator" | "always";

export interface ApiKeyPolicy {
  readonly mode: ApiKeyMode;
  /** With no key configured, guarded calls are refused (403 api_key_required) rather than let through. */
  readonly closedWithoutKey: boolean;
  /** Whether a route of this method is guarded. */
  applies(method: string): boolean;
  readonly middleware: MiddlewareHandler;
}

export function apiKeyPolicy(apiKey: string | null, mode: ApiKeyMode): ApiKeyPolicy {
  const closedWithoutKey = mode !== "writes";
  const applies = (method: string) => mode === "always" || !READS.includes(method.toUpperCase());
  const expected = apiKey ? encoder.encode(apiKey) : null;
  const middleware: MiddlewareHandler = async (c, next) => {
    if (applies(c.req.method)) {
      if (!apiKey) {
        if (closedWithoutKey) {
          throw new ApiError(403, "api_key_required", "set QUDAG_API_KEY on the node to use this endpoint");
        }
      } else {
        const given = c.req.header("x-api-key");
        if (!given || !sameSecret(given, expected!)) {
          throw new ApiError(
            401,
            "unauthorized",
            given
              ? "x-api-key is wrong: send the node's QUDAG_API_KEY"
              : "this call needs an x-api-key header with the node's QUDAG_API_KEY (curl -H 'x-api-key: …'; the " +
                "qudag CLI sends it when QUDAG_API_KEY is set in its environment)",
          );
        }
      }
    }
    await next();
  };
  return { mode, closedWithoutKey, applies, middleware };
}
