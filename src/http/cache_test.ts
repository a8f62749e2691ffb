import assert from "node:assert/strict";
import { z } from "@hono/zod-openapi";
import { createArea } from "./app.ts";
import { apiKeyPolicy } from "./api_key.ts";
import { defineRoute } from "./_route.ts";
import { json } from "./_schemas.ts";
import { TEST_API_KEY, testApp } from "./_testing.ts";

/** An area with one route of each cache policy, and a write. */
function area() {
  const api = createArea();
  const body = json(z.object({ n: z.number() }), "n");
  let n = 0;
  for (const [path, cache] of [["/short", "short"], ["/forever", "immutable"], ["/private", "none"]] as const) {
    api.openapi(defineRoute({ method: "get", path, responses: { 200: body } }, { cache }), (c) => c.json({ n }, 200));
  }
  api.openapi(defineRoute({ method: "get", path: "/plain", responses: { 200: body } }), (c) => c.json({ n }, 200));
  api.openapi(
    defineRoute({ method: "post", path: "/write", responses: { 200: body } }, {
      auth: apiKeyPolicy(TEST_API_KEY, "writes"),
    }),
    (c) => c.json({ n: ++n }, 200),
  );
  return api;
}

const ORIGIN = "https://app.example";

Deno.test("cache policies: short and immutable reads carry max-age and an ETag (304 on a match); the rest no-store", async () => {
  const t = testApp({ "/x": area() }, { cache: { shortMaxAgeS: 5, immutableMaxAgeS: 3600 } });
  const short = await t.call("GET", "/x/short");
  assert.equal(short.headers.get("cache-control"), "public, max-age=5");
  const etag = short.headers.get("etag");
  assert.match(etag ?? "", /^W\/"/);
  const again = await t.call("GET", "/x/short", undefined, { "if-none-match": etag! });
  assert.equal(again.status, 304);
  assert.equal(again.text, "");
  assert.equal(again.headers.get("cache-control"), "public, max-age=5");
  assert.equal((await t.call("GET", "/x/forever")).headers.get("cache-control"), "public, max-age=3600, immutable");
  assert.equal((await t.call("GET", "/x/private")).headers.get("cache-control"), "no-store");
  assert.equal((await t.call("GET", "/x/plain")).headers.get("cache-control"), "no-store");
  const write = await t.call("POST", "/x/write", undefined, { "x-api-key": TEST_API_KEY });
  assert.equal(write.status, 200);
  assert.equal(write.headers.get("cache-control"), "no-store");
  // A changed resource has a new ETag: the old one no longer matches.
  const changed = await t.call("GET", "/x/short", undefined, { "if-none-match": etag! });
  assert.equal(changed.status, 200);
  assert.notEqual(changed.headers.get("etag"), etag);
  // Errors are never stored.
  const missing = await t.call("GET", "/x/nothing");
  assert.equal(missing.status, 404);
  assert.equal(missing.headers.get("cache-control"), "no-store");
  const zero = testApp({ "/x": area() }, { cache: { shortMaxAgeS: 0, immutableMaxAgeS: 1 } });
  assert.equal((await zero.call("GET", "/x/short")).headers.get("cache-control"), "public, no-cache");
});

Deno.test("CORS: off unless origins are configured; then reads from an allowed origin only, never writes", async () => {
  const off = testApp({ "/x": area() });
  const plain = await off.call("GET", "/x/short", undefined, { origin: ORIGIN });
  assert.equal(plain.headers.get("access-control-allow-origin"), null);

  const on = testApp({ "/x": area() }, { cors: { origins: [ORIGIN], maxAgeS: 120 } });
  const read = await on.call("GET", "/x/short", undefined, { origin: ORIGIN });
  assert.equal(read.headers.get("access-control-allow-origin"), ORIGIN);
  assert.match(read.headers.get("vary") ?? "", /origin/i);
  assert.match(read.headers.get("access-control-expose-headers") ?? "", /etag/);
  const other = await on.call("GET", "/x/short", undefined, { origin: "https://evil.example" });
  assert.equal(other.headers.get("access-control-allow-origin"), null);

  const preflight = await on.call("OPTIONS", "/x/short", undefined, {
    origin: ORIGIN,
    "access-control-request-method": "GET",
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-methods"), "GET,HEAD");
  assert.equal(preflight.headers.get("access-control-max-age"), "120");

  // A write from a browser page: no preflight approval and no CORS headers on the answer.
  const writePreflight = await on.call("OPTIONS", "/x/write", undefined, {
    origin: ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "x-api-key",
  });
  assert.equal(writePreflight.headers.get("access-control-allow-origin"), null);
  assert.notEqual(writePreflight.status, 204);
  const write = await on.call("POST", "/x/write", undefined, { origin: ORIGIN, "x-api-key": TEST_API_KEY });
  assert.equal(write.status, 200);
  assert.equal(write.headers.get("access-control-allow-origin"), null);

  const any = testApp({ "/x": area() }, { cors: { origins: ["*"], maxAgeS: 0 } });
  assert.equal(
    (await any.call("GET", "/x/short", undefined, { origin: "https://a.example" })).headers.get(
      "access-control-allow-origin",
    ),
    "*",
  );
});
