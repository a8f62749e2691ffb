import type { MiddlewareHandler } from "hono";
import { ApiError } from "./errors.ts";

/** Compares in time independent of where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Writes need `x-api-key` when the node has QUDAG_API_KEY; reads never do.
 * With `always`, writes are refused outright when no key is configured (the
 * operator's endpoints: nobody may ban validators or make the node dial).
 */
export function requireApiKeyOnWrites(apiKey: string | null, always = false): MiddlewareHandler {
  return async (c, next) => {
    const write = !["GET", "HEAD", "OPTIONS"].includes(c.req.method);
    if (write && !apiKey && always) {
      throw new ApiError(403, "api_key_required", "set QUDAG_API_KEY on the node to use this endpoint");
    }
    if (apiKey && write) {
      const given = c.req.header("x-api-key");
      if (!given || !sameSecret(given, apiKey)) {
        throw new ApiError(
          401,
          "unauthorized",
          given
            ? "x-api-key is wrong: send the node's QUDAG_API_KEY"
            : "this write needs an x-api-key header with the node's QUDAG_API_KEY (curl -H 'x-api-key: …'; the " +
              "qudag CLI sends it when QUDAG_API_KEY is set in its environment)",
        );
      }
    }
    await next();
  };
}
