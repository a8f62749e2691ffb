/**
 * What a hostile party on the peer port can try before it has authenticated,
 * and what the transport does about it: each test is one attack.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { NoDelayWebSocket, ServerWebSocket } from "./_ws.ts";
import { encodeFrame } from "./_ws_frame.ts";
import { readUpgradeRequest } from "./_ws_http.ts";
import { WS_PATH, WS_SUBPROTOCOL } from "./frame.ts";
import { DEFAULT_LIMITS, peerUrl } from "./transport.ts";
import {
  bothConnected,
  rawUpgrade,
  startNode,
  testValidators,
  waitFor,
  writeRepeated,
  WS_OP_PING,
} from "./_testing.ts";

const [a, b] = await testValidators(2);
const genesis = [a, b];

Deno.test("PeerTransport: a WebSocket ping flood before the handshake is refused as flood", async () => {
  const nb = await startNode(b, genesis);
  const client = await rawUpgrade(nb.port);
  try {
    const ping = encodeFrame(WS_OP_PING, new Uint8Array(125), true);
    await writeRepeated(client, ping, 100_000);
    await waitFor("flood refusal", () => nb.transport.metrics.handshakeFailures.get({ reason: "flood" }) === 1);
    assert.ok(nb.lines.some((l) => l.msg === "peer refused" && l.reason === "flood"));
  } finally {
    client.close();
    await nb.transport.close();
  }
});

/**
 * A peer address whose owner relays our own hello back to our listener, and
 * then closes our dial with "self_connection" as if we had dialed ourselves.
 */
function startSelfDialFaker(victimPort: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sockets: { close(): void }[] = [];
  let relayed = 0;
  const loop = (async () => {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      const upgrade = await readUpgradeRequest(conn);
      if ("status" in upgrade) {
        conn.close();
        continue;
      }
      const dialed = new ServerWebSocket(conn, upgrade.request, WS_SUBPROTOCOL, upgrade.rest, 1 << 20);
      sockets.push(dialed);
      dialed.onmessage = (event) => {
        const hello = new Uint8Array(event.data as ArrayBuffer);
        const relay = new NoDelayWebSocket(`ws://127.0.0.1:${victimPort}${WS_PATH}`, [WS_SUBPROTOCOL], {
          messageBytesMax: 1 << 20,
        });
        sockets.push(relay);
        relay.onopen = () => relay.send(hello);
        relay.onclose = (closed) => {
          if (closed.reason !== "self_connection") return;
          relayed++;
          dialed.close(4001, "self_connection");
        };
      };
    }
  })();
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    relayed: () => relayed,
    async close() {
      listener.close();
      await loop;
      for (const s of sockets) s.close();
    },
  };
}

Deno.test('PeerTransport: a dialed party cannot fake "you dialed yourself" to make this node forget its address', async () => {
  const na = await startNode(a, genesis);
  const faker = startSelfDialFaker(na.port);
  try {
    na.transport.connect(faker.address);
    await waitFor("the fake self-connection", () => faker.relayed() >= 1);
    await waitFor(
      "the dial's outcome",
      () =>
        na.transport.metrics.handshakeFailures.get({ reason: "remote_refused" }) >= 1 ||
        na.lines.some((l) => l.msg === "peer address is this node; not dialing it again"),
    );
    assert.deepEqual(na.transport.targets(), [peerUrl(faker.address)]);
    assert.ok(!na.lines.some((l) => l.msg === "peer address is this node; not dialing it again"));
  } finally {
    await na.transport.close();
    await faker.close();
  }
});

/** A TCP connection from `localAddress` (127.0.0.x: Linux routes all of 127/8 to lo) that sends nothing. */
function holdSlot(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress }, () => resolve(socket));
    socket.on("error", reject);
  });
}

Deno.test("PeerTransport: four addresses holding every open handshake slot do not keep a known validator out", async () => {
  // Strangers' connections stay in their handshake for the whole test.
  const limits = { handshakeTimeoutMs: 30_000 };
  const nb = await startNode(b, genesis, { limits });
  const held: net.Socket[] = [];
  let na: Awaited<ReturnType<typeof startNode>> | undefined;
  try {
    // a has been a peer of b from 127.0.0.1 before.
    const before = await startNode(a, genesis, { listen: false });
    before.transport.connect(nb.address);
    await waitFor("first session", () => nb.transport.isConnected(a.id));
    await before.transport.close();
    await waitFor("a gone", () => !nb.transport.isConnected(a.id));

    const { handshakesInFlightMax, handshakesInFlightPerAddressMax } = DEFAULT_LIMITS;
    const addresses = handshakesInFlightMax / handshakesInFlightPerAddressMax;
    assert.equal(addresses, 4);
    for (let i = 0; i < addresses; i++) {
      for (let j = 0; j < handshakesInFlightPerAddressMax; j++) held.push(await holdSlot(nb.port, `127.0.0.${2 + i}`));
    }
    // The next stranger is refused: every open slot is taken.
    held.push(await holdSlot(nb.port, "127.0.0.6"));
    await waitFor("slots full", () => nb.transport.metrics.handshakeFailures.get({ reason: "handshake_limit" }) === 1);

    na = await startNode(a, genesis, { listen: false });
    na.transport.connect(nb.address);
    await waitFor("a gets in", bothConnected(na, nb));
    assert.equal(nb.transport.metrics.handshakesInFlight.get({ pool: "open" }), handshakesInFlightMax);
    assert.equal(nb.transport.metrics.handshakeFailures.get({ reason: "timeout" }), 0, "the strangers still hold");
  } finally {
    for (const socket of held) socket.destroy();
    await na?.transport.close();
    await nb.transport.close();
  }
});

Deno.test("PeerTransport: the handshake time counts from the accept; a slow upgrade gets no second period", async () => {
  let skewMs = 0;
  const handshakeTimeoutMs = 30_000;
  const nb = await startNode(b, genesis, { limits: { handshakeTimeoutMs }, now: () => performance.now() + skewMs });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: nb.port });
  try {
    const head = new TextEncoder().encode(
      `GET ${WS_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${"A".repeat(22)}==\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Protocol: ${WS_SUBPROTOCOL}\r\n\r\n`,
    );
    await conn.write(head.subarray(0, 20));
    await new Promise((r) => setTimeout(r, 200)); // the listener accepts meanwhile
    skewMs = handshakeTimeoutMs - 100; // the upgrade request comes in near the end of the handshake time
    await conn.write(head.subarray(20));
    await waitFor("timeout", () => nb.transport.metrics.handshakeFailures.get({ reason: "timeout" }) === 1);
  } finally {
    conn.close();
    await nb.transport.close();
  }
});
