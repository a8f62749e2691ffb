import assert from "node:assert/strict";
import { Hono } from "hono";
import { Registry } from "../metrics/mod.ts";
import type { Env } from "./app.ts";
import { errorCode, TEST_API_KEY, testApp } from "./_testing.ts";
import { addressPartition, rateLimiter, type RateLimitSettings } from "./rate_limit.ts";

const SETTINGS: RateLimitSettings = {
  readsPerMinute: 60,
  readsBurst: 3,
  writesPerMinute: 6,
  writesBurst: 2,
  keyMultiplier: 10,
};

function setup(o: { behindFlyProxy?: boolean; apiKey?: string | null } = {}) {
  let now = 0;
  const registry = new Registry();
  const area = new Hono<Env>();
  area.get("/thing", (c) => c.json({ ok: true }));
  area.post("/thing", (c) => c.json({ ok: true }, 201));
  // As a batch route: the request paid one write; the rest of its items now.
  area.post("/batch/:n", (c) => {
    c.get("rateCharge")?.(Number(c.req.param("n")) - 1);
    return c.json({ ok: true }, 200);
  });
  const limiter = rateLimiter({
    settings: SETTINGS,
    apiKey: o.apiKey === undefined ? TEST_API_KEY : o.apiKey,
    behindFlyProxy: o.behindFlyProxy ?? false,
    nowMs: () => now,
    registry,
  });
  const t = testApp({ "/x": area }, { middleware: [limiter] });
  /** A request from `address` (what Deno.serve gives Hono as the connection's peer). */
  const send = async (method: string, path: string, address: string, headers: Record<string, string> = {}) => {
    const res = await t.app.request(path, { method, headers }, { remoteAddr: { hostname: address } });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: JSON.parse(text || "{}") as Record<string, unknown> };
  };
  const refused = (cls: string, client: string) =>
    registry.counter("qudag_http_rate_limited_total", "", []).get({ class: cls, client });
  return { send, refused, advance: (ms: number) => (now += ms), registry };
}

Deno.test("rateLimiter() refuses a client past its burst with 429 rate_limited, Retry-After and RateLimit fields", async () => {
  const { send, refused, advance } = setup();
  const ok = [];
  for (let i = 0; i < 3; i++) ok.push(await send("GET", "/x/thing", "192.0.2.1"));
  assert.deepEqual(ok.map((r) => r.status), [200, 200, 200]);
  assert.equal(ok[0].headers.get("ratelimit-policy"), '"reads";q=60;w=60;qudag-burst=3');
  assert.deepEqual(ok.map((r) => r.headers.get("ratelimit")), [
    '"reads";r=2;t=1',
    '"reads";r=1;t=1',
    '"reads";r=0;t=1',
  ]);

  const over = await send("GET", "/x/thing", "192.0.2.1");
  assert.equal(over.status, 429);
  assert.equal(errorCode(over), "rate_limited");
  assert.equal(over.headers.get("retry-after"), "1");
  assert.equal(over.headers.get("ratelimit"), '"reads";r=0;t=1');
  assert.equal(over.headers.get("ratelimit-policy"), '"reads";q=60;w=60;qudag-burst=3');
  assert.match(over.headers.get("content-type") ?? "", /application\/json/);
  assert.ok(over.headers.get("x-request-id"));
  assert.equal(refused("reads", "address"), 1);

  // Another address has its own budget; writes have theirs.
  assert.equal((await send("GET", "/x/thing", "192.0.2.2")).status, 200);
  assert.equal((await send("POST", "/x/thing", "192.0.2.1")).status, 201);
  // A second later the bucket holds one more request.
  advance(1_000);
  assert.equal((await send("GET", "/x/thing", "192.0.2.1")).status, 200);
  assert.equal((await send("GET", "/x/thing", "192.0.2.1")).status, 429);
  assert.equal(refused("reads", "address"), 2);
});

Deno.test("rateLimiter() gives writes their own, smaller budget, counted by class", async () => {
  const { send, refused } = setup();
  assert.equal((await send("POST", "/x/thing", "192.0.2.1")).status, 201);
  assert.equal((await send("POST", "/x/thing", "192.0.2.1")).status, 201);
  const over = await send("POST", "/x/thing", "192.0.2.1");
  assert.equal(over.status, 429);
  // 6 a minute: one every 10 s.
  assert.equal(over.headers.get("retry-after"), "10");
  assert.equal(over.headers.get("ratelimit-policy"), '"writes";q=6;w=60;qudag-burst=2');
  assert.deepEqual((over.json.error as { details: unknown }).details, {
    class: "writes",
    retryAfterS: 10,
    perMinute: 6,
    burst: 2,
  });
  assert.equal(refused("writes", "address"), 1);
  assert.equal(refused("reads", "address"), 0);
  // Reads are still open to that client.
  assert.equal((await send("GET", "/x/thing", "192.0.2.1")).status, 200);
});

Deno.test("rateLimiter() gives the API key holder one budget keyMultiplier times larger, apart from addresses", async () => {
  const { send, refused } = setup();
  const key = { "x-api-key": TEST_API_KEY };
  // From many addresses, one budget: 2 × 10 writes.
  for (let i = 0; i < 20; i++) assert.equal((await send("POST", "/x/thing", `192.0.2.${i}`, key)).status, 201);
  const over = await send("POST", "/x/thing", "192.0.2.99", key);
  assert.equal(over.status, 429);
  assert.equal(refused("writes", "key"), 1);
  assert.equal(over.headers.get("ratelimit-policy"), '"writes";q=60;w=60;qudag-burst=20');
  // A wrong key is just an address.
  const wrong = { "x-api-key": "not-the-key" };
  assert.equal((await send("POST", "/x/thing", "192.0.2.99", wrong)).status, 201);
  // A node without a key has no key holder: the header changes nothing.
  const keyless = setup({ apiKey: null });
  for (let i = 0; i < 2; i++) await keyless.send("POST", "/x/thing", "192.0.2.1", key);
  assert.equal((await keyless.send("POST", "/x/thing", "192.0.2.1", key)).status, 429);
  assert.equal(keyless.refused("writes", "address"), 1);
});

Deno.test("rateLimiter() reads Fly-Client-IP only behind Fly's proxy", async () => {
  // Off Fly the header is anyone's to write: changing it must not buy a new budget.
  const direct = setup();
  for (let i = 0; i < 2; i++) {
    await direct.send("POST", "/x/thing", "192.0.2.1", { "fly-client-ip": `198.51.100.${i}` });
  }
  const spoofed = await direct.send("POST", "/x/thing", "192.0.2.1", { "fly-client-ip": "198.51.100.7" });
  assert.equal(spoofed.status, 429);

  // On Fly every request comes from the proxy's address: the header names the client.
  const fly = setup({ behindFlyProxy: true });
  const proxy = "172.16.0.2";
  for (let i = 0; i < 2; i++) {
    assert.equal((await fly.send("POST", "/x/thing", proxy, { "fly-client-ip": "198.51.100.1" })).status, 201);
  }
  assert.equal((await fly.send("POST", "/x/thing", proxy, { "fly-client-ip": "198.51.100.1" })).status, 429);
  assert.equal((await fly.send("POST", "/x/thing", proxy, { "fly-client-ip": "198.51.100.2" })).status, 201);
  // A header that is not an address falls back to the peer address.
  assert.equal((await fly.send("POST", "/x/thing", proxy, { "fly-client-ip": "nonsense" })).status, 201);
});

Deno.test("rateLimiter() charges a batch one write per item, all or nothing", async () => {
  const { send, refused, advance } = setup();
  // Writes: 6 a minute, bursts of 2, and 20 for the key holder.
  const two = await send("POST", "/x/batch/2", "192.0.2.7");
  assert.equal(two.status, 200);
  assert.equal(two.headers.get("ratelimit"), '"writes";r=0;t=10');
  const spent = await send("POST", "/x/thing", "192.0.2.7");
  assert.equal(spent.status, 429);
  advance(10_000); // one write back
  const tooMany = await send("POST", "/x/batch/2", "192.0.2.7");
  assert.equal(tooMany.status, 429);
  assert.equal(errorCode(tooMany), "rate_limited");
  assert.match(String((tooMany.json.error as { message: string }).message), /a batch of 2 costs 2 writes/);
  assert.equal(refused("writes", "address"), 2);
  // Larger than the burst: never allowed, and the message says how many fit.
  advance(60_000);
  const huge = await send("POST", "/x/batch/3", "192.0.2.8");
  assert.equal(huge.status, 429);
  assert.match(String((huge.json.error as { message: string }).message), /send at most 2 at once/);
  // The key holder's budget is keyMultiplier times larger: a batch of 20 fits once.
  const key = { "x-api-key": TEST_API_KEY };
  assert.equal((await send("POST", "/x/batch/20", "192.0.2.9", key)).status, 200);
  assert.equal((await send("POST", "/x/batch/1", "192.0.2.9", key)).status, 429);
});

Deno.test("rateLimiter() leaves /health and /ready to probes", async () => {
  const { send } = setup();
  for (let i = 0; i < 10; i++) {
    assert.equal((await send("GET", "/health", "192.0.2.1")).status, 200);
    assert.equal((await send("GET", "/ready", "192.0.2.1")).status, 200);
  }
  assert.equal((await send("GET", "/x/thing", "192.0.2.1")).status, 200);
});

Deno.test("addressPartition() keys IPv4 as itself, IPv6 by its /64, and refuses what is not an address", () => {
  assert.equal(addressPartition("192.0.2.1"), "ip4:192.0.2.1");
  assert.equal(addressPartition(" 192.0.2.1 "), "ip4:192.0.2.1");
  assert.equal(addressPartition("::ffff:192.0.2.1"), "ip4:192.0.2.1");
  assert.equal(addressPartition("::ffff:c000:201"), "ip4:192.0.2.1");
  assert.equal(addressPartition("2001:db8:1:2:3:4:5:6"), "ip6:2001:db8:1:2::/64");
  assert.equal(addressPartition("[2001:DB8:1:2::9]"), "ip6:2001:db8:1:2::/64");
  assert.equal(addressPartition("2001:db8::1"), "ip6:2001:db8:0:0::/64");
  assert.equal(addressPartition("::1"), "ip6:0:0:0:0::/64");
  for (const bad of ["", "256.0.0.1", "example.com", "1.2.3", "2001:db8::g", "::1::2", "1.2.3.4:80"]) {
    assert.equal(addressPartition(bad), null, bad);
  }
});
