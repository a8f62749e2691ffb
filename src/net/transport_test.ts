import assert from "node:assert/strict";
import { Registry } from "../metrics/mod.ts";
import { bothConnected, startNode, testBackend, testValidators, text, waitFor } from "./_testing.ts";
import { PeerTransport, peerUrl } from "./transport.ts";

const [a, b, c] = await testValidators(3);
const genesis = [a, b, c];

Deno.test("PeerTransport: two nodes exchange messages both ways, in order", async () => {
  const na = await startNode(a, genesis);
  const nb = await startNode(b, genesis);
  const ups: string[] = [];
  const downs: string[] = [];
  na.transport.onPeerUp((p) => ups.push(`${p.peerId}:${p.role}`));
  nb.transport.onPeerDown((id, reason) => downs.push(`${id}:${reason}`));
  try {
    na.transport.connect(nb.address);
    await waitFor("session a<->b", bothConnected(na, nb));
    assert.deepEqual(ups, [`${b.id}:initiator`]);
    assert.equal(nb.transport.peers()[0].role, "responder");
    assert.equal(na.transport.peers()[0].sessionId, nb.transport.peers()[0].sessionId);
    for (let i = 0; i < 200; i++) assert.equal(na.transport.send(b.id, text(`a${i}`)), "queued");
    assert.equal(nb.transport.send(a.id, text("hello a")), "queued");
    await waitFor("200 messages at b", () => nb.received.length === 200);
    await waitFor("1 message at a", () => na.received.length === 1);
    assert.deepEqual(nb.received.map((m) => m.text), Array.from({ length: 200 }, (_, i) => `a${i}`));
    assert.ok(nb.received.every((m) => m.from === a.id));
    assert.deepEqual(na.received, [{ from: b.id, text: "hello a" }]);
    assert.ok(na.transport.metrics.frames.get({ direction: "out" }) >= 200);
    assert.ok(nb.transport.metrics.frames.get({ direction: "in" }) >= 200);
    assert.equal(na.transport.metrics.handshakes.get({ role: "initiator" }), 1);
    assert.equal(nb.transport.metrics.handshakes.get({ role: "responder" }), 1);
    assert.equal(na.transport.metrics.peers.get(), 1);
    assert.equal(na.transport.send(c.id, text("x")), "unknown_peer");
    assert.equal(na.transport.send(b.id, new Uint8Array((1 << 20) + 1)), "too_large");
  } finally {
    await na.transport.close();
    await waitFor("b sees a leave", () => downs.length === 1);
    await nb.transport.close();
  }
  assert.deepEqual(downs, [`${a.id}:remote_closed`]);
  assert.equal(na.transport.send(b.id, text("late")), "closed");
});

Deno.test("PeerTransport: broadcast reaches every peer of three", async () => {
  const [na, nb, nc] = await Promise.all([startNode(a, genesis), startNode(b, genesis), startNode(c, genesis)]);
  try {
    na.transport.connect(nb.address);
    na.transport.connect(nc.address);
    nb.transport.connect(nc.address);
    await waitFor("full mesh", () => [na, nb, nc].every((n) => n.transport.peers().length === 2));
    assert.equal(na.transport.broadcast(text("from a")), 2);
    assert.equal(nc.transport.broadcast(text("from c")), 2);
    await waitFor("broadcasts delivered", () =>
      [na, nb, nc].every((n) => n.received.length >= 1) &&
      nb.received.length === 2);
    assert.deepEqual(nb.received.map((m) => m.text).sort(), ["from a", "from c"]);
    assert.deepEqual(na.received.map((m) => m.text), ["from c"]);
    assert.deepEqual(nc.received.map((m) => m.text), ["from a"]);
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close(), nc.transport.close()]);
  }
});

Deno.test("PeerTransport: two nodes dialing each other keep exactly one session", async () => {
  const na = await startNode(a, genesis);
  const nb = await startNode(b, genesis);
  try {
    na.transport.connect(nb.address);
    nb.transport.connect(na.address);
    await waitFor("session", bothConnected(na, nb));
    // Let any duplicate settle, then both must agree on one session.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(na.transport.peers().length, 1);
    assert.equal(na.transport.peers()[0].sessionId, nb.transport.peers()[0].sessionId);
    assert.equal(na.transport.send(b.id, text("one")), "queued");
    await waitFor("message", () => nb.received.length === 1);
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close()]);
  }
});

Deno.test("PeerTransport: redials with backoff after the peer restarts on the same port", async () => {
  const na = await startNode(a, genesis);
  const nb = await startNode(b, genesis);
  let nb2: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    na.transport.connect(nb.address);
    await waitFor("first session", () => na.transport.isConnected(b.id));
    await nb.transport.close();
    await waitFor("a notices", () => !na.transport.isConnected(b.id));
    await new Promise((r) => setTimeout(r, 150)); // a few refused dials while b is down
    nb2 = await startNode(b, genesis, { port: nb.port });
    await waitFor("second session", () => na.transport.isConnected(b.id));
    assert.ok(na.transport.metrics.dialFailures.get() >= 1, "dials to the stopped node were counted");
    assert.equal(na.transport.metrics.disconnects.get({ reason: "remote_closed" }), 1);
    assert.equal(na.transport.send(b.id, text("again")), "queued");
    await waitFor("message after restart", () => nb2!.received.length === 1);
  } finally {
    await na.transport.close();
    await nb2?.transport.close();
  }
});

Deno.test("PeerTransport: refuses peers beyond peersMax", async () => {
  const nb = await startNode(b, genesis, { limits: { peersMax: 1 } });
  const na = await startNode(a, genesis, { listen: false });
  const nc = await startNode(c, genesis, { listen: false });
  try {
    na.transport.connect(nb.address);
    await waitFor("a connected", bothConnected(na, nb));
    nc.transport.connect(nb.address);
    await waitFor("c refused", () => nb.transport.metrics.handshakeFailures.get({ reason: "peer_limit" }) >= 1);
    assert.ok(!nb.transport.isConnected(c.id));
    assert.ok(nb.lines.some((l) => l.msg === "peer refused" && l.reason === "peer_limit" && l.peer === c.id));
    await waitFor("c told why", () => nc.transport.metrics.handshakeFailures.get({ reason: "remote_refused" }) >= 1);
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close(), nc.transport.close()]);
  }
});

Deno.test("PeerTransport: send() reports queue_full when the per-peer queue is at its bound", async () => {
  const na = await startNode(a, genesis, { limits: { sendQueueFramesMax: 8 } });
  const nb = await startNode(b, genesis);
  try {
    na.transport.connect(nb.address);
    await waitFor("session", bothConnected(na, nb));
    const results = Array.from({ length: 50 }, (_, i) => na.transport.send(b.id, text(`m${i}`)));
    assert.ok(results.includes("queue_full"));
    const queued = results.filter((r) => r === "queued").length;
    assert.ok(queued >= 8 && queued < 50, `queued ${queued}`);
    assert.equal(na.transport.metrics.sendDropped.get({ reason: "queue_full" }), 50 - queued);
    await waitFor("queued ones delivered", () => nb.received.length === queued);
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close()]);
  }
});

Deno.test("PeerTransport: idle sessions stay up on pings", async () => {
  const limits = { pingIntervalMs: 50, idleTimeoutMs: 200 };
  const na = await startNode(a, genesis, { limits });
  const nb = await startNode(b, genesis, { limits });
  try {
    na.transport.connect(nb.address);
    await waitFor("session", bothConnected(na, nb));
    await new Promise((r) => setTimeout(r, 600));
    assert.ok(na.transport.isConnected(b.id) && nb.transport.isConnected(a.id));
    assert.equal(nb.transport.metrics.disconnects.get({ reason: "idle_timeout" }), 0);
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close()]);
  }
});

Deno.test("PeerTransport: redial delays double up to the cap, with injected jitter", async () => {
  // A port with nothing behind it: listen, then close.
  const gone = await startNode(b, genesis);
  await gone.transport.close();
  for (const [jitter, expected] of [[0, [25, 50, 100, 200, 200]], [0.5, [38, 75, 150, 300, 300]]] as const) {
    const na = await startNode(a, genesis, { listen: false, jitter: () => jitter });
    try {
      na.transport.connect(gone.address);
      const delays = () => na.lines.filter((l) => l.msg === "peer redial scheduled").map((l) => l.delayMs);
      await waitFor("five redials", () => delays().length >= 5);
      assert.deepEqual(delays().slice(0, 5), expected);
      assert.ok(na.transport.metrics.dialFailures.get() >= 5);
    } finally {
      await na.transport.close();
    }
  }
});

Deno.test("PeerTransport: close() stops listening and dialing, and refuses new work", async () => {
  const na = await startNode(a, genesis);
  const nb = await startNode(b, genesis);
  na.transport.connect(nb.address);
  await waitFor("session", bothConnected(na, nb));
  await Promise.all([na.transport.close(), na.transport.close()]);
  assert.equal(na.transport.peers().length, 0);
  assert.throws(() => na.transport.connect(nb.address), /closed/);
  assert.throws(() => na.transport.listen({ port: 0 }), /closed/);
  await waitFor("b sees a leave", () => !nb.transport.isConnected(a.id));
  await nb.transport.close();
  // Deno's test sanitizers fail this test if a timer, socket or listener survived close().
});

Deno.test("PeerTransport: an address that turns out to be this node is dropped after one try", async () => {
  const na = await startNode(a, genesis);
  try {
    na.transport.connect(na.address);
    await waitFor(
      "self refused",
      () => na.lines.some((l) => l.msg === "peer address is this node; not dialing it again"),
    );
    assert.equal(na.transport.metrics.handshakeFailures.get({ reason: "self_connection" }), 2); // as dialer and as listener
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(na.lines.filter((l) => l.msg === "peer redial scheduled").length, 0);
  } finally {
    await na.transport.close();
  }
});

Deno.test("PeerTransport: metrics go to the Registry it is given", async () => {
  const registry = new Registry();
  const na = new PeerTransport({
    genesis: { chainId: new Uint8Array(32), validators: genesis.map((v) => v.publicKey) },
    backend: await testBackend(),
    signer: a.signer,
    registry,
  });
  na.metrics.handshakeFailures.inc({ reason: "wrong_genesis" });
  na.metrics.peers.set({}, 0);
  const text = registry.render();
  for (
    const name of [
      "qudag_p2p_handshakes_total",
      "qudag_p2p_handshake_failures_total",
      "qudag_p2p_disconnects_total",
      "qudag_p2p_dial_failures_total",
      "qudag_p2p_frames_total",
      "qudag_p2p_bytes_total",
      "qudag_p2p_send_dropped_total",
      "qudag_p2p_peers",
      "qudag_p2p_handshakes_in_flight",
      "qudag_p2p_peer_budget_exceeded_total",
    ]
  ) assert.ok(text.includes(`# TYPE ${name} `), name);
  assert.ok(text.includes('qudag_p2p_handshake_failures_total{reason="wrong_genesis"} 1'));
  await na.close();
});

Deno.test("PeerTransport: refuses a key outside its own genesis and invalid limits", async () => {
  const backend = await testBackend();
  const validators = [b, c].map((v) => v.publicKey);
  assert.throws(
    () => new PeerTransport({ genesis: { chainId: new Uint8Array(32), validators }, backend, signer: a.signer }),
    /is not one of the 2 genesis validators/,
  );
  const all = genesis.map((v) => v.publicKey);
  assert.throws(
    () =>
      new PeerTransport({
        genesis: { chainId: new Uint8Array(32), validators: all },
        backend,
        signer: a.signer,
        limits: { peersMax: 0 },
      }),
    /peersMax = 0 is invalid/,
  );
  assert.throws(
    () => new PeerTransport({ genesis: { chainId: new Uint8Array(31), validators: all }, backend, signer: a.signer }),
    /chain id is 31 bytes/,
  );
});

Deno.test("peerUrl() accepts host:port, [v6]:port and ws URLs", () => {
  assert.equal(peerUrl("10.0.0.1:4001"), "ws://10.0.0.1:4001/qudag/p2p/v1");
  assert.equal(peerUrl("[fdaa::3]:4001"), "ws://[fdaa::3]:4001/qudag/p2p/v1");
  assert.equal(peerUrl("node-1.internal:4001"), "ws://node-1.internal:4001/qudag/p2p/v1");
  assert.equal(peerUrl("ws://h:1"), "ws://h:1/qudag/p2p/v1");
  for (const bad of ["h", "h:0", "h:70000", "fdaa::3:4001", "", "wss://h:1"]) {
    assert.throws(() => peerUrl(bad), RangeError);
  }
});
