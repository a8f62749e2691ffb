import assert from "node:assert/strict";
import { signatureCheck, testGenesis } from "../src/node/_checkpoint_testing.ts";
import { Replica } from "./replica.ts";
import { EdgeStore } from "./store.ts";

async function replica(fetch: typeof globalThis.fetch, lines: string[]) {
  const kv = await Deno.openKv(":memory:");
  const genesis = testGenesis();
  const r = await Replica.open({
    genesis,
    ledgerGenesis: null,
    upstreams: ["http://n1.test", "http://n2.test"],
    store: new EdgeStore(kv, genesis.chainIdHex),
    verify: signatureCheck,
    fetch,
    nowMs: () => 1_000_000,
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
