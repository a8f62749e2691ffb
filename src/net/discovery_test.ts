import assert from "node:assert/strict";
import { Discovery, flyPeerName, joinHostPort, parsePeerAddress } from "./discovery.ts";
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

Deno.test("parsePeerAddress() tells IP literals from names", () => {
  assert.deepEqual(parsePeerAddress("10.0.0.2:4001"), { host: "10.0.0.2", port: 4001, name: null });
  assert.deepEqual(parsePeerAddress("[fdaa:0:1::2]:4001"), { host: "fdaa:0:1::2", port: 4001, name: null });
  assert.deepEqual(parsePeerAddress("qudag-node2.internal:4001"), {
    host: "qudag-node2.internal",
    port: 4001,
    name: "qudag-node2.internal",
  });
  assert.throws(() => parsePeerAddress("qudag-node2.internal"), /expected host:port/);
  assert.throws(() => parsePeerAddress("host:0"), /expected host:port/);
});

Deno.test("Discovery resolves every --peer name each refresh (QUDAG_PEERS across Fly apps), skipping itself", async () => {
  const r = recorder();
  const table: Record<string, string[] | Error> = {
    "qudag-node1.internal": ["fdaa:0:1::2"],
    "qudag-node2.internal": ["fdaa:0:2::2"],
    "qudag-node3.internal": [],
  };
  const asked: string[] = [];
  const d = new Discovery({
    staticPeers: [
      "qudag-node1.internal:4001",
      "qudag-node2.internal:4001",
      "qudag-node3.internal:4001",
      "10.0.0.7:4001",
    ],
    bootstrap: null,
    flyApp: null,
    selfAddresses: ["fdaa:0:1::2"],
    peerPort: 4001,
    resolve: (name) => {
      asked.push(name);
      const a = table[name];
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a ?? []);
    },
    transport: r.transport,
    logger: silentLogger,
    intervalMs: 3_600_000,
  });
  assert.deepEqual(d.names(), ["qudag-node1.internal:4001", "qudag-node2.internal:4001", "qudag-node3.internal:4001"]);
  await d.refresh();
  // node1 is this machine; node3 has no record yet, so it is dialed by name.
  assert.deepEqual(r.calls, ["+[fdaa:0:2::2]:4001", "+qudag-node3.internal:4001"]);
  // node3 comes up, node2 moves to a new machine; a failed lookup for node1 changes nothing.
  table["qudag-node3.internal"] = ["fdaa:0:3::2"];
  table["qudag-node2.internal"] = ["fdaa:0:2::9"];
  table["qudag-node1.internal"] = new Error("SERVFAIL");
  await d.refresh();
  assert.deepEqual(r.calls.slice(2), [
    "+[fdaa:0:2::9]:4001",
    "+[fdaa:0:3::2]:4001",
    "-[fdaa:0:2::2]:4001",
    "-qudag-node3.internal:4001",
  ]);
  // A name whose records vanish (its machine stopped) keeps being dialed at its last address.
  table["qudag-node3.internal"] = [];
  await d.refresh();
  assert.equal(r.calls.length, 6);
  assert.deepEqual(d.discovered(), ["[fdaa:0:2::9]:4001", "[fdaa:0:3::2]:4001"]);
  assert.equal(asked.filter((n) => n === "qudag-node2.internal").length, 3, "resolved on every refresh");
});

Deno.test("Discovery.start() dials IP literals at once and starts resolving only when a peer is a name", () => {
  const r = recorder();
  const d = new Discovery({
    staticPeers: ["[fdaa::5]:4001"],
    bootstrap: null,
    flyApp: null,
    selfAddresses: [],
    peerPort: 4001,
    resolve: () => Promise.reject(new Error("no DNS expected")),
    transport: r.transport,
    logger: silentLogger,
    intervalMs: 1000,
  });
  assert.deepEqual(d.names(), []);
  d.start();
  d.stop();
  assert.deepEqual(r.calls, ["+[fdaa::5]:4001"]);
});
