/**
 * Caching and CORS headers for the read endpoints, configured in [http]
 * (src/config): each route states a cache policy in its definition; the app
 * supplies the configured ages through the context and marks everything else
 * `no-store` (writes, errors, the vault, the node's keys).
 *
 * - "immutable": content-addressed reads (a vertex by hash, a certified checkpoint by seq)
 * - "short": public reads that change as the chain moves (status, stats, accounts, fees)
 * - "none": never stored by a cache
 */
import type { Context, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { etag } from "hono/etag";

export type CachePolicy = "immutable" | "short" | "none";

export interface HttpCacheConfig {
  /** max-age of "short" reads, seconds; 0 sends `no-cache` (stored, revalidated every time by ETag). */
  readonly shortMaxAgeS: number;
  /** max-age of "immutable" reads, seconds. */
  readonly immutableMaxAgeS: number;
}

export interface HttpCorsConfig {
  /** Origins allowed to read cross-origin ("*" for any); empty sends no CORS headers at all. */
  readonly origins: readonly string[];
  /** Access-Control-Max-Age of a preflight answer, seconds. */
  readonly maxAgeS: number;
}

export const DEFAULT_CACHE: HttpCacheConfig = Object.freeze({ shortMaxAgeS: 2, immutableMaxAgeS: 86_400 });
export const DEFAULT_CORS: HttpCorsConfig = Object.freeze({ origins: [], maxAgeS: 600 });

export type CacheEnv = { Variables: { cacheConfig: HttpCacheConfig } };

const NO_STORE = "no-store";

export function cacheHeader(policy: CachePolicy, config: HttpCacheConfig): string {
  switch (policy) {
    case "immutable":
      return `public, max-age=${config.immutableMaxAgeS}, immutable`;
    case "short":
      return config.shortMaxAgeS === 0 ? "public, no-cache" : `public, max-age=${config.shortMaxAgeS}`;
    case "none":
      return NO_STORE;
  }
}

const withEtag = etag({ weak: true });

/** A route's cache policy: on a successful GET, Cache-Control by the policy, and a weak ETag (304 on a match). */
export function cacheControl(policy: CachePolicy): MiddlewareHandler<CacheEnv> {
  return async (c, next) => {
    if (policy === "none") return await next();
    await withEtag(c, async () => {
      await next();
      // A handler may choose for one representation (a vertex's bytes are immutable, its JSON view is not).
      if (c.res.ok && (c.req.method === "GET" || c.req.method === "HEAD") && !c.res.headers.has("cache-control")) {
        c.res.headers.set("cache-control", cacheHeader(policy, c.get("cacheConfig") ?? DEFAULT_CACHE));
      }
    });
  };
}

/** The app's last word: anything that did not choose a cache policy (or failed) is not stored. */
export function noStoreByDefault(c: Context): void {
  // A 304 repeats the cache policy of the response it stands for.
  const fresh = c.res.ok || c.res.status === 304;
  if (!fresh || !c.res.headers.has("cache-control")) c.res.headers.set("cache-control", NO_STORE);
}

const READ_METHODS = ["GET", "HEAD"];

/**
 * CORS for reads only: GET/HEAD from an allowed origin, and preflights asking
 * for them. Writes get no CORS headers, so a browser page on another origin
 * cannot send the API key's requests.
 */
export function corsForReads(config: HttpCorsConfig): MiddlewareHandler | null {
  if (config.origins.length === 0) return null;
  const handler = cors({
    origin: config.origins.includes("*") ? "*" : [...config.origins],
    allowMethods: READ_METHODS,
    allowHeaders: ["accept", "if-none-match", "x-request-id"],
    exposeHeaders: ["etag", "x-request-id", "ratelimit", "ratelimit-policy", "retry-after"],
    maxAge: config.maxAgeS,
  });
  return async (c, next) => {
    const method = c.req.method;
    const preflight = method === "OPTIONS" &&
      READ_METHODS.includes((c.req.header("access-control-request-method") ?? "").toUpperCase());
    if (READ_METHODS.includes(method) || preflight) return await handler(c, next);
    await next();
  };
}
