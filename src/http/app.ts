/**
 * The HTTP API (Hono with zod-openapi). Areas mount as sub-apps whose routes
 * are defined once (`defineRoute`): that definition validates the request,
 * states the route's API key and cache policy, and describes it in the one
 * OpenAPI document served at /openapi.json (browsable at /docs).
 *
 * Middleware, in order: request id + JSON log line + duration metric; secure
 * headers; CORS for reads (when configured); `deps.middleware` (the slot for a
 * rate limiter: it sees every request, with its id and logger, before the body
 * is read); body limit; refusal of writes while stopping. One onError turns
 * every failure into a JSON error with a stable code; anything that did not
 * choose a cache policy leaves as `no-store`.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono, MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "../log/mod.ts";
import type { Histogram } from "../metrics/mod.ts";
import { ApiError, toErrorResponse } from "./errors.ts";
import { corsForReads, DEFAULT_CACHE, type HttpCacheConfig, type HttpCorsConfig, noStoreByDefault } from "./cache.ts";
import { systemRoutes } from "./system.ts";
import { refuseOtherMethods } from "./methods.ts";
import type { OpenApiDocument } from "./openapi.ts";

export interface StatusReport {
  [key: string]: unknown;
}

export interface AppDeps {
  logger: Logger;
  requestDuration: Histogram;
  bodyLimitBytes: number;
  /** Monotonic milliseconds, injected for tests. */
  nowMs: () => number;
  /** Throws when the node cannot serve (storage not writable, not synced). */
  checkReady: () => void;
  /** True once shutdown began: writes are refused so nothing is accepted and then lost. */
  isStopping?: () => boolean;
  status: () => StatusReport;
  /** The node's API key: requests carrying it see what only the operator may (peers' addresses in the status). */
  apiKey?: string | null;
  /** Sub-apps by mount path, e.g. "/api/v1/dag". */
  areas?: Record<string, Hono<Env>>;
  /** The document served at /openapi.json; without one, this app's own routes. */
  document?: OpenApiDocument;
  cors?: HttpCorsConfig;
  cache?: HttpCacheConfig;
  /** Run for every request after the request id and CORS, before the body is read (e.g. a rate limiter). */
  middleware?: readonly MiddlewareHandler<Env>[];
  /** Where a request this app has no route for should go instead, if it knows (appended to the 404's message). */
  notFoundHint?: (method: string, path: string) => string | null;
}

export type Env = {
  Variables: {
    requestId: string;
    logger: Logger;
    cacheConfig: HttpCacheConfig;
    /**
     * Set by the rate limiter: charges this request `extra` more of its class's budget, all or nothing (a batch
     * pays one write per item); throws 429 rate_limited when the budget lacks them. Absent without a limiter.
     */
    rateCharge?: (extra: number) => void;
  };
};

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** The validation hook of every route: a refused request is a 400 with the field and the rule, never its value. */
export function validationHook(
  result: { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } },
): void {
  if (result.success || !result.error) return;
  const issues = result.error.issues.slice(0, 10).map((i) => ({
    path: i.path.map(String).join(".") || "(body)",
    message: i.message,
  }));
  throw new ApiError(400, "invalid_request", issues.map((i) => `${i.path}: ${i.message}`).join("; "), { issues });
}

/** A sub-app for one area, with the shared validation hook. */
export function createArea(): OpenAPIHono<Env> {
  return new OpenAPIHono<Env>({ defaultHook: validationHook });
}

export function createApp(deps: AppDeps): OpenAPIHono<Env> {
  const app = new OpenAPIHono<Env>({ defaultHook: validationHook });
  const cacheConfig = deps.cache ?? DEFAULT_CACHE;

  app.use("*", async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
    const log = deps.logger.child({ requestId });
    c.set("requestId", requestId);
    c.set("logger", log);
    c.set("cacheConfig", cacheConfig);
    const started = deps.nowMs();
    try {
      await next();
    } finally {
      const seconds = (deps.nowMs() - started) / 1000;
      // routePath is the matched pattern (e.g. /api/v1/dag/nodes/:hash), so the label stays bounded.
      // Read once: Hono works it out again at every read.
      const matched = c.req.routePath;
      const route = matched && matched !== "/*" && matched !== "*" ? matched : "unmatched";
      const status = String(c.res.status);
      deps.requestDuration.observe({ method: c.req.method, route, status }, seconds);
      // Set on the response itself: c.header() on a finished response copies the whole Response first.
      c.res.headers.set("x-request-id", requestId);
      noStoreByDefault(c);
      log.info("http request", {
        method: c.req.method,
        path: c.req.path,
        route,
        status: c.res.status,
        durationMs: Math.round(seconds * 1e6) / 1e3,
      });
    }
  });
  app.use("*", secureHeaders());
  const cors = corsForReads(deps.cors ?? { origins: [], maxAgeS: 0 });
  if (cors) app.use("*", cors);
  for (const m of deps.middleware ?? []) app.use("*", m);
  app.use("*", refuseOtherMethods(app));
  const tooLarge = (): never => {
    throw new ApiError(413, "body_too_large", `request body exceeds ${deps.bodyLimitBytes} bytes`);
  };
  const streamedLimit = bodyLimit({ maxSize: deps.bodyLimitBytes, onError: tooLarge });
  app.use("*", (c, next) => {
    // A body whose length is stated (the server holds it to that length) is judged by the header alone. Asking for
    // `body` here, as the streamed check does, makes Deno build a stream for it, and the handler then reads the body
    // through that stream rather than at once: about 1 % of a node's busy time in the profile (bench/PROFILE.md, change 59).
    const headers = c.req.raw.headers;
    const length = headers.get("content-length");
    if (length !== null && !headers.has("transfer-encoding")) {
      return Number.parseInt(length, 10) > deps.bodyLimitBytes ? tooLarge() : next();
    }
    return streamedLimit(c, next);
  });
  app.use("*", async (c, next) => {
    if (deps.isStopping?.() && !["GET", "HEAD", "OPTIONS"].includes(c.req.method)) {
      throw new ApiError(503, "shutting_down", "this node is shutting down; retry on another node");
    }
    await next();
  });

  systemRoutes(app, {
    checkReady: deps.checkReady,
    status: deps.status,
    apiKey: deps.apiKey ?? null,
    document: () => deps.document?.get() ?? app.getOpenAPI31Document({ openapi: "3.1.0", info: DEFAULT_INFO }),
  });
  for (const [path, area] of Object.entries(deps.areas ?? {})) app.route(path, area);

  app.notFound((c) => {
    const { status, body } = toErrorResponse(
      new ApiError(
        404,
        "not_found",
        `no route for ${c.req.method} ${c.req.path}` +
          (deps.notFoundHint?.(c.req.method, c.req.path) ?? "").replace(/^(?=.)/, ": "),
      ),
      c.get("requestId"),
    );
    return c.json(body, status);
  });
  app.onError((err, c) => {
    const requestId = c.get("requestId");
    const { status, body } = toErrorResponse(err, requestId);
    const log = c.get("logger") ?? deps.logger;
    // A refusal for now (busy, stopping) says when to come back; it is the node working as meant, not a failure.
    const retryAfterS = (err as { retryAfterS?: unknown })?.retryAfterS;
    if (typeof retryAfterS === "number" && retryAfterS > 0) c.header("Retry-After", String(Math.ceil(retryAfterS)));
    if (status === 503 && TEMPORARY_CODES.has(body.error.code)) {
      log.debug("request refused for now", { status, code: body.error.code });
    } else if (status >= 500) log.error("request failed", { err, status, code: body.error.code });
    else log.debug("request refused", { status, code: body.error.code });
    return c.json(body, status);
  });
  return app;
}

/** 503 codes that are a node working as meant under load or shutdown, logged at debug. */
const TEMPORARY_CODES = new Set(["node_busy", "mempool_full", "shutting_down"]);

const DEFAULT_INFO = { title: "qudag node API", version: "1" };
