/**
 * The public HTTP API (Hono). Areas mount as sub-apps; middleware gives every
 * request an id, a JSON log line, a duration metric, secure headers and a body
 * limit; one onError turns every failure into a JSON error with a stable code.
 */
import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "../log/mod.ts";
import type { Histogram } from "../metrics/mod.ts";
import { ApiError, toErrorResponse } from "./errors.ts";

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
  /** Sub-apps by mount path, e.g. "/api/v1/dag". */
  areas?: Record<string, Hono<Env>>;
}

export type Env = { Variables: { requestId: string; logger: Logger } };

const REQUEST_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

export function createApp(deps: AppDeps): Hono<Env> {
  const app = new Hono<Env>();

  app.use("*", async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID_RE.test(incoming) ? incoming : crypto.randomUUID();
    const log = deps.logger.child({ requestId });
    c.set("requestId", requestId);
    c.set("logger", log);
    const started = deps.nowMs();
    try {
      await next();
    } finally {
      const seconds = (deps.nowMs() - started) / 1000;
      // routePath is the matched pattern (e.g. /api/v1/dag/nodes/:hash), so the label stays bounded.
      const route = c.req.routePath && c.req.routePath !== "/*" && c.req.routePath !== "*"
        ? c.req.routePath
        : "unmatched";
      const status = String(c.res.status);
      deps.requestDuration.observe({ method: c.req.method, route, status }, seconds);
      c.header("x-request-id", requestId);
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
  app.use(
    "*",
    bodyLimit({
      maxSize: deps.bodyLimitBytes,
      onError: () => {
        throw new ApiError(413, "body_too_large", `request body exceeds ${deps.bodyLimitBytes} bytes`);
      },
    }),
  );

  app.use("*", async (c, next) => {
    if (deps.isStopping?.() && !["GET", "HEAD", "OPTIONS"].includes(c.req.method)) {
      throw new ApiError(503, "shutting_down", "this node is shutting down; retry on another node");
    }
    await next();
  });

  app.get("/health", (c) => c.json({ status: "alive" }));
  app.get("/ready", (c) => {
    try {
      deps.checkReady();
    } catch (cause) {
      throw new ApiError(503, "not_ready", `not ready: ${(cause as Error).message}`);
    }
    return c.json({ status: "ready" });
  });
  app.get("/api/v1/status", (c) => c.json(deps.status()));

  for (const [path, area] of Object.entries(deps.areas ?? {})) app.route(path, area);

  app.notFound((c) => {
    const { status, body } = toErrorResponse(
      new ApiError(404, "not_found", `no route for ${c.req.method} ${c.req.path}`),
      c.get("requestId"),
    );
    return c.json(body, status);
  });
  app.onError((err, c) => {
    const requestId = c.get("requestId");
    const { status, body } = toErrorResponse(err, requestId);
    const log = c.get("logger") ?? deps.logger;
    if (status >= 500) log.error("request failed", { err, status, code: body.error.code });
    else log.debug("request refused", { status, code: body.error.code });
    return c.json(body, status);
  });
  return app;
}
