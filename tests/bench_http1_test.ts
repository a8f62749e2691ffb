/**
 * The benchmarks' HTTP/1.1 client (bench/_http1.ts) against a local
 * `Deno.serve`: bodies by length and in chunks, connections kept and shared,
 * a kept-alive connection the server closed, and the errors a sender turns
 * into "ask again later".
 */
import assert from "node:assert/strict";
import { Http1ConnectionError, Http1Pool, Http1ProtocolError, Http1TimeoutError } from "../bench/_http1.ts";

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

/**
 * A bare server: for each connection, answers each request with what `answer` gives (raw bytes), and closes the
 * connection after `perConnection` answers without saying so.
 */
function rawServer(answer: (n: number) => string, perConnection = 1) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  let answered = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      connections++;
      (async () => {
        const buf = new Uint8Array(65_536);
        try {
          for (let i = 0; i < perConnection; i++) {
            let text = "";
            while (!text.includes("\r\n\r\n")) {
              const n = await conn.read(buf);
              if (n === null) return;
              text += decoder.decode(buf.subarray(0, n));
            }
            await conn.write(new TextEncoder().encode(answer(answered++)));
          }
        } finally {
          conn.close();
        }
      })();
    }
  })();
  return {
    origin: `http://127.0.0.1:${listener.addr.port}`,
    get connections() {
      return connections;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

Deno.test("Http1Pool asks again on a new connection when the server closed its kept ones without saying so", async () => {
  await using server = rawServer(() => "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
  const pool = new Http1Pool(server.origin, 2);
  try {
    // Two kept connections, both closed by the server after their answer (as a node started again does).
    await Promise.all([0, 1].map(() => pool.request("POST", "/", {}, new Uint8Array(0), 10_000)));
    for (let i = 0; i < 3; i++) {
      assert.equal(decoder.decode((await pool.request("POST", "/", {}, new Uint8Array(0), 10_000)).body), "ok");
    }
    assert.equal(server.connections, 5, "each request after the first two on a new connection, none failed");
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool reads chunks with extensions and trailers, and refuses what it cannot read without hanging", async () => {
  const answers = [
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nx-t: 1\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\n",
    "HTTP/1.1 200 OK\r\ncontent-length: 1e3\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    "SMTP ready\r\n\r\n",
  ];
  await using server = rawServer((n) => answers[n], 2);
  const pool = new Http1Pool(server.origin, 1);
  try {
    const chunked = await pool.request("POST", "/", {}, new Uint8Array(0), 10_000);
    assert.equal(decoder.decode(chunked.body), "abcde");
    // The same connection, after the trailer: the next answer is read whole.
    assert.equal(decoder.decode((await pool.request("POST", "/", {}, new Uint8Array(0), 10_000)).body), "ok");
    for (
      const bad of [/content-length -5/, /content-length 1e3/, /not ended by CRLF/, /chunk size zz/, /status line/]
    ) {
      await assert.rejects(pool.request("POST", "/", {}, new Uint8Array(0), 10_000), (e: Error) => {
        assert.ok(e instanceof Http1ProtocolError, `${e}`);
        assert.match(e.message, bad);
        return true;
      });
    }
  } finally {
    pool.close();
  }
});

Deno.test("Http1Pool throws Http1ConnectionError when nothing listens and once closed, Http1TimeoutError when an answer or a connection takes too long", async () => {
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
      // One request holds the only connection; the second waits for it: both are bounded.
      const first = pool.request("POST", "/", {}, new Uint8Array(0), 300);
      const second = pool.request("POST", "/", {}, new Uint8Array(0), 100);
      for (const [p, ms] of [[second, 100], [first, 300]] as const) {
        await assert.rejects(p, (e: Error) => {
          assert.ok(e instanceof Http1TimeoutError, `${e}`);
          assert.match(e.message, new RegExp(`no answer in ${ms} ms`));
          return true;
        });
      }
    } finally {
      release();
      pool.close();
    }
    await assert.rejects(pool.request("POST", "/", {}, new Uint8Array(0), 200), /the pool is closed/);
  });
  assert.throws(() => new Http1Pool("https://127.0.0.1:1"), /plain HTTP/);
});
