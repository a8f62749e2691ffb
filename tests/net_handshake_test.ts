/**
 * The peer transport's refusals over real sockets on 127.0.0.1: each bad peer is
 * refused or disconnected with its reason in the log and in the metrics, and the
 * node keeps serving the others. A relay between two nodes captures and alters
 * frames to play the attacker on the wire.
 */

import assert from "node:assert/strict";
import {
  bothConnected,
  CHAIN_B,
  logged,
  startNode,
  type TestNode,
  testValidators,
  text,
  waitFor,
} from "../src/net/_testing.ts";
import { FRAME_DATA, HELLO_BYTES, WS_SUBPROTOCOL } from "../src/net/frame.ts";
import { peerUrl } from "../src/net/transport.ts";

const [a, b, c, outsider] = await testValidators(4);
const genesis = [a, b, c];

/** Waits until `node` has refused someone for `reason`: metric and log line both. */
async function expectRefused(node: TestNode, reason: string): Promise<void> {
  await waitFor(
    `${reason} refusal`,
    () =>
      node.transport.metrics.handshakeFailures.get({ reason }) >= 1 &&
      logged(node.lines, "peer refused", reason).length >= 1,
  );
}

async function expectDisconnected(node: TestNode, reason: string, peerId: string): Promise<void> {
  await waitFor(
    `${reason} disconnect`,
    () =>
      node.transport.metrics.disconnects.get({ reason }) >= 1 &&
      logged(node.lines, "peer disconnected", reason).some((l) => l.peer === peerId),
  );
}

interface RawClient {
  readonly ws: WebSocket;
  readonly received: Uint8Array[];
  readonly closed: Promise<CloseEvent>;
}

/** A bare WebSocket speaking the subprotocol, for frames no honest node would send. */
async function rawClient(address: string): Promise<RawClient> {
  const ws = new WebSocket(peerUrl(address), [WS_SUBPROTOCOL]);
  ws.binaryType = "arraybuffer";
  const received: Uint8Array[] = [];
  ws.onmessage = (e) => received.push(new Uint8Array(e.data as ArrayBuffer));
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("raw client could not connect"));
  });
  return { ws, received, closed };
}

type Mutator = (frame: Uint8Array, index: number) => Uint8Array;

interface Relay {
  readonly address: string;
  /** Every frame the dialer sent, in order, across connections. */
  readonly fromDialer: Uint8Array[];
  mutate: Mutator | undefined;
  /** Drop everything the upstream sends (a peer gone silent). */
  blackhole: boolean;
  close(): Promise<void>;
}

/** A man in the middle: accepts the dialer, dials `upstream`, forwards both ways (altering with `mutate`). */
function startRelay(upstream: string): Relay {
  const sockets = new Set<WebSocket>();
  const closed: Promise<unknown>[] = [];
  const track = (ws: WebSocket) => {
    sockets.add(ws);
    closed.push(new Promise((resolve) => ws.addEventListener("close", resolve)));
  };
  const passClose = (to: WebSocket, e: CloseEvent) => {
    if (to.readyState > WebSocket.OPEN) return;
    if (e.code === 1000 || (e.code >= 3000 && e.code < 5000)) to.close(e.code, e.reason);
    else to.close();
  };
  const relay: Relay = {
    address: "",
    fromDialer: [],
    mutate: undefined,
    blackhole: false,
    async close() {
      for (const ws of sockets) if (ws.readyState <= WebSocket.OPEN) ws.close();
      await Promise.all(closed);
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket: down, response } = Deno.upgradeWebSocket(req, { protocol: WS_SUBPROTOCOL, idleTimeout: 0 });
    const up = new WebSocket(peerUrl(upstream), [WS_SUBPROTOCOL]);
    track(down);
    track(up);
    down.binaryType = "arraybuffer";
    up.binaryType = "arraybuffer";
    const pending: Uint8Array<ArrayBuffer>[] = [];
    up.onopen = () => pending.splice(0).forEach((f) => up.send(f));
    down.onmessage = (e) => {
      const frame = new Uint8Array(e.data as ArrayBuffer);
      const index = relay.fromDialer.push(frame) - 1;
      const out = new Uint8Array(relay.mutate ? relay.mutate(frame, index) : frame);
      if (up.readyState === WebSocket.OPEN) up.send(out);
      else pending.push(out);
    };
    up.onmessage = (e) => {
      if (down.readyState === WebSocket.OPEN && !relay.blackhole) down.send(e.data as ArrayBuffer);
    };
    down.onclose = (e) => passClose(up, e);
    up.onclose = (e) => passClose(down, e);
    return response;
  });
  (relay as { address: string }).address = `127.0.0.1:${server.addr.port}`;
  return relay;
}

/** Alters the first data frame the dialer sends from now on, once. */
function onceOnData(relay: Relay, change: (frame: Uint8Array) => Uint8Array): void {
  let done = false;
  relay.mutate = (frame) => {
    if (done || frame[0] !== FRAME_DATA) return frame;
    done = true;
    return change(frame);
  };
}

Deno.test("nodes of different genesis never connect: wrong_genesis both ways", async () => {
  const nb = await startNode(b, genesis);
  const other = await startNode(a, genesis, { chainId: CHAIN_B });
  try {
    other.transport.connect(nb.address);
    nb.transport.connect(other.address);
    await expectRefused(nb, "wrong_genesis");
    await expectRefused(other, "wrong_genesis");
    const line = logged(nb.lines, "peer refused", "wrong_genesis")[0];
    assert.match(String(line.detail), /chain id .* is not ours/);
    await waitFor(
      "the dialers hear why",
      () =>
        other.transport.metrics.handshakeFailures.get({ reason: "remote_refused" }) >= 1 &&
        nb.transport.metrics.handshakeFailures.get({ reason: "remote_refused" }) >= 1,
    );
    assert.ok(!nb.transport.isConnected(a.id) && !other.transport.isConnected(b.id));
    assert.equal(nb.transport.metrics.handshakes.get({ role: "responder" }), 0);
    assert.equal(nb.transport.metrics.handshakes.get({ role: "initiator" }), 0);
  } finally {
    await Promise.all([nb.transport.close(), other.transport.close()]);
  }
});

Deno.test("a validator key outside the genesis set is refused: unknown_validator", async () => {
  const nb = await startNode(b, genesis);
  // The outsider believes it is a validator (its own genesis lists it), but b's genesis does not.
  const no = await startNode(outsider, [outsider, b], { listen: false });
  try {
    no.transport.connect(nb.address);
    await expectRefused(nb, "unknown_validator");
    const line = logged(nb.lines, "peer refused", "unknown_validator")[0];
    assert.equal(line.peer, outsider.id, "the log names the key that tried");
    assert.match(String(line.detail), /is not a genesis validator/);
    assert.ok(!no.transport.isConnected(b.id));
  } finally {
    await Promise.all([nb.transport.close(), no.transport.close()]);
  }
});

Deno.test("PEER_AUTH_TOKEN: wrong, missing or unexpected tokens are refused: bad_token", async () => {
  for (const [dialer, listener] of [["wrong", "right"], [null, "right"], ["right", null]]) {
    const nb = await startNode(b, genesis, { token: listener });
    const na = await startNode(a, genesis, { token: dialer, listen: false });
    try {
      na.transport.connect(nb.address);
      await expectRefused(nb, "bad_token");
      await waitFor("dialer told", () => na.transport.metrics.handshakeFailures.get({ reason: "remote_refused" }) >= 1);
      assert.ok(!nb.transport.isConnected(a.id));
      // The token never appears in a log line.
      for (const line of [...nb.lines, ...na.lines]) assert.ok(!JSON.stringify(line).includes("right"));
    } finally {
      await Promise.all([nb.transport.close(), na.transport.close()]);
    }
  }
  const nb = await startNode(b, genesis, { token: "right" });
  const na = await startNode(a, genesis, { token: "right", listen: false });
  try {
    na.transport.connect(nb.address);
    await waitFor("same token connects", bothConnected(na, nb));
  } finally {
    await Promise.all([nb.transport.close(), na.transport.close()]);
  }
});

Deno.test("a captured handshake replayed from a raw socket is refused: replayed_hello, bad_signature", async () => {
  const nb = await startNode(b, genesis);
  const na = await startNode(a, genesis, { listen: false });
  const relay = startRelay(nb.address);
  try {
    na.transport.connect(relay.address);
    await waitFor("session through the relay", bothConnected(na, nb));
    const [hello, finish] = relay.fromDialer;
    assert.equal(hello.length, HELLO_BYTES);

    const replay = await rawClient(nb.address);
    replay.ws.send(hello);
    await expectRefused(nb, "replayed_hello");
    assert.equal((await replay.closed).code, 4001);

    // Same hello with a fresh nonce gets a reply, but the captured finish signs the old transcript.
    const fresh = hello.slice();
    fresh[HELLO_BYTES - 1] ^= 0xff;
    const replay2 = await rawClient(nb.address);
    replay2.ws.send(fresh);
    await waitFor("reply", () => replay2.received.length === 1);
    replay2.ws.send(finish);
    await expectRefused(nb, "bad_signature");
    assert.equal((await replay2.closed).reason, "bad_signature");
    assert.ok(nb.transport.isConnected(a.id), "the real session is untouched");
  } finally {
    await na.transport.close();
    await relay.close();
    await nb.transport.close();
  }
});

Deno.test("a tampered encrypted frame disconnects the session: tampered", async () => {
  const nb = await startNode(b, genesis);
  const na = await startNode(a, genesis, { listen: false });
  const relay = startRelay(nb.address);
  try {
    na.transport.connect(relay.address);
    await waitFor("session", bothConnected(na, nb));
    onceOnData(relay, (frame) => {
      const bad = frame.slice();
      bad[bad.length - 20] ^= 0x04; // one bit of ciphertext
      return bad;
    });
    na.transport.send(b.id, text("will be tampered"));
    await expectDisconnected(nb, "tampered", a.id);
    assert.equal(nb.received.length, 0);
    // The dialer comes back by itself (the relay no longer tampers) and the channel works again.
    await waitFor("reconnected", bothConnected(na, nb));
    na.transport.send(b.id, text("clean"));
    await waitFor("delivered", () => nb.received.length === 1);
    assert.equal(nb.received[0].text, "clean");
  } finally {
    await na.transport.close();
    await relay.close();
    await nb.transport.close();
  }
});

Deno.test("a replayed encrypted frame disconnects the session: counter", async () => {
  const nb = await startNode(b, genesis);
  const na = await startNode(a, genesis, { listen: false });
  const relay = startRelay(nb.address);
  try {
    na.transport.connect(relay.address);
    await waitFor("session", bothConnected(na, nb));
    na.transport.send(b.id, text("first"));
    await waitFor("first", () => nb.received.length === 1);
    const first = relay.fromDialer.findLast((f) => f[0] === FRAME_DATA) as Uint8Array;
    onceOnData(relay, () => first); // the next frame is swapped for a replay of the previous one
    na.transport.send(b.id, text("second"));
    await expectDisconnected(nb, "counter", a.id);
    assert.deepEqual(nb.received.map((m) => m.text), ["first"]);
  } finally {
    await na.transport.close();
    await relay.close();
    await nb.transport.close();
  }
});

Deno.test("malformed frames are refused before and after the handshake: malformed", async () => {
  const nb = await startNode(b, genesis);
  const na = await startNode(a, genesis, { listen: false });
  const relay = startRelay(nb.address);
  try {
    const garbage = await rawClient(nb.address);
    garbage.ws.send(new Uint8Array([1, 2, 3, 4, 5]));
    await expectRefused(nb, "malformed");
    assert.equal((await garbage.closed).reason, "malformed");
    const textFrame = await rawClient(nb.address);
    textFrame.ws.send("hello?");
    await textFrame.closed;
    assert.equal(nb.transport.metrics.handshakeFailures.get({ reason: "malformed" }), 2);

    na.transport.connect(relay.address);
    await waitFor("session", bothConnected(na, nb));
    onceOnData(relay, () => new Uint8Array([FRAME_DATA, 0, 0]));
    na.transport.send(b.id, text("x"));
    await expectDisconnected(nb, "malformed", a.id);
  } finally {
    await na.transport.close();
    await relay.close();
    await nb.transport.close();
  }
});

Deno.test("oversized frames are refused before and after the handshake: oversized", async () => {
  const nb = await startNode(b, genesis, { limits: { messageBytesMax: 1024 } });
  const na = await startNode(a, genesis, { listen: false });
  try {
    const big = await rawClient(nb.address);
    big.ws.send(new Uint8Array(1 << 20));
    await expectRefused(nb, "oversized");
    assert.equal((await big.closed).reason, "oversized");

    na.transport.connect(nb.address);
    await waitFor("session", bothConnected(na, nb));
    assert.equal(na.transport.send(b.id, new Uint8Array(4096)), "queued"); // a allows it; b does not
    await expectDisconnected(nb, "oversized", a.id);
  } finally {
    await Promise.all([na.transport.close(), nb.transport.close()]);
  }
});

Deno.test("a peer that never finishes its handshake is dropped: timeout", async () => {
  const nb = await startNode(b, genesis, { limits: { handshakeTimeoutMs: 200 } });
  try {
    const silent = await rawClient(nb.address);
    await expectRefused(nb, "timeout");
    assert.equal((await silent.closed).code, 4001);
    // A bare TCP connection that never even sends its upgrade request is cut off too.
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port: nb.port });
    await waitFor("second timeout", () => nb.transport.metrics.handshakeFailures.get({ reason: "timeout" }) === 2);
    const n = await tcp.read(new Uint8Array(256)).catch(() => null);
    assert.equal(n, null, "the listener hung up");
    tcp.close();
  } finally {
    await nb.transport.close();
  }
});

Deno.test("a flooding peer is disconnected while a well-behaved peer keeps working: flood", async () => {
  const nb = await startNode(b, genesis, { limits: { floodFramesPerSecond: 200, floodFramesBurst: 100 } });
  const good = await startNode(a, genesis, { listen: false });
  const flooder = await startNode(c, genesis, { listen: false });
  try {
    good.transport.connect(nb.address);
    flooder.transport.connect(nb.address);
    await waitFor("both connected", () => bothConnected(good, nb)() && bothConnected(flooder, nb)());
    for (let i = 0; i < 1000; i++) flooder.transport.send(b.id, text(`flood ${i}`));
    for (let i = 0; i < 20; i++) {
      assert.equal(good.transport.send(b.id, text(`good ${i}`)), "queued");
      await new Promise((r) => setTimeout(r, 20));
    }
    await expectDisconnected(nb, "flood", c.id);
    await waitFor("good messages", () => nb.received.filter((m) => m.from === a.id).length === 20);
    assert.ok(nb.transport.isConnected(a.id), "the well-behaved peer stays connected");
    assert.equal(nb.transport.metrics.disconnects.get({ reason: "flood" }), 1);
    assert.ok(nb.received.filter((m) => m.from === c.id).length <= 100, "at most the burst got through");
  } finally {
    await Promise.all([good.transport.close(), flooder.transport.close(), nb.transport.close()]);
  }
});

Deno.test("a peer that goes silent is dropped: idle_timeout", async () => {
  const nb = await startNode(b, genesis);
  const na = await startNode(a, genesis, { listen: false, limits: { pingIntervalMs: 50, idleTimeoutMs: 300 } });
  const relay = startRelay(nb.address);
  try {
    na.transport.connect(relay.address);
    await waitFor("session", bothConnected(na, nb));
    relay.blackhole = true;
    await waitFor("idle disconnect", () => na.transport.metrics.disconnects.get({ reason: "idle_timeout" }) >= 1);
    assert.ok(na.lines.some((l) => l.msg === "peer disconnected" && l.reason === "idle_timeout" && l.peer === b.id));
  } finally {
    await na.transport.close();
    await relay.close();
    await nb.transport.close();
  }
});

Deno.test("handshakes in flight from one address are bounded: handshake_limit", async () => {
  const nb = await startNode(b, genesis, { limits: { handshakesInFlightPerAddressMax: 2 } });
  const held = [await rawClient(nb.address), await rawClient(nb.address)];
  const third = new WebSocket(peerUrl(nb.address), [WS_SUBPROTOCOL]);
  const thirdClosed = new Promise<CloseEvent>((resolve) => third.onclose = resolve);
  let opened = false;
  third.onopen = () => opened = true;
  try {
    await thirdClosed;
    assert.ok(!opened, "the third upgrade is refused with HTTP 503");
    await expectRefused(nb, "handshake_limit");
    // Once those two are gone, the address may handshake again.
    for (const h of held) h.ws.close();
    await Promise.all(held.map((h) => h.closed));
    await waitFor(
      "slots freed",
      () => nb.transport.metrics.handshakeFailures.get({ reason: "connection_closed" }) === 2,
    );
    const na = await startNode(a, genesis, { listen: false });
    na.transport.connect(nb.address);
    await waitFor("session", bothConnected(na, nb));
    await na.transport.close();
  } finally {
    await nb.transport.close();
  }
});
