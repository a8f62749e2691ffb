import assert from "node:assert/strict";
import { callNode } from "./_client.ts";
import { CliError } from "./_errors.ts";

interface Seen {
  path: string;
  apiKey: string | null;
}

/** A node stand-in on 127.0.0.1 that records each request's path and API key and answers with `answer`. */
function server(answer: (req: Request) => Response) {
  const seen: Seen[] = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push({ path: new URL(req.url).pathname, apiKey: req.headers.get("x-api-key") });
    return answer(req);
  });
  return { url: `http://127.0.0.1:${s.addr.port}`, seen, close: () => s.shutdown() };
}

async function refusedWith(p: Promise<unknown>, code: string): Promise<CliError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CliError, `expected CliError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

Deno.test("callNode() sends the API key to the configured node", async () => {
  const node = server(() => Response.json({ ok: true }));
  try {
    const r = await callNode({ nodeUrl: `${node.url}/`, apiKey: "k-1" }, "GET", "/api/v1/peers");
    assert.deepEqual(r.json, { ok: true });
    assert.deepEqual(node.seen, [{ path: "/api/v1/peers", apiKey: "k-1" }]);
  } finally {
    await node.close();
  }
});

Deno.test("callNode() follows no redirect: the API key never reaches where it points (node_redirect)", async () => {
  const elsewhere = server(() => Response.json({ stolen: true }));
  const node = server((req) =>
    new Response(null, { status: 307, headers: { location: `${elsewhere.url}${new URL(req.url).pathname}` } })
  );
  try {
    for (const method of ["GET", "POST"] as const) {
      const error = await refusedWith(
        callNode(
          { nodeUrl: node.url, apiKey: "secret" },
          method,
          "/api/v1/peers",
          method === "POST" ? { json: { address: "x:1" } } : undefined,
        ),
        "node_redirect",
      );
      assert.match(error.message, /answered 307 with a redirect to http:\/\/127\.0\.0\.1:\d+\/api\/v1\/peers/);
    }
    assert.equal(elsewhere.seen.length, 0);
    assert.equal(node.seen.length, 2);
  } finally {
    await node.close();
    await elsewhere.close();
  }
});

Deno.test("callNode() refuses a node URL with credentials, a query or another scheme before any request (node_url_invalid)", async () => {
  const node = server(() => Response.json({}));
  const port = new URL(node.url).port;
  try {
    for (
      const bad of [
        `http://127.0.0.1:${port}@127.0.0.1:${port}/`,
        `http://user:pw@127.0.0.1:${port}`,
        `${node.url}/?x=1`,
        `${node.url}/#frag`,
        `ftp://127.0.0.1:${port}`,
        "not a url",
      ]
    ) {
      await refusedWith(callNode({ nodeUrl: bad, apiKey: "secret" }, "GET", "/api/v1/status"), "node_url_invalid");
    }
    assert.equal(node.seen.length, 0);
  } finally {
    await node.close();
  }
});
