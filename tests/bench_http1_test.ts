/**
 * The benchmarks' HTTP/1.1 client (bench/_http1.ts) against a local
 * `Deno.serve`: bodies by length and in chunks, connections kept and shared,
 * a kept-alive connection the server closed, and the errors a sender turns
 * into "ask again later".
 */
import assert from "node:assert/strict";
import { Http1ConnectionError, Http1Pool } from "../bench/_http1.ts";

const decoder = new TextDecoder();

async function withServer(
  handler: (req: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>,
  body: (origin: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await body(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("Http1Pool posts bodies and reads answers by length and in chunks, on kept connections", async () => {
  const peers = new Set<number>();
  await withServer(async (req, info) => {
    peers.add(info.remoteAddr.port);
    const got = new Uint8Array(await req.arrayBuffer());
    const url = new URL(req.url);
    if (url.pathname === "/chunked") {
      // A streamed body goes out in chunks.
      return new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode("ab"));
            c.enqueue(new TextEncoder().encode("cde"));
            c.close();
          },
        }),
      );
    }
    return Response.json({ n: got.length, sum: got.reduce((a, b) => a + b, 0), key: req.headers.get("x-api-key") }, {
      status: url.pathname === "/busy" ? 503 : 200,
      headers: { "retry-after": "2" },
    });
  }, async (origin) => {
    const pool = new Http1Pool(origin, 2);
    try {
      const body = new Uint8Array(70_000).fill(3); // more than one read of the server's
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => pool.request("POST", "/x", { "x-api-key": "k" }, body, 10_000)),
      );
      for (const r of answers) {
        assert.equal(r.status, 200);
        assert.deepEqual(JSON.parse(decoder.decode(r.body)), { n: 70_000, sum: 210_000, key: "k" });
      }
      assert.ok(peers.size <= 2, `${peers.size} connections for 10 requests, at most 2 allowed`);
      const busy = await pool.request("POST", "/busy", {}, new Uint8Array(0), 10_000);
      assert.equal(busy.status, 503);
      assert.equal(busy.headers.get("retry-after"), "2");
      const chunked = await pool.request("POST", "/chunked", {}, new Uint8Array(1), 10_000);
      assert.equal(decoder.decode(chunked.body), "abcde");
      // The connection is still good after a chunked answer.
      assert.equal((await pool.request("POST", "/x", {}, new Uint8Array([9]), 10_000)).status, 200);
    } finally {
      pool.close();
    }
  });
});

Deno.test("Http1Pool asks again on a new connection when the server closed a kept one without saying so", async () => {
  // A bare server that answers one request per connection and then closes it, with no "connection: close".
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      const buf = new Uint8Array(4096);
      let text = "";
      while (!text.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) break;
        text += decoder.decode(buf.subarray(0, n));
      }
      await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
      conn.close();
    }
  })();
  const pool = new Http1Pool(`http://127.0.0.1:${listener.addr.port}`, 1);
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal(decoder.decode((await pool.request("POST", "/", {}, new Uint8Array(0), 10_000)).body), "ok");
    }
    assert.equal(connections, 3);
  } finally {
    pool.close();
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("Http1Pool throws Http1ConnectionError when nothing listens, when an answer takes too long, and once closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const nobody = new Http1Pool(`http://127.0.0.1:${port}`);
  await assert.rejects(nobody.request("POST", "/", {}, new Uint8Array(0), 1_000), Http1ConnectionError);
  nobody.close();

  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  await withServer(async () => {
    await held;
    return new Response("late");
  }, async (origin) => {
    const pool = new Http1Pool(origin, 1);
    try {
      await assert.rejects(pool.request("POST", "/", {}, new Uint8Array(0), 200), (e: Error) => {
        assert.ok(e instanceof Http1ConnectionError);
        assert.match(e.message, /no answer in 200 ms/);
        return true;
      });
    } finally {
      release();
      pool.close();
    }
    await assert.rejects(pool.request("POST", "/", {}, new Uint8Array(0), 200), /the pool is closed/);
  });
  assert.throws(() => new Http1Pool("https://127.0.0.1:1"), /plain HTTP/);
});
