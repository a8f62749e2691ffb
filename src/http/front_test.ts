/**
 * The API front (front.ts): a real front thread on 127.0.0.1 before the node's
 * real app (its middleware: request ids, secure headers, cache policy, ETags).
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { Env } from "./app.ts";
import { type Front, FrontListenError, type ServedRecord, startFront } from "./front.ts";
import { frontWorkerSource } from "./front_worker.ts";
import { TEST_API_KEY, testApp } from "./_testing.ts";

interface Rig {
  front: Front;
  base: string;
  /** Requests the app saw, by path. */
  seen: string[];
  served: ServedRecord[];
  errors: unknown[];
  failed: unknown[];
  status: { n: number };
  endless: { aborted: boolean };
}

async function rig(
  o: {
    freshMs?: number;
    refreshMs?: number;
    wantedMs?: number;
    port?: number;
    workerSource?: string;
    closed?: boolean;
  } = {},
): Promise<Rig> {
  const status = { n: 1 };
  const area = new Hono<Env>();
  area.post("/echo", async (c) =>
    c.json({
      body: await c.req.text(),
      url: c.req.url,
      header: c.req.header("x-thing") ?? null,
      headers: [...c.req.raw.headers.keys()],
      peer: (c.env as { remoteAddr?: Deno.NetAddr }).remoteAddr ?? null,
      host: c.req.header("host") ?? null,
    }));
  area.get("/slow-stream", (c) =>
    stream(c, async (s) => {
      await s.write("first;");
      await new Promise((r) => setTimeout(r, 300));
      await s.write("second");
    }));
  const endless = { aborted: false };
  area.get("/endless", (c) =>
    stream(c, async (s) => {
      s.onAbort(() => {
        endless.aborted = true;
      });
      // Bounded: 10 s of chunks at most.
      for (let i = 0; i < 500 && !s.aborted; i++) {
        await s.write(`chunk ${i};`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }));
  const t = testApp({ "/t": area }, { status: () => ({ n: status.n }), apiKey: TEST_API_KEY });
  const seen: string[] = [];
  const served: ServedRecord[] = [];
  const errors: unknown[] = [];
  const failed: unknown[] = [];
  let frontRef: Front | null = null;
  const front = await startFront({
    hostname: "127.0.0.1",
    port: o.port ?? 0,
    handler: (req, info) => {
      seen.push(new URL(req.url).pathname);
      if (new URL(req.url).pathname === "/t/throws") throw new Error("the app failed");
      // As the node does: a status call that reached the app starts the copies again.
      if (new URL(req.url).pathname === "/api/v1/status") frontRef?.wanted("/api/v1/status");
      return t.app.fetch(req, info);
    },
    reads: [{ path: "/health" }, { path: "/api/v1/status", body: () => JSON.stringify({ n: status.n }) }],
    onServed: (r) => served.push(r),
    onError: (e) => errors.push(e),
    onFailed: (e) => failed.push(e),
    freshMs: o.freshMs,
    refreshMs: o.refreshMs,
    wantedMs: o.wantedMs,
    workerSource: o.workerSource,
  });
  frontRef = front;
  if (!o.closed) front.open();
  seen.length = 0; // the copies' first answers
  return { front, base: `http://127.0.0.1:${front.addr.port}`, seen, served, errors, failed, status, endless };
}

const headersOf = (res: Response, leave: string[]) =>
  Object.fromEntries([...res.headers].filter(([k]) => !leave.includes(k)));

Deno.test("front: the status and /health come from copies; headers, body and ETag are the app's own", async () => {
  const r = await rig();
  try {
    const fast = await fetch(`${r.base}/api/v1/status`, { headers: { "x-request-id": "front-1" } });
    const fastBody = await fast.text();
    assert.equal(fast.status, 200);
    assert.deepEqual(JSON.parse(fastBody), { n: 1 });
    assert.equal(fast.headers.get("x-request-id"), "front-1");
    assert.deepEqual(r.seen, [], "the app did not see it");
    // A revalidation that does not match goes to the app: the same answer, made there.
    const slow = await fetch(`${r.base}/api/v1/status`, { headers: { "if-none-match": 'W/"nope"' } });
    assert.equal(await slow.text(), fastBody);
    assert.deepEqual(r.seen, ["/api/v1/status"]);
    const leave = ["x-request-id", "date", "content-length", "ratelimit", "ratelimit-policy", "vary"];
    assert.deepEqual(headersOf(fast, leave), headersOf(slow, leave));
    assert.match(fast.headers.get("etag") ?? "", /^W\/"[0-9a-f]{40}"$/);

    const health = await fetch(`${r.base}/health`);
    assert.deepEqual(await health.json(), { status: "alive" });
    assert.deepEqual(r.seen, ["/api/v1/status"]);

    // A change reaches the copy within a refresh.
    r.status.n = 2;
    const deadline = Date.now() + 5_000;
    let n = 1;
    while (n !== 2 && Date.now() < deadline) {
      n = (await (await fetch(`${r.base}/api/v1/status`)).json()).n;
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal(n, 2);
    assert.ok(r.served.some((s) => s.requestId === "front-1" && s.path === "/api/v1/status" && s.status === 200));
    assert.deepEqual(r.errors, []);
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: key holders, browsers, revalidations and queries are answered by the app", async () => {
  const r = await rig();
  try {
    for (
      const [path, headers] of [
        ["/api/v1/status", { "x-api-key": TEST_API_KEY }],
        ["/api/v1/status", { origin: "https://example.org" }],
        ["/api/v1/status", { "if-none-match": 'W/"x"' }],
        ["/api/v1/status?x=1", {}],
        ["/ready", {}],
      ] as const
    ) {
      const res = await fetch(`${r.base}${path}`, { headers });
      await res.body?.cancel();
      assert.equal(r.seen.at(-1), new URL(`http://x${path}`).pathname, `${path} ${JSON.stringify(headers)}`);
    }
    assert.equal(r.seen.length, 5);
    // A revalidation that matches: the app's 304, with no body.
    const etag = (await fetch(`${r.base}/api/v1/status`).then(async (res) => (await res.body?.cancel(), res)))
      .headers.get("etag")!;
    const same = await fetch(`${r.base}/api/v1/status`, { headers: { "if-none-match": etag } });
    assert.equal(same.status, 304);
    assert.equal(await same.text(), "");
    assert.equal(r.seen.length, 6);
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: a stale copy is not served; the app answers", async () => {
  const r = await rig({ freshMs: 50, refreshMs: 60_000 });
  try {
    await new Promise((res) => setTimeout(res, 120));
    r.status.n = 7;
    const res = await fetch(`${r.base}/api/v1/status`);
    assert.deepEqual(await res.json(), { n: 7 });
    assert.deepEqual(r.seen, ["/api/v1/status"]);
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: a status nobody asks for is not made; the next call goes to the app and starts the copies again", async () => {
  const r = await rig({ refreshMs: 20, freshMs: 200, wantedMs: 100 });
  try {
    await new Promise((res) => setTimeout(res, 500));
    r.status.n = 5;
    const first = await fetch(`${r.base}/api/v1/status`);
    assert.deepEqual(await first.json(), { n: 5 });
    assert.deepEqual(r.seen, ["/api/v1/status"], "the copy had gone stale: the app answered");
    // /health's copy has no body to make: it stayed fresh all along.
    await (await fetch(`${r.base}/health`)).body?.cancel();
    assert.deepEqual(r.seen, ["/api/v1/status"]);
    const until = Date.now() + 5_000;
    let fromCopy = false;
    while (!fromCopy && Date.now() < until) {
      await new Promise((res) => setTimeout(res, 30));
      const before = r.seen.length;
      const n = (await (await fetch(`${r.base}/api/v1/status`)).json()).n;
      fromCopy = r.seen.length === before && n === 5;
    }
    assert.ok(fromCopy, "the copies were made again");
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: the app sees what the client sent (URL, headers, body, address); answers stream back", async () => {
  const r = await rig();
  try {
    const res = await fetch(`${r.base}/t/echo?q=1`, { method: "POST", body: "hello", headers: { "x-thing": "a" } });
    const echo = await res.json();
    assert.equal(res.status, 200);
    assert.equal(echo.body, "hello");
    assert.equal(echo.url, `${r.base}/t/echo?q=1`);
    assert.equal(echo.header, "a");
    assert.ok(echo.headers.includes("x-thing") && !echo.headers.some((h: string) => h.startsWith("x-qudag")));
    assert.equal(echo.host, `127.0.0.1:${r.front.addr.port}`, "the Host the client sent");

    // A body of unknown length (chunked) goes to the app as a stream; one of a known length, whole.
    const chunked = await fetch(`${r.base}/t/echo`, {
      method: "POST",
      body: ReadableStream.from(["hel", "lo ", "again"].map((t) => new TextEncoder().encode(t))),
    });
    assert.equal((await chunked.json()).body, "hello again");
    const big = "x".repeat(300_000);
    assert.equal((await (await fetch(`${r.base}/t/echo`, { method: "POST", body: big })).json()).body, big);

    const streamed = await fetch(`${r.base}/t/slow-stream`);
    const reader = streamed.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.equal(first, "first;", "the first chunk came before the stream ended");
    let rest = "";
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    assert.equal(rest, "second");

    // A GET with a body (unusual, allowed on the wire) reaches the app like any GET.
    const raw = (await rawRequest(r.front.addr.port, "GET /api/v1/nope HTTP/1.1\r\nhost: x", "hello")).answer;
    assert.match(raw, /^HTTP\/1\.1 404 /);
    assert.match(raw, /"not_found"/);

    // Methods fetch() may not send reach the app too, which refuses them as before: 405 with Allow.
    const trace = (await rawRequest(r.front.addr.port, "TRACE /api/v1/status HTTP/1.1\r\nhost: x")).answer;
    assert.match(trace, /^HTTP\/1\.1 405 /);
    assert.match(trace, /\r\nallow: GET\r\n/i);
    assert.match(trace, /"method_not_allowed"/);

    const missing = await fetch(`${r.base}/api/v1/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");
  } finally {
    await r.front.shutdown();
  }
});

/** One request on a connection of its own, so that the client's port is known; the raw answer. */
async function rawRequest(port: number, head: string, body = ""): Promise<{ answer: string; clientPort: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const clientPort = (conn.localAddr as Deno.NetAddr).port;
  await conn.write(
    new TextEncoder().encode(`${head}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n\r\n${body}`),
  );
  return { answer: new TextDecoder().decode(await new Response(conn.readable).arrayBuffer()), clientPort };
}

Deno.test("front: the app sees the client's own address and Host; forwarding headers a client sends are not believed", async () => {
  const r = await rig();
  try {
    const { answer, clientPort } = await rawRequest(
      r.front.addr.port,
      ["POST /t/echo HTTP/1.1", "host: example.test", "x-forwarded-for: 6.6.6.6", "forwarded: for=6.6.6.6"].join(
        "\r\n",
      ),
      "x",
    );
    const echo = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ""));
    assert.equal(echo.peer.hostname, "127.0.0.1");
    assert.equal(echo.peer.port, clientPort, "the client's own port");
    assert.equal(echo.url, "http://example.test/t/echo");
    assert.equal(echo.body, "x");
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: until the node opens it, requests for the app get 503 starting; the copies are served", async () => {
  const r = await rig({ closed: true });
  try {
    const early = await fetch(`${r.base}/api/v1/nope`);
    assert.equal(early.status, 503);
    assert.equal((await early.json()).error.code, "starting");
    assert.ok(r.served.length === 0 || r.served.some((s) => s.status === 503));
    assert.equal((await fetch(`${r.base}/api/v1/status`)).status, 200);
    assert.deepEqual(r.seen, [], "the app saw nothing");
    r.front.open();
    const until = Date.now() + 5_000;
    let status = 503;
    while (status === 503 && Date.now() < until) {
      const res = await fetch(`${r.base}/api/v1/nope`);
      await res.body?.cancel();
      status = res.status;
    }
    assert.equal(status, 404);
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: a body over the app's limit is refused by the app (413 body_too_large)", async () => {
  const r = await rig();
  try {
    const res = await fetch(`${r.base}/t/echo`, { method: "POST", body: new Uint8Array(2 * 1024 * 1024 + 1) });
    assert.equal(res.status, 413);
    assert.equal((await res.json()).error.code, "body_too_large");
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: a client that goes away ends the app's stream", async () => {
  const r = await rig();
  try {
    const res = await fetch(`${r.base}/t/endless`);
    const reader = res.body!.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /^chunk 0;/);
    await reader.cancel();
    const until = Date.now() + 5_000;
    while (!r.endless.aborted && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    assert.ok(r.endless.aborted, "the app's stream saw the client go");
  } finally {
    await r.front.shutdown();
  }
});

Deno.test("front: an app that throws gives 500 internal; the next request is answered", async () => {
  const r = await rig();
  try {
    const res = await fetch(`${r.base}/t/throws`, { method: "POST", body: "x" });
    assert.equal(res.status, 500);
    const body = await res.json();
    assert.equal(body.error.code, "internal");
    assert.ok(!JSON.stringify(body).includes("the app failed"), "no internal detail");
    assert.ok(r.served.length > 0 || (await waitFor(() => r.served.some((s) => s.status === 500))));
    const next = await fetch(`${r.base}/t/echo`, { method: "POST", body: "after" });
    assert.equal((await next.json()).body, "after");
  } finally {
    await r.front.shutdown();
  }
});

async function waitFor(ok: () => boolean, ms = 5_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (!ok() && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
  return ok();
}

Deno.test("front: a port in use is refused with addrInUse; after shutdown the port is free again", async () => {
  const r = await rig();
  const port = r.front.addr.port;
  try {
    await assert.rejects(rig({ port }), (e) => e instanceof FrontListenError && e.addrInUse);
  } finally {
    await r.front.shutdown();
  }
  const again = await rig({ port });
  await again.front.shutdown();
  await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), TypeError);
});

Deno.test("front: the status is answered while this thread is busy (a client on another thread)", async () => {
  // Copies stay fresh for the whole spin: a slow start of the client thread must not send it to this thread.
  const r = await rig({ freshMs: 60_000 });
  // The client thread sets flag[0] to the status it got; this thread spins until then (at most 10 s), never
  // yielding: an answer that needed this thread would come only after the spin.
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const client = `self.onmessage = async (e) => {
    const [url, flag] = e.data;
    const res = await fetch(url);
    await res.text();
    Atomics.store(flag, 0, res.status);
  };`;
  const blob = URL.createObjectURL(new Blob([client], { type: "application/javascript" }));
  const w = new Worker(blob, { type: "module" });
  try {
    w.postMessage([`${r.base}/api/v1/status`, flag]);
    const until = performance.now() + 10_000;
    while (Atomics.load(flag, 0) === 0 && performance.now() < until) { /* spin */ }
    assert.equal(Atomics.load(flag, 0), 200, "answered while this thread never yielded");
  } finally {
    w.terminate();
    URL.revokeObjectURL(blob);
    await r.front.shutdown();
  }
});

Deno.test("front: a front thread that dies is reported once (onFailed); a stop asked for is not a failure", async () => {
  const dying = `${frontWorkerSource()}\nsetTimeout(() => { throw new Error("front test: boom"); }, 50);\n`;
  const r = await rig({ workerSource: dying });
  try {
    const until = Date.now() + 5_000;
    while (r.failed.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    assert.match(String(r.failed[0]), /boom/);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.failed.length, 1, "once");
  } finally {
    await r.front.shutdown();
  }
  const calm = await rig();
  await calm.front.shutdown();
  assert.deepEqual(calm.failed, []);
});
