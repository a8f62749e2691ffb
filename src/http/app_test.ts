import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLogger, silentLogger } from "../log/mod.ts";
import { Registry } from "../metrics/mod.ts";
import { type AppDeps, createApp, type Env } from "./app.ts";
import { ApiError } from "./errors.ts";
import { NotReadyError } from "./system.ts";

const BODY_LIMIT_BYTES = 1024;

function setup(overrides: Partial<AppDeps> = {}) {
  const registry = new Registry();
  const requestDuration = registry.histogram("http_request_duration_seconds", "Duration.", [
    "method",
    "route",
    "status",
  ]);
  let now = 1_000;
  const area = new Hono<Env>();
  area.get("/items/:id", (c) => c.json({ id: c.req.param("id"), requestId: c.get("requestId") }));
  area.post("/items", async (c) => c.json({ size: (await c.req.text()).length }, 201));
  area.get("/refused", () => {
    throw new ApiError(409, "conflict_here", "that conflicts", { field: "x" });
  });
  area.get("/boom", () => {
    throw new Error("secret internal detail: /var/db password=hunter2");
  });
  area.get("/coded", () => {
    throw Object.assign(new Error("database is locked"), { code: "storage_locked" });
  });
  const app = createApp({
    logger: silentLogger,
    requestDuration,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    nowMs: () => (now += 5),
    checkReady: () => {},
    status: () => ({ node: { id: "n1" }, height: 3 }),
    areas: { "/x": area },
    ...overrides,
  });
  return { app, registry, requestDuration };
}

Deno.test("createApp() GET /health answers 200 alive", async () => {
  const res = await setup().app.request("/health");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "alive" });
});

Deno.test("createApp() GET /ready answers 200 when checkReady passes", async () => {
  const res = await setup().app.request("/ready");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: "ready" });
});

Deno.test("createApp() GET /ready answers 503 not_ready with a stable reason, never the error's text", async () => {
  const cases: [unknown, string, string?][] = [
    [new Error("SQLITE_READONLY: attempt to write a readonly database /data/qudag.db"), "internal"],
    [Object.assign(new Error("disk I/O error at /data/qudag.db"), { code: "storage_io" }), "storage_io"],
    [new NotReadyError("shutting_down", "node is shutting down"), "shutting_down"],
    [
      new NotReadyError("ledger_halted", "the ledger halted: transaction tx-secret-id at /data", "ledger_out_of_step"),
      "ledger_halted",
      "ledger_out_of_step",
    ],
    [new NotReadyError("ledger_halted", "halted", "Not a code /data"), "ledger_halted"],
    [Object.assign(new Error("odd"), { code: "Not A Code; /etc/passwd" }), "internal"],
    ["a string thrown", "internal"],
  ];
  for (const [thrown, reason, detail] of cases) {
    const { app } = setup({
      checkReady: () => {
        throw thrown;
      },
    });
    const res = await app.request("/ready");
    assert.equal(res.status, 503);
    const text = await res.text();
    const body = JSON.parse(text);
    assert.equal(body.error.code, "not_ready");
    assert.equal(body.error.message, detail ? `not ready [${reason}: ${detail}]` : `not ready [${reason}]`);
    assert.deepEqual(body.error.details, detail ? { reason, detail } : { reason });
    assert.equal(body.error.requestId, res.headers.get("x-request-id"));
    // The request id is a random UUID: look for the secrets in everything but it.
    const shown = JSON.stringify({ ...body.error, requestId: undefined });
    for (const secret of ["/data", "SQLITE", "tx-secret-id", "passwd"]) assert.ok(!shown.includes(secret), shown);
  }
});

Deno.test("createApp() GET /api/v1/status returns deps.status()", async () => {
  const res = await setup().app.request("/api/v1/status");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { node: { id: "n1" }, height: 3 });
});

Deno.test("createApp() GET /api/v1/status shows peers' addresses to holders of the API key only", async () => {
  const peers = [{ id: "ab", remote: "[fdaa:0:1::2]:4001", role: "initiator", since: 1 }];
  const { app } = setup({ apiKey: "the-key", status: () => ({ node: { id: "n1" }, peers }) });
  const operator = await (await app.request("/api/v1/status", { headers: { "x-api-key": "the-key" } })).json();
  assert.deepEqual(operator.peers, peers);
  for (const headers of [{}, { "x-api-key": "wrong" }] as Record<string, string>[]) {
    const text = await (await app.request("/api/v1/status", { headers })).text();
    assert.deepEqual(JSON.parse(text).peers, [{ id: "ab", remote: null, role: "initiator", since: 1 }]);
    assert.ok(!text.includes("fdaa"), text);
  }
  // Without a key on the node nobody sees them.
  const keyless = setup({ status: () => ({ peers }) });
  const anyone = await (await keyless.app.request("/api/v1/status", { headers: { "x-api-key": "" } })).json();
  assert.deepEqual(anyone.peers, [{ id: "ab", remote: null, role: "initiator", since: 1 }]);
});

Deno.test("createApp() answers an unknown route with 404 not_found and the request id", async () => {
  const res = await setup().app.request("/nope", { headers: { "x-request-id": "req-404" } });
  assert.equal(res.status, 404);
  assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  const body = await res.json();
  assert.equal(body.error.code, "not_found");
  assert.equal(body.error.message, "no route for GET /nope");
  assert.equal(body.error.requestId, "req-404");
  assert.equal(res.headers.get("x-request-id"), "req-404");
});

Deno.test("createApp() echoes a valid x-request-id to the handler and the response", async () => {
  const res = await setup().app.request("/x/items/7", { headers: { "x-request-id": "abc.DEF_123-xyz" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("x-request-id"), "abc.DEF_123-xyz");
  assert.deepEqual(await res.json(), { id: "7", requestId: "abc.DEF_123-xyz" });
});

Deno.test("createApp() replaces an invalid x-request-id with a fresh one", async () => {
  const { app } = setup();
  for (const bad of ["x".repeat(300), "has spaces in it", "semi;colon", ""]) {
    const res = await app.request("/health", { headers: { "x-request-id": bad } });
    const id = res.headers.get("x-request-id");
    assert.ok(id, "no x-request-id on the response");
    assert.notEqual(id, bad);
    assert.match(id, /^[0-9a-f-]{36}$/);
  }
  const a = (await app.request("/health")).headers.get("x-request-id");
  const b = (await app.request("/health")).headers.get("x-request-id");
  assert.notEqual(a, b);
});

Deno.test("createApp() accepts a body within the limit on an area route", async () => {
  const res = await setup().app.request("/x/items", { method: "POST", body: "a".repeat(BODY_LIMIT_BYTES) });
  assert.equal(res.status, 201);
  assert.deepEqual(await res.json(), { size: BODY_LIMIT_BYTES });
});

Deno.test("createApp() refuses a body over the limit with 413 body_too_large", async () => {
  const { app } = setup();
  // With a content-length header, and streamed without one.
  const withLength = await app.request("/x/items", {
    method: "POST",
    body: "a".repeat(BODY_LIMIT_BYTES + 1),
    headers: { "content-length": String(BODY_LIMIT_BYTES + 1) },
  });
  assert.equal(withLength.status, 413);
  assert.equal((await withLength.json()).error.code, "body_too_large");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(BODY_LIMIT_BYTES / 2).fill(97));
      controller.close();
    },
  });
  const streamed = await app.request("/x/items", { method: "POST", body: stream });
  assert.equal(streamed.status, 413);
  const body = await streamed.json();
  assert.equal(body.error.code, "body_too_large");
  assert.match(body.error.message, /exceeds 1024 bytes/);
});

Deno.test("createApp() maps a thrown ApiError to its status and code", async () => {
  const res = await setup().app.request("/x/refused", { headers: { "x-request-id": "r-409" } });
  assert.equal(res.status, 409);
  assert.deepEqual(await res.json(), {
    error: { code: "conflict_here", message: "that conflicts", requestId: "r-409", details: { field: "x" } },
  });
});

Deno.test("createApp() maps an error with a known code to its status", async () => {
  const res = await setup().app.request("/x/coded");
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error.code, "storage_locked");
});

Deno.test("createApp() answers an unknown error with 500 internal without leaking its message", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "info", write: (l) => lines.push(l) });
  const res = await setup({ logger }).app.request("/x/boom", { headers: { "x-request-id": "r-500" } });
  assert.equal(res.status, 500);
  const text = await res.text();
  assert.ok(!text.includes("hunter2"), text);
  assert.ok(!text.includes("secret internal detail"), text);
  const body = JSON.parse(text);
  assert.equal(body.error.code, "internal");
  assert.equal(body.error.requestId, "r-500");
  // The detail goes to the log instead, tied to the request id.
  const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "request failed");
  assert.ok(logged, "no 'request failed' log line");
  assert.equal(logged.requestId, "r-500");
  assert.match(logged.error, /secret internal detail/);
});

Deno.test("createApp() observes request duration labelled with the matched route pattern", async () => {
  const { app, requestDuration, registry } = setup();
  await app.request("/x/items/1");
  await app.request("/x/items/2");
  await app.request("/health");
  assert.equal(requestDuration.count({ method: "GET", route: "/x/items/:id", status: "200" }), 2);
  assert.equal(requestDuration.count({ method: "GET", route: "/health", status: "200" }), 1);
  // nowMs advances 5 ms per call: one request spans 5 ms.
  assert.ok(
    registry.render().includes(
      'http_request_duration_seconds_sum{method="GET",route="/x/items/:id",status="200"} 0.01',
    ),
    registry.render(),
  );
});

Deno.test("createApp() labels 404s as unmatched in the duration histogram", async () => {
  const { app, requestDuration } = setup();
  await app.request("/nope/1");
  await app.request("/nope/2");
  assert.equal(requestDuration.count({ method: "GET", route: "unmatched", status: "404" }), 2);
  assert.ok(!requestDuration.count({ method: "GET", route: "/nope/1", status: "404" }));
});

Deno.test("createApp() labels an error response with its route pattern", async () => {
  const { app, requestDuration } = setup();
  await app.request("/x/boom");
  assert.equal(requestDuration.count({ method: "GET", route: "/x/boom", status: "500" }), 1);
});

Deno.test("createApp() sets secure headers on success and error responses", async () => {
  const { app } = setup();
  for (const path of ["/health", "/nope", "/x/boom"]) {
    const res = await app.request(path);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff", path);
    assert.ok(res.headers.get("x-frame-options"), path);
    assert.ok(res.headers.get("strict-transport-security"), path);
    await res.body?.cancel();
  }
});

Deno.test("createApp() answers a method a path does not take with 405 and Allow, even beside a parameter route", async () => {
  const area = new Hono<Env>();
  area.get("/things/search", (c) => c.json({ search: true }));
  area.put("/things/:id", (c) => c.json({ put: c.req.param("id") }));
  area.get("/things/:id", (c) => c.json({ get: c.req.param("id") }));
  const { app } = setup({ areas: { "/x": area } });
  const put = await app.request("/x/things/search", { method: "PUT" });
  assert.equal(put.status, 405);
  assert.equal(put.headers.get("allow"), "GET");
  assert.equal((await put.json()).error.code, "method_not_allowed");
  assert.equal((await app.request("/x/things/7", { method: "PUT" })).status, 200);
  const del = await app.request("/x/things/7", { method: "DELETE" });
  assert.equal(del.status, 405);
  assert.equal(del.headers.get("allow"), "GET, PUT");
  assert.equal((await app.request("/x/things/search", { method: "HEAD" })).status, 200);
  assert.equal((await app.request("/x/nothing", { method: "DELETE" })).status, 404);
});
