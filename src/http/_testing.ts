/** Test helpers for the HTTP areas: an app with the node's middleware, its log lines and its metrics. */
import type { Hono } from "hono";
import { createLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { type AppDeps, createApp, type Env } from "./app.ts";

export const TEST_API_KEY = "test-api-key-0123456789abcdef";

export function testApp(areas: Record<string, Hono<Env>>, overrides: Partial<AppDeps> = {}) {
  const registry = new Registry();
  const lines: string[] = [];
  const app = createApp({
    // Debug level: refusals are logged too, so tests see everything a log could hold.
    logger: createLogger({ level: "debug", write: (l) => lines.push(l) }),
    requestDuration: registry.histogram("qudag_http_request_duration_seconds", "Duration.", [
      "method",
      "route",
      "status",
    ]),
    bodyLimitBytes: 1024 * 1024,
    nowMs: () => 0,
    checkReady: () => {},
    status: () => ({}),
    areas,
    ...overrides,
  });
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    const res = await app.request(path, init);
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch { /* not JSON */ }
    return { status: res.status, headers: res.headers, text, json };
  };
  return { app, registry, lines, call, logText: () => lines.join("\n") };
}

export function errorCode(r: { json: Record<string, unknown> }): string | undefined {
  return (r.json.error as { code?: string } | undefined)?.code;
}
