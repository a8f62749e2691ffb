/**
 * One route definition drives three things: request validation, the OpenAPI
 * document, and the route's policies (API key, caching). `defineRoute` adds
 * the error responses every route can give, the API key's security entry and
 * middleware, and the cache policy, so the document cannot say one thing while
 * the route does another.
 */
import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ErrorBody } from "./_schemas.ts";
import type { ApiKeyPolicy } from "./api_key.ts";
import { cacheControl, type CachePolicy } from "./cache.ts";

/** Error statuses a route may list, with the codes each one carries (documented in the OpenAPI file). */
export const ERROR_STATUSES = {
  400: "invalid_request, invalid_json or a field's own code: the request is malformed",
  401: "unauthorized: x-api-key is missing or wrong",
  403: "api_key_required: this endpoint is closed until the node has QUDAG_API_KEY",
  404: "not_found (or key_not_found): no such resource",
  409: "a conflict with the current state (e.g. key_exists)",
  413: "body_too_large or input_too_large: over a size limit",
  415: "unsupported_media_type: the body's content type is not one this route takes",
  422: "the request is well-formed but refused: the code says why (a core or ledger code, decrypt_failed, ...)",
  429: "rate_limited: this client's budget for reads or writes is spent; retry after Retry-After seconds " +
    "(RateLimit and RateLimit-Policy say the budget and what is left)",
  500: "internal: a bug; the message is generic and the node log has the detail under the request id",
  501: "crypto_unsupported: the active crypto backend cannot do this",
  503:
    "not_ready, shutting_down, node_busy (Retry-After), vault_locked, key_passphrase_missing, storage_*: retry later or elsewhere",
  507: "vault_full or key_store_full: a capacity limit is reached",
} as const;
export type ErrorStatus = keyof typeof ERROR_STATUSES;

/** Every route can answer these: a client over its budget, a bug, or a node that is stopping or whose storage fails. */
const COMMON_ERRORS: readonly ErrorStatus[] = [429, 500, 503];

/** The fields a 429 carries (src/http/rate_limit.ts). */
const RATE_LIMIT_HEADERS = {
  "Retry-After": {
    required: true,
    description: "seconds until the client may try again",
    schema: { type: "string", pattern: "^[0-9]+$" },
  },
  RateLimit: {
    description: 'what is left of the budget (draft-ietf-httpapi-ratelimit-headers), e.g. "writes";r=0;t=3',
    schema: { type: "string" },
  },
  "RateLimit-Policy": {
    description: 'the budget, e.g. "writes";q=60;w=60;qudag-burst=20',
    schema: { type: "string" },
  },
} as const;

export interface RouteOptions {
  /** The API key policy of this route (api_key.ts); omitted: open. */
  auth?: ApiKeyPolicy;
  /** Statuses the handler itself answers besides the common ones. */
  errors?: readonly ErrorStatus[];
  /** Cache-Control of a successful GET (cache.ts); omitted: no-store. */
  cache?: CachePolicy;
}

function errorResponse(status: ErrorStatus) {
  return {
    description: ERROR_STATUSES[status],
    content: { "application/json": { schema: ErrorBody } },
    ...(status === 429 ? { headers: RATE_LIMIT_HEADERS } : {}),
  };
}

/** Whether a request to `route` can carry parameters, a query or a body that validation may refuse. */
function validates(route: RouteConfig): boolean {
  const r = route.request;
  return Boolean(r && (r.params || r.query || r.body || r.headers));
}

export function defineRoute<R extends RouteConfig>(route: R, options: RouteOptions = {}): R {
  const statuses = new Set<ErrorStatus>([...COMMON_ERRORS, ...(options.errors ?? [])]);
  if (validates(route)) statuses.add(400);
  if (route.request?.body) {
    statuses.add(413);
    statuses.add(415);
  }
  const guarded = options.auth !== undefined && options.auth.applies(route.method);
  if (guarded) {
    statuses.add(401);
    if (options.auth!.closedWithoutKey) statuses.add(403);
  }
  const errors = Object.fromEntries([...statuses].sort().map((s) => [s, errorResponse(s)]));
  const middleware: MiddlewareHandler[] = [];
  if (guarded) middleware.push(options.auth!.middleware);
  if (options.cache !== undefined) middleware.push(cacheControl(options.cache));
  const existing = route.middleware === undefined
    ? []
    : Array.isArray(route.middleware)
    ? route.middleware
    : [route.middleware];
  return createRoute({
    ...route,
    responses: { ...errors, ...route.responses },
    ...(guarded ? { security: [{ apiKey: [] }] } : {}),
    middleware: [...middleware, ...existing],
  }) as R;
}
