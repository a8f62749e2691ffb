import assert from "node:assert/strict";
import { Discovery, flyPeerName, joinHostPort } from "./discovery.ts";
import { silentLogger } from "../log/mod.ts";

function recorder() {
  const calls: string[] = [];
  return {
    calls,
    transport: { connect: (a: string) => calls.push(`+${a}`), forget: (a: string) => calls.push(`-${a}`) },
  };
}

Deno.test("joinHostPort() brackets IPv6 literals", () => {
  assert.equal(joinHostPort("fdaa:0:1::2", 4001), "[fdaa:0:1::2]:4001");
  assert.equal(joinHostPort("127.0.0.1", 4001), "127.0.0.1:4001");
  assert.equal(flyPeerName("qudag"), "qudag.internal");
  assert.equal(flyPeerName("qudag", 2), "top2.nearest.of.qudag.internal");
});

Deno.test("Discovery.start() dials the --peer list and the bootstrap node once, without DNS off Fly", () => {
  const r = recorder();
  const d = new Discovery({
    staticPeers: ["10.0.0.2:4001", "10.0.0.1:4001"],
    bootstrap: "10.0.0.9:4001",
    flyApp: null,
    selfAddresses: [],
    peerPort: 4001,
    resolve: () => Promise.reject(new Error("no DNS expected")),
    transport: r.transport,
    logger: silentLogger,
    intervalMs: 1000,
  });
  d.start();
  d.stop();
  assert.deepEqual(r.calls, ["+10.0.0.1:4001", "+10.0.0.2:4001", "+10.0.0.9:4001"]);
});

Deno.test("Discovery.refresh() dials new Fly machines, forgets gone ones, skips itself, and survives a failed lookup", async () => {
  const r = recorder();
  let answer: string[] | Error = ["fdaa::1", "fdaa::2", "fdaa::3"];
  const d = new Discovery({
    staticPeers: [],
    bootstrap: null,
    flyApp: "qudag",
    selfAddresses: ["fdaa::1"],
    peerPort: 4001,
    resolve: (name) => {
      assert.equal(name, "qudag.internal");
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    transport: r.transport,
    logger: silentLogger,
    intervalMs: 3_600_000,
  });
  await d.refresh();
  assert.deepEqual(r.calls, ["+[fdaa::2]:4001", "+[fdaa::3]:4001"]);
  answer = ["fdaa::1", "fdaa::3", "fdaa::4"];
  await d.refresh();
  assert.deepEqual(r.calls.slice(2), ["+[fdaa::4]:4001", "-[fdaa::2]:4001"]);
  answer = new Error("SERVFAIL");
  await d.refresh();
  assert.equal(r.calls.length, 4, "a failed lookup must not forget anyone");
  assert.deepEqual(d.discovered(), ["[fdaa::3]:4001", "[fdaa::4]:4001"]);
});
