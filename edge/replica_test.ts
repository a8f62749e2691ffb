import assert from "node:assert/strict";
import { signatureCheck, testGenesis } from "../src/node/_checkpoint_testing.ts";
import { Replica } from "./replica.ts";
import { EdgeStore } from "./store.ts";

async function replica(
  fetch: typeof globalThis.fetch,
  lines: string[],
  upstreams = ["http://n1.test", "http://n2.test"],
  nowMs = () => 1_000_000,
) {
  const kv = await Deno.openKv(":memory:");
  const genesis = testGenesis();
  const r = await Replica.open({
    genesis,
    ledgerGenesis: null,
    upstreams,
    store: new EdgeStore(kv, genesis.chainIdHex),
    verify: signatureCheck,
    fetch,
    nowMs,
    log: (level, msg, fields) => lines.push(JSON.stringify({ level, msg, ...fields })),
    retryAfterMs: 30_000,
  });
  return { r, kv };
}

Deno.test("Replica: a rate-limited upstream is asked again after its Retry-After, not set aside as a liar", async () => {
  const lines: string[] = [];
  const { r, kv } = await replica(
    () => Promise.resolve(new Response("{}", { status: 429, headers: { "retry-after": "7" } })),
    lines,
  );
  try {
    const report = await r.sync();
    assert.equal(report.error?.code, "edge_upstream_rate_limited");
    assert.equal(r.upstreams[0].retryAtMs, 1_000_000 + 7_000);
    assert.match(
      lines.join("\n"),
      /"level":"warn".*"upstream":"http:\/\/n1.test".*"code":"edge_upstream_rate_limited"/,
    );
    // The next step asks the other upstream.
    assert.equal((await r.sync()).upstream, "http://n2.test");
  } finally {
    r.close();
    kv.close();
  }
});

Deno.test("Replica: an upstream of another chain is refused before its feed is read, and named in the log", async () => {
  const lines: string[] = [];
  const asked: string[] = [];
  const fetch = (url: string | URL | Request) => {
    asked.push(String(url));
    return Promise.resolve(Response.json({ chain: { id: "ab".repeat(32) } }));
  };
  const { r, kv } = await replica(fetch as typeof globalThis.fetch, lines);
  try {
    const report = await r.sync();
    assert.equal(report.error?.code, "edge_genesis_mismatch");
    assert.deepEqual(asked, ["http://n1.test/api/v1/status"]);
    assert.equal(r.upstreams[0].retryAtMs, 1_000_000 + 30_000);
    assert.match(lines.join("\n"), /"level":"error".*"upstream":"http:\/\/n1.test".*"code":"edge_genesis_mismatch"/);
    assert.equal(r.served, null);
  } finally {
    r.close();
    kv.close();
  }
});

Deno.test("Replica: an upstream that gives no answer is asked again after a backoff that doubles, not set aside", async () => {
  const lines: string[] = [];
  let now = 1_000_000;
  // A 503 without Retry-After, a 429 without one, an answer cut off by the timeout, then a 502 after a success.
  const answers: (() => Response)[] = [
    () => Response.json({ error: { code: "node_unavailable" } }, { status: 503 }),
    () => Response.json({ error: { code: "rate_limited" } }, { status: 429 }),
    () => {
      throw new DOMException("signal timed out", "TimeoutError");
    },
    () => Response.json({ chain: { id: testGenesis().chainIdHex } }),
    () => Response.json({ events: [], caughtUp: true }),
    () => new Response("Bad Gateway", { status: 502 }),
  ];
  const fetch = () => Promise.resolve().then(() => answers.shift()!());
  const { r, kv } = await replica(fetch as typeof globalThis.fetch, lines, ["http://n1.test"], () => now);
  try {
    const expect = async (code: string | null, waitMs: number | null) => {
      const report = await r.sync();
      assert.equal(report.error?.code ?? null, code);
      if (waitMs !== null) assert.equal(r.upstreams[0].retryAtMs, now + waitMs);
      // Asked again no sooner than that.
      if (waitMs !== null) assert.equal((await r.sync()).upstream, null);
      now += waitMs ?? 0;
    };
    await expect("edge_upstream_unavailable", 1_000);
    await expect("edge_upstream_rate_limited", 2_000);
    await expect("edge_upstream_unreachable", 4_000);
    await expect(null, null);
    // A success ends the run of failures: the backoff starts again from its first wait.
    await expect("edge_upstream_unavailable", 1_000);
    const log = lines.join("\n");
    assert.match(
      log,
      /"level":"warn".*"code":"edge_upstream_unavailable","message":"http:\/\/n1.test\/api\/v1\/status: 503 node_unavailable"/,
    );
    assert.doesNotMatch(log, /"level":"error"|refused an upstream/);
    assert.match(log, /got no answer from an upstream/);
  } finally {
    r.close();
    kv.close();
  }
});

Deno.test("Replica: the backoff for no answer never exceeds the time a refused upstream is set aside", async () => {
  const lines: string[] = [];
  const fetch = () => Promise.resolve(new Response("", { status: 500 }));
  const { r, kv } = await replica(fetch as typeof globalThis.fetch, lines, ["http://n1.test"], () => 1_000_000);
  try {
    for (let k = 0; k < 8; k++) {
      r.upstreams[0].retryAtMs = 0;
      await r.sync();
    }
    assert.equal(r.upstreams[0].lastError?.code, "edge_upstream_unavailable");
    assert.equal(r.upstreams[0].retryAtMs, 1_000_000 + 30_000);
  } finally {
    r.close();
    kv.close();
  }
});
